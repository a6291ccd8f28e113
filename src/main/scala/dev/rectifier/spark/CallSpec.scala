package dev.rectifier.spark

import dev.rectifier.{Activation, Shape}

import java.util.Locale

import scala.jdk.CollectionConverters._

/** How the elements of a column are stored, and so which of the engine's overloads runs them. */
private[spark] sealed abstract class Storage(val name: String, val bytes: Int) extends Serializable

private[spark] object Storage {
  case object Float32 extends Storage("float32", 4)
  case object Float64 extends Storage("float64", 8)

  /** The storage a binary column's tensors are read in, named as the SQL functions take it. */
  def byName(name: String): Storage = name.trim.toLowerCase(java.util.Locale.ROOT) match {
    case "float32" => Float32
    case "float64" => Float64
    case other     =>
      throw new IllegalArgumentException(
        s"the storage of a binary column is '$other'; give 'float32' or 'float64' (raw" +
          " little-endian values)"
      )
  }
}

/** One SQL call's activation: the function's name and its parameters as the SQL call gave them,
  * checked by the library when the call is analysed (so a bad name or parameter fails there, with
  * the library's message) and rebuilt where it runs (an Activation is not serialisable).
  *
  * Every row is a one-dimensional tensor. The channel functions (prelu, crelu, maxout) take the
  * row's only axis as their channel axis; rows of one length run together as a matrix whose rows
  * are they, channel axis 1. prelu's one weight is the parameter 'weight' (default 0.25, PyTorch's
  * initial value); its gradient is not returned.
  */
private[spark] final case class CallSpec(function: String, params: Map[String, Double]) {

  /** The activation over a matrix whose rows are the SQL rows (channel axis 1). */
  @transient lazy val activation: Activation = {
    val f = Activation.Function.byId(function)
    val named = params.view.filterKeys(k => !(f == Activation.Function.PRELU && k == "weight"))
    val boxed = named.map { case (k, v) => k -> java.lang.Double.valueOf(v) }.toMap.asJava
    Activation.of(function, boxed, if (f.channelwise()) Integer.valueOf(1) else null)
  }

  /** Whether rows may be joined end to end into one call (every function but the channel ones). */
  def elementwise: Boolean = !activation.function().channelwise()

  def isPrelu: Boolean = activation.function() == Activation.Function.PRELU

  /** prelu's weight. */
  def weight: Double = params.getOrElse("weight", 0.25)

  /** The output length of a row of {@code length} elements (crelu doubles it, maxout divides). */
  def outputLength(length: Int): Int =
    if (elementwise) length
    else activation.outputShape(Shape.of(1, length)).size().toInt

  /** The call as SQL writes its arguments after the tensor. */
  def paramsSql: String =
    if (params.isEmpty) ""
    else params.map { case (k, v) => s"'$k', $v" }.mkString(", map(", ", ", ")")
}

private[spark] object CallSpec {

  /** The spec of a call of {@code function} with {@code params}, checked by the library: an
    * IllegalArgumentException with its message when the name or a parameter is wrong.
    */
  def checked(function: String, params: Map[String, Double]): CallSpec = {
    // names as Spark takes its own: in any case
    val named = params.toSeq.map { case (k, v) => k.trim.toLowerCase(Locale.ROOT) -> v }
    named.groupBy(_._1).find(_._2.length > 1).foreach { case (k, _) =>
      throw new IllegalArgumentException(
        s"the parameter '$k' is given ${named.count(_._1 == k)} times; give it once"
      )
    }
    val spec = CallSpec(function.trim.toLowerCase(Locale.ROOT), named.toMap)
    spec.activation // names the function and checks every parameter but prelu's weight
    if (spec.isPrelu && !java.lang.Double.isFinite(spec.weight)) {
      throw new IllegalArgumentException(s"prelu's weight is ${spec.weight}; give a finite number")
    }
    spec
  }
}
