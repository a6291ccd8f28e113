package dev.rectifier.spark

import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions._
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, Project, UnaryNode}
import org.apache.spark.sql.catalyst.plans.physical.Partitioning
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.execution.{SparkPlan, SparkStrategy, UnaryExecNode}
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics}

import scala.collection.mutable.ArrayBuffer

/** The rectifier calls of a projection, computed over its child's rows: the child's columns and one
  * column per call ({@code results}), which the projection above reads.
  */
private[spark] final case class RectifierEval(
    calls: Seq[RectifierCall],
    results: Seq[Attribute],
    child: LogicalPlan
) extends UnaryNode {
  override def output: Seq[Attribute] = child.output ++ results
  override def producedAttributes: AttributeSet = AttributeSet(results)
  override protected def withNewChildInternal(newChild: LogicalPlan): RectifierEval =
    copy(child = newChild)
}

/** Moves the rectifier calls of each projection into a RectifierEval below it, innermost first (a
  * call whose input is another call's result waits for the next pass of the fixed point), as Spark
  * does for Python UDFs, so that a partition's rows are computed in large parts rather than one
  * engine call a row.
  */
private[spark] object ExtractRectifierCalls extends Rule[LogicalPlan] {
  private def innermost(e: Expression): Seq[RectifierCall] = e match {
    case c: RectifierCall if c.children.forall(_.find(_.isInstanceOf[RectifierCall]).isEmpty) =>
      Seq(c)
    case other => other.children.flatMap(innermost)
  }

  override def apply(plan: LogicalPlan): LogicalPlan = plan.transformUp {
    case p @ Project(list, child) if list.exists(_.find(_.isInstanceOf[RectifierCall]).isDefined) =>
      val calls = ArrayBuffer.empty[RectifierCall]
      list.flatMap(innermost).foreach { c =>
        if (!calls.exists(_.semanticEquals(c))) calls += c
      }
      val results = calls.zipWithIndex.map { case (c, i) =>
        AttributeReference(s"rectifier_result_$i", c.dataType, nullable = true)()
      }
      val byCall = calls.zip(results).toSeq
      val rewritten = list.map { e =>
        e.transformUp {
          case c: RectifierCall if byCall.exists(_._1.semanticEquals(c)) =>
            byCall.find(_._1.semanticEquals(c)).get._2
        }.asInstanceOf[NamedExpression]
      }
      p.copy(projectList = rewritten, child = RectifierEval(calls.toSeq, results.toSeq, child))
  }
}

/** Plans a RectifierEval as its operator. */
private[spark] object RectifierStrategy extends SparkStrategy {
  override def apply(plan: LogicalPlan): Seq[SparkPlan] = plan match {
    case RectifierEval(calls, results, child) =>
      RectifierEvalExec(calls, results, planLater(child)) :: Nil
    case _ => Nil
  }
}

/** The operator of a RectifierEval: each partition's rows are read in parts of about
  * {@link RectifierEvalExec#PartElements} elements (the rows copied, their inputs made Java
  * arrays), every call computed over the part in one engine call (channel functions: one per run of
  * rows of one length), and the rows given out with the results after their columns.
  */
private[spark] final case class RectifierEvalExec(
    calls: Seq[RectifierCall],
    results: Seq[Attribute],
    child: SparkPlan
) extends UnaryExecNode {

  override def output: Seq[Attribute] = child.output ++ results
  override def producedAttributes: AttributeSet = AttributeSet(results)

  // rows stay in their partition and their order, so a shuffle or sort below still holds above
  override def outputPartitioning: Partitioning = child.outputPartitioning
  override def outputOrdering: Seq[SortOrder] = child.outputOrdering

  override lazy val metrics: Map[String, SQLMetric] = Map(
    "numOutputRows" -> SQLMetrics.createMetric(sparkContext, "number of output rows"),
    "engineCalls" -> SQLMetrics.createMetric(sparkContext, "rectifier parts computed"),
    "engineTime" -> SQLMetrics.createNanoTimingMetric(sparkContext, "rectifier compute time")
  )

  override protected def withNewChildInternal(newChild: SparkPlan): RectifierEvalExec =
    copy(child = newChild)

  override protected def doExecute(): RDD[InternalRow] = {
    val inputSchema = child.output
    val boundCalls = calls.map(c => BindReferences.bindReference(c: Expression, inputSchema))
    val outputSchema = output
    val resultCount = results.length
    val rowsOut = longMetric("numOutputRows")
    val parts = longMetric("engineCalls")
    val time = longMetric("engineTime")
    child.execute().mapPartitions { rows =>
      val bound = boundCalls.map(_.asInstanceOf[RectifierCall])
      val toOutput = UnsafeProjection.create(outputSchema, outputSchema)
      val joined = new JoinedRow()
      new Iterator[InternalRow] {
        private var part: IndexedSeq[InternalRow] = IndexedSeq.empty
        private var partResults: IndexedSeq[IndexedSeq[Any]] = IndexedSeq.empty
        private var at = 0

        override def hasNext: Boolean = at < part.length || (rows.hasNext && fill())

        /** Reads the next part of the partition and computes its calls. */
        private def fill(): Boolean = {
          val buffered = ArrayBuffer.empty[InternalRow]
          val inputs = bound.map(_ => ArrayBuffer.empty[Array[Any]])
          var elements = 0L
          while (
            rows.hasNext && elements < RectifierEvalExec.PartElements &&
            buffered.length < RectifierEvalExec.PartRows
          ) {
            val row = rows.next().copy()
            buffered += row
            bound.indices.foreach { k =>
              val values = bound(k).children.map(_.eval(row)).toArray[Any]
              inputs(k) += values
              elements += RectifierEvalExec.sizeOf(values(0))
            }
          }
          val start = System.nanoTime()
          partResults = bound.indices.map(k => bound(k).computeRows(inputs(k).toIndexedSeq))
          time += System.nanoTime() - start
          parts += 1
          part = buffered.toIndexedSeq
          at = 0
          part.nonEmpty
        }

        override def next(): InternalRow = {
          if (!hasNext) throw new NoSuchElementException("no more rows")
          val values = new Array[Any](resultCount)
          var k = 0
          while (k < resultCount) { values(k) = partResults(k)(at); k += 1 }
          val row = part(at)
          at += 1
          rowsOut += 1
          toOutput(joined(row, new GenericInternalRow(values)))
        }
      }
    }
  }
}

private[spark] object RectifierEvalExec {

  /** Elements in a part: enough that an engine call's fixed cost (a kernel launch) is noise. */
  val PartElements: Long = 1L << 21

  /** Rows in a part, for rows so short that the element bound would hold too many. */
  val PartRows: Int = 1 << 16

  private def sizeOf(value: Any): Long = value match {
    case null                                            => 0
    case a: org.apache.spark.sql.catalyst.util.ArrayData => a.numElements()
    case b: Array[Byte]                                  => b.length / 4
    case _                                               => 1
  }
}
