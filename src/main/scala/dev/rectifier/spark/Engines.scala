package dev.rectifier.spark

import dev.rectifier.Rectifier
import org.apache.spark.{SparkEnv, TaskContext}
import org.apache.spark.util.AccumulatorV2
import org.slf4j.LoggerFactory

import java.util.concurrent.ConcurrentHashMap
import scala.jdk.CollectionConverters._

/** Rows computed, by the backend that computed them ("cpu", "cuda (GPU 0)", ...): the accumulator
  * the driver reads after an action (RectifierFunctions.backendsUsed), named "rectifier.backends"
  * in the Spark UI.
  */
private[spark] final class BackendCounts
    extends AccumulatorV2[(String, Long), java.util.Map[String, java.lang.Long]] {
  private val counts = new java.util.HashMap[String, java.lang.Long]()

  override def isZero: Boolean = counts.synchronized(counts.isEmpty)

  override def copy(): BackendCounts = {
    val c = new BackendCounts
    counts.synchronized(c.counts.putAll(counts))
    c
  }

  override def reset(): Unit = counts.synchronized(counts.clear())

  override def add(v: (String, Long)): Unit = counts.synchronized {
    counts.merge(v._1, java.lang.Long.valueOf(v._2), (a, b) => java.lang.Long.valueOf(a + b))
    ()
  }

  override def merge(
      other: AccumulatorV2[(String, Long), java.util.Map[String, java.lang.Long]]
  ): Unit = other.value.asScala.foreach { case (k, v) => add((k, v.longValue)) }

  override def value: java.util.Map[String, java.lang.Long] =
    counts.synchronized(java.util.Collections.unmodifiableMap(new java.util.TreeMap(counts)))
}

/** An engine of this JVM and the name rows computed by it are counted under. */
private[spark] final case class Engine(rectifier: Rectifier, label: String)

/** The engines of this executor JVM: one per GPU address a task was given (and one for tasks with
  * none), opened by the first task that needs it and closed when the JVM shuts down.
  *
  * A JVM-wide registry because that is what "one engine per executor" is: Spark gives an executor
  * no object of its own to hang it on short of a plugin, which would have to be configured when the
  * application starts; this works with register() alone. Engines are cheap to call from many
  * threads, so the tasks of an executor share them.
  */
private[spark] object Engines {
  private val log = LoggerFactory.getLogger("dev.rectifier.spark")

  /** The Spark setting that forces a backend on every executor (auto, cuda, opencl, cpu). */
  val BackendConf = "spark.rectifier.backend"

  private val open = new ConcurrentHashMap[String, Engine]()

  Runtime.getRuntime.addShutdownHook(new Thread(() => closeAll(), "rectifier-engines-close"))

  /** The engine for the task running on this thread: with a GPU among the task's resources (Spark's
    * resource scheduling: spark.task.resource.gpu.amount), the backends in their order on that GPU
    * (CUDA device of that ordinal first); without, the CPU backend. {@value BackendConf} overrides
    * the choice of backend.
    */
  def forCurrentTask(): Engine = {
    val gpu = Option(TaskContext.get())
      .flatMap(t => t.resources().get("gpu"))
      .flatMap(_.addresses.headOption)
    forGpu(gpu, Option(SparkEnv.get).flatMap(_.conf.getOption(BackendConf)))
  }

  /** The engine for tasks given the GPU address {@code gpu} (None: no GPU), with the backend
    * {@code forced} by {@value BackendConf} if set: opened on first use.
    */
  def forGpu(gpu: Option[String], forced: Option[String]): Engine = {
    val key = gpu.fold("no GPU")("GPU " + _) + forced.fold("")(" backend " + _)
    open.computeIfAbsent(key, _ => opened(gpu, forced))
  }

  private def opened(gpu: Option[String], forced: Option[String]): Engine = {
    val builder =
      Rectifier.builder().backend(forced.getOrElse(if (gpu.isDefined) "auto" else "cpu"))
    gpu.flatMap(_.toIntOption).foreach(builder.cudaDevice)
    val r = builder.build()
    val label = r.backend() + gpu.fold("")(a => s" (GPU $a)")
    val executor = Option(SparkEnv.get).fold("driver")(_.executorId)
    val why = r
      .selection()
      .asScala
      .map { s =>
        val said = Option(s.reason()).getOrElse(s.devices().asScala.mkString(", "))
        s"${s.name()}: ${if (s.usable()) "usable" else "unusable"}${if (said.isEmpty) ""
          else ", " + said}"
      }
      .mkString("; ")
    log.info(
      s"rectifier: executor $executor computes on ${r.backend()} for tasks with " +
        gpu.fold("no GPU")(a => s"GPU address $a") + forced.fold("")(b => s", $BackendConf=$b") +
        s" ($why)"
    )
    Engine(r, label)
  }

  /** Closes every engine of this JVM (at its shutdown). */
  def closeAll(): Unit = {
    open.values().asScala.foreach { e =>
      try e.rectifier.close()
      catch { case ex: RuntimeException => log.warn(s"rectifier: closing ${e.label}: $ex") }
    }
    open.clear()
  }
}
