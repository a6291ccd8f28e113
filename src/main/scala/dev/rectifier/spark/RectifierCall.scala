package dev.rectifier.spark

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.Expression
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._

import java.nio.{ByteBuffer, ByteOrder}

/** rectifier_forward(function, x[, params[, storage]]) and rectifier_backward(function, x,
  * grad_output[, params[, storage]]) as Catalyst sees them.
  *
  * Inside a projection (select, withColumn) the rule ExtractRectifierCalls moves each call into a
  * RectifierEval node, whose operator computes a partition's rows in large parts; elsewhere (a
  * filter, an aggregate) eval() computes the row alone, with the same results.
  *
  * @param binaryStorage
  *   how a binary x holds its values (float32 or float64, little-endian)
  * @param counts
  *   rows computed, by backend
  */
private[spark] final case class RectifierCall(
    spec: CallSpec,
    backward: Boolean,
    binaryStorage: String,
    counts: BackendCounts,
    children: Seq[Expression]
) extends Expression
    with CodegenFallback {

  def x: Expression = children.head

  override def nullable: Boolean = true

  /** Computed where the rows are, never folded on the driver. */
  override def foldable: Boolean = false

  override def dataType: DataType = x.dataType

  override def prettyName: String =
    if (backward) RectifierSpark.BackwardName else RectifierSpark.ForwardName

  override def sql: String =
    s"$prettyName('${spec.function}', ${children.map(_.sql).mkString(", ")}${spec.paramsSql})"

  override def toString: String =
    s"$prettyName(${spec.function}, ${children.mkString(", ")}${spec.paramsSql})"

  override protected def stringArgs: Iterator[Any] = Iterator(spec, backward, children)

  override def checkInputDataTypes(): TypeCheckResult = {
    val wrong = x.dataType match {
      case ArrayType(FloatType, _) | ArrayType(DoubleType, _) | BinaryType => None
      case other                                                           =>
        Some(
          s"x is ${other.catalogString}; give array<float>, array<double> or binary (raw" +
            " little-endian tensors)"
        )
    }
    val gradWrong =
      if (!backward || elementType(children(1).dataType) == elementType(x.dataType)) None
      else
        Some(
          s"grad_output is ${children(1).dataType.catalogString} and x" +
            s" ${x.dataType.catalogString}; give both the same type"
        )
    wrong.orElse(gradWrong) match {
      case Some(m) => TypeCheckResult.TypeCheckFailure(s"$prettyName: $m")
      case None    => TypeCheckResult.TypeCheckSuccess
    }
  }

  /** A type with its arrays' nullability forgotten (it is checked row by row). */
  private def elementType(t: DataType): DataType = t match {
    case ArrayType(e, _) => ArrayType(e, containsNull = true)
    case other           => other
  }

  @transient private lazy val storage: Storage = x.dataType match {
    case ArrayType(FloatType, _)  => Storage.Float32
    case ArrayType(DoubleType, _) => Storage.Float64
    case _                        => Storage.byName(binaryStorage)
  }

  /** A value of x's type as a float[] or double[]. */
  def toPrimitive(value: Any, what: String): AnyRef = value match {
    case a: ArrayData =>
      if (a.numElements() > 0 && hasNull(a)) {
        throw new IllegalArgumentException(
          s"$prettyName(${spec.function}): a row's $what holds a null element; replace the" +
            " nulls first (coalesce, or transform(x, v -> coalesce(v, 0)))"
        )
      }
      if (storage == Storage.Float32) a.toFloatArray() else a.toDoubleArray()
    case b: Array[Byte] =>
      if (b.length % storage.bytes != 0) {
        throw new IllegalArgumentException(
          s"$prettyName(${spec.function}): a row's $what has ${b.length} bytes, not a whole" +
            s" number of ${storage.name} values (${storage.bytes} bytes each); check the storage" +
            " argument"
        )
      }
      val buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN)
      if (storage == Storage.Float32) {
        val f = new Array[Float](b.length / 4)
        buf.asFloatBuffer().get(f)
        f
      } else {
        val d = new Array[Double](b.length / 8)
        buf.asDoubleBuffer().get(d)
        d
      }
  }

  private def hasNull(a: ArrayData): Boolean = {
    var i = 0
    while (i < a.numElements()) {
      if (a.isNullAt(i)) return true
      i += 1
    }
    false
  }

  /** A result (float[] or double[]) as a value of x's type. */
  def fromPrimitive(result: AnyRef): Any = (x.dataType, result) match {
    case (BinaryType, f: Array[Float]) =>
      val b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN)
      b.asFloatBuffer().put(f)
      b.array()
    case (BinaryType, d: Array[Double]) =>
      val b = ByteBuffer.allocate(d.length * 8).order(ByteOrder.LITTLE_ENDIAN)
      b.asDoubleBuffer().put(d)
      b.array()
    case (_, f: Array[Float])  => ArrayData.toArrayData(f)
    case (_, d: Array[Double]) => ArrayData.toArrayData(d)
    case _ => throw new IllegalStateException("a result that is neither float[] nor double[]")
  }

  /** The results of rows whose inputs are {@code inputs} (for each row, its children's values), in
    * one pass of the engine of this task; a row with a null input gives null.
    */
  def computeRows(inputs: IndexedSeq[Array[Any]]): IndexedSeq[Any] = {
    val live = inputs.indices.filter(i => inputs(i).forall(_ != null))
    val results = new Array[Any](inputs.length)
    if (live.nonEmpty) {
      val engine = Engines.forCurrentTask()
      val xs = live.map(i => toPrimitive(inputs(i)(0), "x"))
      val ys =
        if (!backward) Compute.forward(engine.rectifier, spec, xs)
        else
          Compute.backward(
            engine.rectifier,
            spec,
            xs,
            live.map(i => toPrimitive(inputs(i)(1), "grad_output"))
          )
      live.indices.foreach(k => results(live(k)) = fromPrimitive(ys(k)))
      counts.add((engine.label, live.length.toLong))
    }
    results.toIndexedSeq
  }

  override def eval(input: InternalRow): Any =
    computeRows(IndexedSeq(children.map(_.eval(input)).toArray))(0)

  override protected def withNewChildrenInternal(
      newChildren: IndexedSeq[Expression]
  ): Expression = copy(children = newChildren)
}
