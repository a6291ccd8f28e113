package dev.rectifier.spark

import org.apache.spark.network.util.JavaUtils
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions._
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, Project, Subquery, UnaryNode}
import org.apache.spark.sql.catalyst.plans.physical.{Partitioning, UnknownPartitioning}
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.execution.{SparkPlan, SparkStrategy, UnaryExecNode}
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics}
import org.apache.spark.sql.internal.SQLConf

import scala.collection.mutable.ArrayBuffer

/** The rectifier calls of a projection, computed over its child's rows: the child's columns that
  * the projection above reads ({@code passThrough}) and one column per call ({@code results}).
  */
private[spark] final case class RectifierEval(
    calls: Seq[RectifierCall],
    results: Seq[Attribute],
    passThrough: Seq[Attribute],
    child: LogicalPlan
) extends UnaryNode {
  override def output: Seq[Attribute] = passThrough ++ results
  override def producedAttributes: AttributeSet = AttributeSet(results)
  override protected def withNewChildInternal(newChild: LogicalPlan): RectifierEval =
    copy(child = newChild)
}

/** Moves the rectifier calls of each projection into a RectifierEval below it, innermost first (a
  * call whose input is another call's result waits for the next pass of the fixed point), as Spark
  * does for Python UDFs, so that a partition's rows are computed in large parts rather than one
  * engine call a row.
  *
  * Only calls that the projection computes for every row, exactly once, move: a call inside a
  * lambda ({@code transform}, {@code aggregate}, {@code exists}...) reads the lambda's variables
  * and runs once per element, and a call in a branch of a conditional ({@code CASE WHEN},
  * {@code IF}, {@code coalesce}, the right side of {@code AND}/{@code OR}) runs only for the rows
  * its guard lets through; both stay where they are and compute row by row (the same values, one
  * engine call each). Non-deterministic inputs ({@code rand()},
  * {@code monotonically_increasing_id()}) move with their call and are initialised for their
  * partition by the operator, as a projection does.
  */
private[spark] object ExtractRectifierCalls extends Rule[LogicalPlan] {

  /** The calls that every evaluation of {@code e} computes, innermost first. */
  private[spark] def batchable(e: Expression): Seq[RectifierCall] = e match {
    case c: RectifierCall =>
      val inner = c.children.flatMap(batchable)
      if (inner.nonEmpty) inner
      else if (c.children.exists(_.exists(_.isInstanceOf[SubqueryExpression]))) Nil
      else Seq(c)
    // a lambda runs once per element, with its variables bound; the first argument is the only
    // one always computed (aggregate's zero waits for a non-null array)
    case h: HigherOrderFunction   => h.arguments.headOption.toSeq.flatMap(batchable)
    case c: ConditionalExpression => c.alwaysEvaluatedInputs.flatMap(batchable)
    // try_*: a failure inside gives null, which a part computed outside would not
    case _: TryEval => Nil
    // these compute every child, whatever the others give
    case _: CreateArray | _: CreateNamedStruct | _: CreateMap | _: Concat | _: Greatest |
        _: Least =>
      e.children.flatMap(batchable)
    case u: UnaryExpression => batchable(u.child)
    // elsewhere only the first child is sure to be computed: a null there ends a binary
    // expression (null intolerance), And/Or/In/Elt/zip_with stop early
    case other => other.children.headOption.toSeq.flatMap(batchable)
  }

  /** Expressions that read what the scan of the current row set for the task's thread, which a part
    * read ahead of the rows given out would have moved on.
    */
  private def readsScanState(e: Expression): Boolean = e.exists {
    case _: InputFileName | _: InputFileBlockStart | _: InputFileBlockLength => true
    case _                                                                   => false
  }

  override def apply(plan: LogicalPlan): LogicalPlan = plan match {
    // a correlated subquery is rewritten into a join after this rule, which would not see
    // through the operator (as Spark leaves Python UDFs there, SPARK-26293)
    case s: Subquery if s.correlated => plan
    case _                           => plan.transformUp(rules)
  }

  private val rules: PartialFunction[LogicalPlan, LogicalPlan] = {
    // calls whose results nothing reads any more (a projection pruned above) are dropped
    case p @ Project(_, e: RectifierEval) if !e.results.forall(p.references.contains) =>
      val kept = e.calls.zip(e.results).filter { case (_, r) => p.references.contains(r) }
      if (kept.isEmpty) p.copy(child = e.child)
      else p.copy(child = e.copy(calls = kept.map(_._1), results = kept.map(_._2)))

    case p @ Project(list, child)
        if list.exists(batchable(_).nonEmpty) && !list.exists(readsScanState) =>
      val calls = ArrayBuffer.empty[RectifierCall]
      list.flatMap(batchable).foreach { c =>
        if (!calls.exists(d => (d eq c) || d.semanticEquals(c))) calls += c
      }
      val results = calls.zipWithIndex.map { case (c, i) =>
        AttributeReference(s"rectifier_result_$i", c.dataType, nullable = true)()
      }
      val byCall = calls.zip(results).toSeq
      // the moved calls themselves, and a deterministic call equal to one of them, which is the
      // same value wherever it stands (a non-deterministic one equals only itself); outermost
      // first, so that a moved call is found before anything inside it is replaced
      def rewrite(e: Expression): Expression = e match {
        case c: RectifierCall =>
          byCall.find(b => (b._1 eq c) || b._1.semanticEquals(c)) match {
            case Some((_, result)) => result
            case None              => c.mapChildren(rewrite)
          }
        case other => other.mapChildren(rewrite)
      }
      val rewritten = list.map(rewrite(_).asInstanceOf[NamedExpression])
      // the operator keeps only the columns the projection reads, not those only the calls read
      val read = AttributeSet(rewritten.flatMap(_.references))
      val passThrough = child.output.filter(read.contains)
      // and reads only what it needs, so that a scan below can skip the other columns (the
      // optimizer's own column pruning has run by the time this rule does)
      val needed = AttributeSet(passThrough) ++ AttributeSet(calls.flatMap(_.references))
      val input =
        if (child.output.forall(needed.contains)) child
        else Project(child.output.filter(needed.contains), child)
      p.copy(
        projectList = rewritten,
        child = RectifierEval(calls.toSeq, results.toSeq, passThrough, input)
      )
  }
}

/** Plans a RectifierEval as its operator. */
private[spark] object RectifierStrategy extends SparkStrategy {
  override def apply(plan: LogicalPlan): Seq[SparkPlan] = plan match {
    case RectifierEval(calls, results, passThrough, child) =>
      RectifierEvalExec(calls, results, passThrough, planLater(child)) :: Nil
    case _ => Nil
  }
}

/** The operator of a RectifierEval: each partition's rows are read in parts of at most {@value
  * RectifierEvalExec#PartBytesConf} bytes (the calls' inputs, made Java arrays, and the columns
  * kept for the projection above, copied), every call computed over the part in one engine call
  * (channel functions: one per run of rows of one length), and the kept columns given out with the
  * results after them.
  */
private[spark] final case class RectifierEvalExec(
    calls: Seq[RectifierCall],
    results: Seq[Attribute],
    passThrough: Seq[Attribute],
    child: SparkPlan
) extends UnaryExecNode {

  override def output: Seq[Attribute] = passThrough ++ results
  override def producedAttributes: AttributeSet = AttributeSet(results)

  // rows stay in their partition and their order, so a shuffle or sort below still holds above,
  // as far as it reads columns this operator keeps
  override def outputPartitioning: Partitioning = child.outputPartitioning match {
    case p: Expression if !p.references.subsetOf(outputSet) =>
      UnknownPartitioning(child.outputPartitioning.numPartitions)
    case p => p
  }
  override def outputOrdering: Seq[SortOrder] =
    child.outputOrdering.takeWhile(_.references.subsetOf(outputSet))

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
    val kept = passThrough
    val outputSchema = output
    val resultCount = results.length
    val partBytes = RectifierEvalExec.partBytes(conf)
    val rowsOut = longMetric("numOutputRows")
    val parts = longMetric("engineCalls")
    val time = longMetric("engineTime")
    child.execute().mapPartitionsWithIndex { (index, rows) =>
      val bound = boundCalls.map(_.asInstanceOf[RectifierCall]).toIndexedSeq
      bound.foreach(_.foreach {
        case n: Nondeterministic => n.initialize(index)
        case _                   =>
      })
      val keep = UnsafeProjection.create(kept, inputSchema)
      val toOutput = UnsafeProjection.create(outputSchema, outputSchema)
      val joined = new JoinedRow()
      val values = new Array[Any](resultCount)
      val resultRow = new GenericInternalRow(values)
      new Iterator[InternalRow] {
        private var part: ArrayBuffer[InternalRow] = ArrayBuffer.empty
        private var inputs: IndexedSeq[ArrayBuffer[Array[AnyRef]]] = IndexedSeq.empty
        // null: the part failed as a whole, and its rows are computed one by one as given out
        private var partResults: IndexedSeq[RectifierCall.Results] = IndexedSeq.empty
        private var at = 0
        // parts grow from one row, so that a LIMIT or take() reads and computes little more than
        // the rows it asks for
        private var rowBound = 1

        override def hasNext: Boolean = at < part.length || (rows.hasNext && fill())

        /** Reads the next part of the partition and computes its calls. */
        private def fill(): Boolean = {
          part = ArrayBuffer.empty[InternalRow]
          partResults = IndexedSeq.empty
          inputs = bound.map(_ => ArrayBuffer.empty[Array[AnyRef]])
          var bytes = 0L
          while (rows.hasNext && bytes < partBytes && part.length < rowBound) {
            val row = rows.next()
            var k = 0
            while (k < bound.length) {
              // made Java arrays now: the child may reuse the row's memory for the next one
              val primitive = bound(k).inputsOf(row)
              inputs(k) += primitive
              if (primitive != null) bytes += RectifierCall.bytesOf(primitive)
              k += 1
            }
            val copy = keep(row).copy()
            bytes += copy.getSizeInBytes
            part += copy
          }
          rowBound = math.min(rowBound * 2, RectifierEvalExec.PartRows)
          val start = System.nanoTime()
          partResults =
            try bound.indices.map(k => bound(k).computeRows(inputs(k)))
            catch {
              // a row the call refuses (a null element, a length maxout cannot split): the rows
              // before it are still given out, and the error comes with that row, as row by row
              case _: IllegalArgumentException if part.length > 1 => null
            }
          time += System.nanoTime() - start
          parts += 1
          if (partResults != null) {
            // each row once, whatever the number of calls of the projection; and each call
            bound.indices.groupBy(k => bound(k).counts).foreach { case (counts, ks) =>
              val rs = ks.map(partResults)
              rs.find(_.label != null).foreach { first =>
                val calls = rs.map(r => part.indices.count(r.computed)).sum
                val computed = part.indices.count(i => rs.exists(_.computed(i)))
                counts.add(Tally(first.label, computed, calls))
              }
            }
            inputs = IndexedSeq.empty
          }
          at = 0
          part.nonEmpty
        }

        override def next(): InternalRow = {
          if (!hasNext) throw new NoSuchElementException("no more rows")
          var k = 0
          if (partResults != null) {
            while (k < resultCount) { values(k) = partResults(k).value(at); k += 1 }
          } else {
            while (k < resultCount) {
              values(k) = bound(k).computeRow(inputs(k)(at))
              inputs(k)(at) = null
              k += 1
            }
          }
          val row = part(at)
          part(at) = null // its bytes can go as soon as the row is given out
          at += 1
          rowsOut += 1
          toOutput(joined(row, resultRow))
        }
      }
    }
  }
}

private[spark] object RectifierEvalExec {

  /** The Spark SQL setting that bounds a part in bytes. */
  val PartBytesConf = "spark.rectifier.partBytes"

  /** A part's default bound: 8 MiB, 2^21 float32 elements, enough that an engine call's fixed cost
    * (a kernel launch) is noise, and small beside an executor's memory.
    */
  val DefaultPartBytes: Long = 8L << 20

  /** The largest bound: a part's results (crelu's twice its inputs) stay well inside one Java array
    * and its byte offsets inside an int.
    */
  val MaxPartBytes: Long = 256L << 20

  /** Rows in a part, for rows so short that the byte bound would hold too many. */
  val PartRows: Int = 1 << 16

  /** The bound {@code conf} sets, checked. */
  def partBytes(conf: SQLConf): Long = {
    val setting = conf.getConfString(PartBytesConf, DefaultPartBytes.toString)
    val bytes =
      try JavaUtils.byteStringAsBytes(setting)
      catch {
        case _: NumberFormatException =>
          throw new IllegalArgumentException(
            s"$PartBytesConf is '$setting'; give a size in bytes, as 8388608 or 8m"
          )
      }
    if (bytes < 1024 || bytes > MaxPartBytes) {
      throw new IllegalArgumentException(
        s"$PartBytesConf is '$setting'; give from 1k to 256m (the default is 8m)"
      )
    }
    bytes
  }
}
