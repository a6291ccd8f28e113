package dev.rectifier.spark

import org.apache.spark.SparkContext
import org.apache.spark.sql.{SparkSessionExtensions, SparkSessionExtensionsProvider}
import org.apache.spark.sql.catalyst.FunctionIdentifier

/** The functions of {@link RectifierSpark} for sessions that no application code creates
  * (spark-sql, the Thrift server, a notebook's session), through Spark's extension point:
  * {@code --conf spark.sql.extensions=dev.rectifier.spark.RectifierExtensions} with the jar on the
  * class path ({@code --jars target/rectifier.jar}). The same functions, rule and strategy as
  * register(); rows by backend are in the accumulator "rectifier.backends" of the Spark UI.
  */
final class RectifierExtensions extends SparkSessionExtensionsProvider {
  override def apply(extensions: SparkSessionExtensions): Unit = {
    // made when a query first names a function, on the driver, where a SparkContext then runs
    lazy val counts = {
      val c = new BackendCounts
      SparkContext.getOrCreate().register(c, "rectifier.backends")
      c
    }
    for (backward <- Seq(false, true)) {
      val name = if (backward) RectifierSpark.BackwardName else RectifierSpark.ForwardName
      extensions.injectFunction(
        (
          FunctionIdentifier(name),
          RectifierSpark.info(name, backward),
          args => RectifierSpark.build(backward, counts)(args)
        )
      )
    }
    extensions.injectOptimizerRule(_ => ExtractRectifierCalls)
    extensions.injectPlannerStrategy(_ => RectifierStrategy)
  }
}
