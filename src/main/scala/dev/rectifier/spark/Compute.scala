package dev.rectifier.spark

import dev.rectifier.{Rectifier, Shape}

/** Runs one SQL call over many rows with as few engine calls as the function allows: the rows of an
  * elementwise function joined end to end into one array (one call), those of a channel function
  * grouped by length into matrices (one call per run of equal lengths). Rows are float[] or
  * double[] that the caller gives up (an elementwise forward computes in place, in the row's own
  * array when a part is one row); the results are slices of arrays of the same type, in the same
  * order, so that a part's results exist once.
  */
private[spark] object Compute {

  /** Row i's result: {@code lengths(i)} elements of {@code arrays(i)} from {@code offsets(i)}. */
  final class Slices(n: Int) {
    val arrays = new Array[AnyRef](n)
    val offsets = new Array[Int](n)
    val lengths = new Array[Int](n)
  }

  /** Forward over {@code xs}. */
  def forward(engine: Rectifier, spec: CallSpec, xs: IndexedSeq[AnyRef]): Slices =
    run(engine, spec, xs, null)

  /** Backward over {@code xs} with the gradients {@code gs} of the outputs, row by row; a row whose
    * gradient's length is not its output's is an error naming both.
    */
  def backward(
      engine: Rectifier,
      spec: CallSpec,
      xs: IndexedSeq[AnyRef],
      gs: IndexedSeq[AnyRef]
  ): Slices = {
    var i = 0
    while (i < xs.length) {
      val want = spec.outputLength(length(xs(i)))
      if (length(gs(i)) != want) {
        throw new IllegalArgumentException(
          s"rectifier_backward(${spec.function}): a row's grad_output has ${length(gs(i))}" +
            s" elements and its x ${length(xs(i))}, whose output has $want; give each row the" +
            " gradient of its own output"
        )
      }
      i += 1
    }
    run(engine, spec, xs, gs)
  }

  private def gradLength(gs: IndexedSeq[AnyRef], from: Int, to: Int): Int =
    (from until to).map(i => length(gs(i))).sum

  private def length(a: AnyRef): Int = java.lang.reflect.Array.getLength(a)

  private def newLike(a: AnyRef, n: Int): AnyRef = a match {
    case _: Array[Float] => new Array[Float](n)
    case _               => new Array[Double](n)
  }

  /** The rows [from, to) of {@code rows} end to end (the row itself when it is alone). */
  private def joined(rows: IndexedSeq[AnyRef], from: Int, to: Int, total: Int): AnyRef = {
    if (to == from + 1) return rows(from)
    val all = newLike(rows(from), total)
    var at = 0
    var i = from
    while (i < to) {
      val n = length(rows(i))
      System.arraycopy(rows(i), 0, all, at, n)
      at += n
      i += 1
    }
    all
  }

  private def run(
      engine: Rectifier,
      spec: CallSpec,
      xs: IndexedSeq[AnyRef],
      gs: IndexedSeq[AnyRef]
  ): Slices = {
    val out = new Slices(xs.length)
    var from = 0
    while (from < xs.length) {
      // elementwise: every row in one part; channel functions: a run of rows of one length
      var to = from + 1
      if (spec.elementwise) to = xs.length
      else while (to < xs.length && length(xs(to)) == length(xs(from))) to += 1
      var total = 0L
      var i = from
      while (i < to) { total += length(xs(i)); i += 1 }
      if (total > Int.MaxValue - 8) {
        throw new IllegalArgumentException(
          s"${spec.function}: $total elements in one part of a partition; the rows are too long" +
            s" for one Java array (lower ${RectifierEvalExec.PartBytesConf})"
        )
      }
      val n = total.toInt
      val rows = to - from
      val shape = if (spec.elementwise) Shape.vector(n) else Shape.of(rows, n / rows)
      val x = joined(xs, from, to, n)
      val inLength = n / rows // channel functions only: every row of the part has it
      // forward gives each row its output, backward each row the gradient of its x
      def resultLength(row: Int): Int =
        if (spec.elementwise || gs != null) length(xs(row)) else spec.outputLength(inLength)
      val y =
        if (gs == null && spec.elementwise) x // in place: x is the caller's to give up
        else
          newLike(x, if (spec.elementwise || gs != null) n else spec.outputLength(inLength) * rows)
      if (gs == null) forwardOnce(engine, spec, shape, x, y)
      else backwardOnce(engine, spec, shape, x, joined(gs, from, to, gradLength(gs, from, to)), y)
      var at = 0
      i = from
      while (i < to) {
        val m = resultLength(i)
        out.arrays(i) = y
        out.offsets(i) = at
        out.lengths(i) = m
        at += m
        i += 1
      }
      from = to
    }
    out
  }

  private def forwardOnce(engine: Rectifier, spec: CallSpec, shape: Shape, x: AnyRef, y: AnyRef) = {
    val f = spec.activation
    (x, y) match {
      case (xf: Array[Float], yf: Array[Float]) =>
        if (spec.isPrelu) engine.forward(f, shape, xf, Array(spec.weight.toFloat), yf)
        else engine.forward(f, shape, xf, yf)
      case (xd: Array[Double], yd: Array[Double]) =>
        if (spec.isPrelu) engine.forward(f, shape, xd, Array(spec.weight), yd)
        else engine.forward(f, shape, xd, yd)
      case _ => throw new IllegalStateException("x and y of different types")
    }
  }

  /** Backward into {@code dx}, as long as {@code x}. */
  private def backwardOnce(
      engine: Rectifier,
      spec: CallSpec,
      shape: Shape,
      x: AnyRef,
      g: AnyRef,
      dx: AnyRef
  ): Unit = {
    val f = spec.activation
    (x, g, dx) match {
      case (xf: Array[Float], gf: Array[Float], df: Array[Float]) =>
        if (spec.isPrelu) {
          engine.backward(f, shape, xf, Array(spec.weight.toFloat), gf, df, new Array[Float](1))
        } else engine.backward(f, shape, xf, gf, df)
      case (xd: Array[Double], gd: Array[Double], dd: Array[Double]) =>
        if (spec.isPrelu) {
          engine.backward(f, shape, xd, Array(spec.weight), gd, dd, new Array[Double](1))
        } else engine.backward(f, shape, xd, gd, dd)
      case _ => throw new IllegalStateException("x, grad_output and grad_input of different types")
    }
  }
}
