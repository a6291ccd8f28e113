package dev.rectifier.spark

import org.apache.spark.sql.{AnalysisException, Column, SparkSession, functions}
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.{Cast, Expression, ExpressionInfo}
import org.apache.spark.sql.catalyst.util.MapData
import org.apache.spark.sql.types.{DoubleType, MapType, StringType}

import scala.jdk.CollectionConverters._

/** Rectifier's activations as Spark SQL functions. {@code RectifierSpark.register(spark)} adds, to
  * that session:
  *
  *   - {@code rectifier_forward(function, x[, params[, storage]])}: {@code f(x)} of each row;
  *   - {@code rectifier_backward(function, x, grad_output[, params[, storage]])}: {@code
  *     grad_output * f'(x)} of each row (prelu's weight gradient is not returned).
  *
  * {@code function} is a name of DESIGN's list (relu, leaky_relu, prelu, rrelu, elu, selu, celu,
  * relu6, hardtanh, threshold, crelu, maxout, gelu, gelu_tanh, silu, mish, softplus),
  * {@code params} a literal map of its parameters ({@code map('slope', 0.1)}; prelu's one weight is
  * 'weight'), both literals, checked when the query is analysed: a bad name or parameter fails
  * there with the library's message. {@code x} is {@code array<float>}, {@code array<double>} or
  * {@code binary} (a whole tensor of raw little-endian values, float32 unless {@code storage} is
  * 'float64'); the result has its type, and is null where an input is null. Each row is a
  * one-dimensional tensor; crelu, maxout and prelu take its only axis as their channel axis. rrelu
  * is its evaluation mode.
  *
  * Where they run: a call that a projection computes for every row is computed over each partition
  * in parts of at most {@code spark.rectifier.partBytes} bytes (8m by default: the call's inputs
  * and the columns kept for the projection), one engine call a part; a call in a lambda or in a
  * conditional branch computes the rows it is asked for, one at a time. Either way on the engine of
  * the executor JVM (opened by its first task, closed when the JVM ends): on the task's GPU when
  * Spark's resource scheduling gave it one (the CUDA device of that ordinal first, then OpenCL,
  * then the CPU), else on the CPU backend with the task's CPUs ({@code spark.task.cpus});
  * {@code spark.rectifier.backend} forces one. Function and parameter names are taken in any case.
  * The executor log says which, and {@link RectifierFunctions#backendsUsed} (the accumulator
  * "rectifier.backends") counts the rows each backend computed. Results are the core API's, bit for
  * bit.
  *
  * Thread-safety: register from the driver, once per session (again replaces the functions).
  */
object RectifierSpark {

  /** The forward function's SQL name. */
  val ForwardName = "rectifier_forward"

  /** The backward function's SQL name. */
  val BackwardName = "rectifier_backward"

  /** Registers the functions, and the rule and strategy that compute them in large parts, on
    * {@code spark}, a classic (not Spark Connect) session.
    *
    * @return
    *   the functions' report: rows computed by backend
    */
  def register(spark: SparkSession): RectifierFunctions = {
    val session = spark match {
      case c: org.apache.spark.sql.classic.SparkSession => c
      case other                                        =>
        throw new IllegalArgumentException(
          s"RectifierSpark.register needs a classic SparkSession, not ${other.getClass.getName}" +
            " (Spark Connect runs no code of the application's on the server); register it in the" +
            " server's session"
        )
    }
    val counts = new BackendCounts
    session.sparkContext.register(counts, "rectifier.backends")
    val registry = session.sessionState.functionRegistry
    for (backward <- Seq(false, true)) {
      val name = if (backward) BackwardName else ForwardName
      registry.registerFunction(
        FunctionIdentifier(name),
        info(name, backward),
        args => build(backward, counts)(args)
      )
    }
    val methods = session.experimental
    if (!methods.extraOptimizations.contains(ExtractRectifierCalls)) {
      methods.extraOptimizations = methods.extraOptimizations :+ ExtractRectifierCalls
    }
    if (!methods.extraStrategies.contains(RectifierStrategy)) {
      methods.extraStrategies = methods.extraStrategies :+ RectifierStrategy
    }
    new RectifierFunctions(counts)
  }

  /** {@code rectifier_forward(function, x)}, for the DataFrame API. */
  def forward(function: String, x: Column): Column =
    functions.call_function(ForwardName, functions.lit(function), x)

  /** {@code rectifier_forward(function, x, params)}, for the DataFrame API. */
  def forward(
      function: String,
      x: Column,
      params: java.util.Map[String, java.lang.Double]
  ): Column =
    functions.call_function(ForwardName, functions.lit(function), x, paramsColumn(params))

  /** {@code rectifier_backward(function, x, gradOutput)}, for the DataFrame API. */
  def backward(function: String, x: Column, gradOutput: Column): Column =
    functions.call_function(BackwardName, functions.lit(function), x, gradOutput)

  /** {@code rectifier_backward(function, x, gradOutput, params)}, for the DataFrame API. */
  def backward(
      function: String,
      x: Column,
      gradOutput: Column,
      params: java.util.Map[String, java.lang.Double]
  ): Column =
    functions.call_function(
      BackwardName,
      functions.lit(function),
      x,
      gradOutput,
      paramsColumn(params)
    )

  private def paramsColumn(params: java.util.Map[String, java.lang.Double]): Column = {
    val kv = params.asScala.toSeq.sortBy(_._1).flatMap { case (k, v) =>
      Seq(functions.lit(k), functions.lit(v.doubleValue))
    }
    if (kv.isEmpty) functions.map_from_arrays(functions.array(), functions.array())
    else functions.map(kv: _*)
  }

  private[spark] def info(name: String, backward: Boolean): ExpressionInfo = {
    val args = if (backward) "function, x, grad_output" else "function, x"
    val what = if (backward) "grad_output * f'(x), row by row" else "f(x), row by row"
    new ExpressionInfo(
      classOf[RectifierCall].getName,
      null,
      name,
      s"$name($args[, params[, storage]]) - $what (Rectifier's activations).",
      "",
      "",
      "",
      "",
      "",
      "",
      "scala_udf"
    )
  }

  /** A failure at analysis, with the library's message. */
  private def analysisError(message: String): AnalysisException =
    new AnalysisException("_LEGACY_ERROR_TEMP_1332", Map("errorMessage" -> message))

  private[spark] def build(backward: Boolean, counts: BackendCounts)(
      args: Seq[Expression]
  ): Expression = {
    val name = if (backward) BackwardName else ForwardName
    val tensors = if (backward) 2 else 1
    val signature =
      s"$name(function, x${if (backward) ", grad_output" else ""}[, params[, storage]])"
    if (args.length < 1 + tensors || args.length > 3 + tensors) {
      throw analysisError(s"$name takes $signature; it was given ${args.length} arguments")
    }
    val function = literalString(args.head, "function", name)
    val params =
      if (args.length > 1 + tensors) literalParams(args(1 + tensors), name)
      else Map.empty[String, Double]
    val storage =
      if (args.length > 2 + tensors) literalString(args(2 + tensors), "storage", name)
      else "float32"
    val spec =
      try {
        Storage.byName(storage)
        CallSpec.checked(function, params)
      } catch {
        case e: IllegalArgumentException => throw analysisError(s"$name: ${e.getMessage}")
      }
    RectifierCall(spec, backward, storage, counts, args.slice(1, 1 + tensors))
  }

  private def literalString(e: Expression, what: String, name: String): String = {
    if (!e.resolved || !e.foldable || e.dataType != StringType) {
      throw analysisError(
        s"$name: its $what must be a string literal (as '$what' in quotes), not ${e.sql}"
      )
    }
    Option(e.eval()).map(_.toString).getOrElse {
      throw analysisError(s"$name: its $what is null; give a name")
    }
  }

  private def literalParams(e: Expression, name: String): Map[String, Double] = {
    val numeric = e.resolved && e.foldable && (e.dataType match {
      case MapType(StringType, v, _) => v.isInstanceOf[org.apache.spark.sql.types.NumericType]
      case MapType(_, _, _)          => true // an empty map() of whatever type
      case _                         => false
    })
    if (!numeric) {
      throw analysisError(
        s"$name: its params must be a literal map of names to numbers, as map('slope', 0.1)," +
          s" not ${e.sql}"
      )
    }
    val m = e.eval().asInstanceOf[MapData]
    if (m == null || m.numElements() == 0) return Map.empty
    if (e.dataType.asInstanceOf[MapType].keyType != StringType) {
      throw analysisError(s"$name: its params' names must be strings, not ${e.sql}")
    }
    val cast = Cast(e, MapType(StringType, DoubleType, valueContainsNull = true)).eval()
    val d = cast.asInstanceOf[MapData]
    val keys = d.keyArray()
    val values = d.valueArray()
    (0 until d.numElements()).map { i =>
      val k = keys.getUTF8String(i).toString
      if (values.isNullAt(i))
        throw analysisError(s"$name: its parameter '$k' is null; give a number")
      k -> values.getDouble(i)
    }.toMap
  }
}

/** What the functions registered by one {@link RectifierSpark#register} call did. Thread-safe.
  */
final class RectifierFunctions private[spark] (counts: BackendCounts) {

  /** Rows computed so far by the functions of this registration, by backend ("cpu", "cuda (GPU 0)",
    * "cpu (GPU 0 not used)" for a task given a GPU that no backend could use, ...), as the driver
    * has them after each action (the accumulator "rectifier.backends"). A row counts once for all
    * the calls of one projection; a call left in its expression (in a lambda, under a condition, in
    * a filter) counts each row it computes; a row computed twice (a retried task, a re-run stage)
    * counts twice.
    */
  def backendsUsed(): java.util.Map[String, java.lang.Long] = counts.value

  /** Calls computed so far, by backend: a row counts once for each call of it that was computed
    * (two functions over one column, or over two columns, count it twice), where {@link
    * #backendsUsed} counts it once per operator.
    */
  def callsByBackend(): java.util.Map[String, java.lang.Long] = counts.callsValue
}
