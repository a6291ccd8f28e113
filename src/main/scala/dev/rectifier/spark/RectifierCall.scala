package dev.rectifier.spark

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.{Expression, UnsafeArrayData}
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.Platform

import java.nio.{ByteBuffer, ByteOrder}

/** rectifier_forward(function, x[, params[, storage]]) and rectifier_backward(function, x,
  * grad_output[, params[, storage]]) as Catalyst sees them.
  *
  * Inside a projection (select, withColumn) the rule ExtractRectifierCalls moves each call that the
  * projection computes for every row into a RectifierEval node, whose operator computes a
  * partition's rows in large parts; elsewhere (a lambda, a conditional branch, a filter, an
  * aggregate) eval() computes the row alone, with the same results.
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

  /** The row's inputs (x, and grad_output for backward) as float[] or double[] of their own, or
    * null when one of them is null (the row's result is then null).
    */
  def inputsOf(row: InternalRow): Array[AnyRef] = {
    // every child, null or not: the rule that batches calls takes them all as computed
    val values = children.map(_.eval(row))
    if (values.contains(null)) null
    else
      try {
        if (!backward) Array(toPrimitive(values.head, "x"))
        else Array(toPrimitive(values.head, "x"), toPrimitive(values(1), "grad_output"))
      } catch {
        // kept with the row, and thrown when the row is computed: a part read ahead of the
        // rows given out must not fail on a row nobody takes (a LIMIT)
        case e: IllegalArgumentException => Array[AnyRef](e)
      }
  }

  /** The results of rows whose inputs are {@code inputs} (as {@link #inputsOf} gives them), in one
    * pass of the engine of this task.
    */
  def computeRows(inputs: scala.collection.IndexedSeq[Array[AnyRef]]): RectifierCall.Results = {
    inputs.foreach {
      case Array(e: IllegalArgumentException) => throw e
      case _                                  =>
    }
    val live = inputs.indices.filter(i => inputs(i) != null)
    var label: String = null
    val slices =
      if (live.isEmpty) null
      else {
        val engine = Engines.forCurrentTask()
        val xs = live.map(i => inputs(i)(0))
        val out =
          if (!backward) Compute.forward(engine.rectifier, spec, xs)
          else Compute.backward(engine.rectifier, spec, xs, live.map(i => inputs(i)(1)))
        label = engine.label
        out
      }
    val slot = new Array[Int](inputs.length)
    java.util.Arrays.fill(slot, -1)
    live.indices.foreach(k => slot(live(k)) = k)
    new RectifierCall.Results(slices, slot, x.dataType == BinaryType, label)
  }

  /** One row alone, where the call stays in its expression (a lambda, a branch, a filter): it
    * counts as a row, and a call, of its own.
    */
  override def eval(input: InternalRow): Any = computeRow(inputsOf(input))

  /** The result of one row whose inputs are {@code inputs}, computed alone and counted so. */
  def computeRow(inputs: Array[AnyRef]): Any = {
    val results = computeRows(IndexedSeq(inputs))
    if (results.label != null) counts.add(Tally(results.label, 1, 1))
    results.value(0)
  }

  override protected def withNewChildrenInternal(
      newChildren: IndexedSeq[Expression]
  ): Expression = copy(children = newChildren)
}

private[spark] object RectifierCall {

  /** The bytes of a row's inputs, as {@link RectifierCall#inputsOf} gives them. */
  def bytesOf(inputs: Array[AnyRef]): Long = {
    var n = 0L
    inputs.foreach {
      case f: Array[Float]  => n += 4L * f.length
      case d: Array[Double] => n += 8L * d.length
      case _                =>
    }
    n
  }

  /** A part's results: row i's is slice {@code slot(i)} of {@code slices} (-1: null), made a value
    * of the call's type when it is given out, so that a part holds its results once; computed on
    * the engine {@code label} (null: no row had inputs).
    */
  final class Results(
      slices: Compute.Slices,
      slot: Array[Int],
      binary: Boolean,
      val label: String
  ) {

    /** Whether row i was computed (its inputs were not null). */
    def computed(i: Int): Boolean = slot(i) >= 0

    def value(i: Int): Any = {
      val k = slot(i)
      if (k < 0) return null
      val n = slices.lengths(k)
      val from = slices.offsets(k)
      // byte offsets fit an int: RectifierEvalExec.MaxPartBytes bounds a part of many rows
      (slices.arrays(k), binary) match {
        case (f: Array[Float], false) =>
          UnsafeArrayData.fromPrimitiveArray(
            f,
            Math.toIntExact(Platform.FLOAT_ARRAY_OFFSET + 4L * from),
            n,
            4
          )
        case (d: Array[Double], false) =>
          UnsafeArrayData.fromPrimitiveArray(
            d,
            Math.toIntExact(Platform.DOUBLE_ARRAY_OFFSET + 8L * from),
            n,
            8
          )
        case (f: Array[Float], true) =>
          val b = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN)
          b.asFloatBuffer().put(f, from, n)
          b.array()
        case (d: Array[Double], true) =>
          val b = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN)
          b.asDoubleBuffer().put(d, from, n)
          b.array()
        case _ => throw new IllegalStateException("a result that is neither float[] nor double[]")
      }
    }
  }
}
