package dev.rectifier.spark

import dev.rectifier.Rectifier
import org.apache.spark.{SparkEnv, TaskContext}
import org.apache.spark.util.AccumulatorV2
import org.slf4j.LoggerFactory

import java.util.concurrent.ConcurrentHashMap
import scala.jdk.CollectionConverters._

/** What one operator or call computed on one engine: rows, each once, and calls, a row's call each.
  */
private[spark] final case class Tally(label: String, rows: Long, calls: Long)

/** Rows and calls computed, by the engine that computed them ("cpu", "cuda (GPU 0)", "cpu (GPU 0
  * not used)", ...): the accumulator the driver reads after an action
  * (RectifierFunctions.backendsUsed, callsByBackend), named "rectifier.backends" in the Spark UI,
  * where it shows the rows.
  */
private[spark] final class BackendCounts
    extends AccumulatorV2[Tally, java.util.Map[String, java.lang.Long]] {
  private val rows = new java.util.HashMap[String, java.lang.Long]()
  private val calls = new java.util.HashMap[String, java.lang.Long]()

  override def isZero: Boolean = synchronized(rows.isEmpty && calls.isEmpty)

  override def copy(): BackendCounts = {
    val c = new BackendCounts
    synchronized {
      c.rows.putAll(rows)
      c.calls.putAll(calls)
    }
    c
  }

  override def reset(): Unit = synchronized {
    rows.clear()
    calls.clear()
  }

  override def add(v: Tally): Unit = synchronized {
    if (v.rows > 0) rows.merge(v.label, java.lang.Long.valueOf(v.rows), BackendCounts.plus)
    if (v.calls > 0) calls.merge(v.label, java.lang.Long.valueOf(v.calls), BackendCounts.plus)
    ()
  }

  override def merge(other: AccumulatorV2[Tally, java.util.Map[String, java.lang.Long]]): Unit =
    other match {
      case o: BackendCounts =>
        val (r, c) = o.synchronized((new java.util.HashMap(o.rows), new java.util.HashMap(o.calls)))
        synchronized {
          r.forEach((k, v) => rows.merge(k, v, BackendCounts.plus))
          c.forEach((k, v) => calls.merge(k, v, BackendCounts.plus))
        }
      case _ =>
        throw new UnsupportedOperationException(s"cannot merge ${other.getClass.getName}")
    }

  // the executor's heartbeat serialises a running task's accumulators on its own thread
  @throws[java.io.IOException]
  private def writeObject(out: java.io.ObjectOutputStream): Unit = synchronized {
    out.defaultWriteObject()
  }

  /** Rows by engine. */
  override def value: java.util.Map[String, java.lang.Long] =
    synchronized(java.util.Collections.unmodifiableMap(new java.util.TreeMap(rows)))

  /** Calls by engine: a row's call each. */
  def callsValue: java.util.Map[String, java.lang.Long] =
    synchronized(java.util.Collections.unmodifiableMap(new java.util.TreeMap(calls)))
}

private object BackendCounts {
  // here, not a field: the accumulator travels to the tasks, and a lambda does not serialise
  val plus: java.util.function.BiFunction[java.lang.Long, java.lang.Long, java.lang.Long] =
    (a, b) => java.lang.Long.valueOf(a + b)
}

/** An engine of this JVM, the name rows computed by it are counted under, and the CPU threads a
  * call of it may use.
  */
private[spark] final case class Engine(rectifier: Rectifier, label: String, threads: Int)

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
    * the choice of backend. The CPU backend uses the task's CPUs (spark.task.cpus, 1 by default)
    * for a call, not every core of the host, which Spark gave to other tasks.
    */
  def forCurrentTask(): Engine = {
    val task = Option(TaskContext.get())
    val gpu = task
      .flatMap(t => t.resources().get("gpu"))
      .flatMap(_.addresses.headOption)
    val conf = Option(SparkEnv.get).map(_.conf)
    val threads = task.map(_.cpus()).getOrElse(conf.fold(1)(_.getInt("spark.task.cpus", 1)))
    forGpu(gpu, conf.flatMap(_.getOption(BackendConf)), math.max(1, threads))
  }

  /** The engine for tasks given the GPU address {@code gpu} (None: no GPU), with the backend
    * {@code forced} by {@value BackendConf} if set, computing on the CPU with {@code threads}
    * threads: opened on first use.
    */
  def forGpu(gpu: Option[String], forced: Option[String], threads: Int): Engine = {
    val key = gpu.fold("no GPU")("GPU " + _) + forced.fold("")(" backend " + _) + s" x$threads"
    open.computeIfAbsent(key, _ => opened(gpu, forced, threads))
  }

  /** A GPU address as the CUDA ordinal it is, or a clear error: discovery scripts may give UUIDs or
    * PCI bus ids, which the CUDA backend does not map (CUDA_VISIBLE_DEVICES does, before the JVM
    * starts).
    */
  private[spark] def ordinal(address: String): Int =
    address.trim.toIntOption.filter(_ >= 0).getOrElse {
      throw new IllegalArgumentException(
        s"the task's GPU address is '$address', not a CUDA device ordinal; make" +
          " spark.executor.resource.gpu.discoveryScript list ordinals (0, 1, ...), as Spark's" +
          " getGpusResources.sh does"
      )
    }

  private def opened(gpu: Option[String], forced: Option[String], threads: Int): Engine = {
    val builder = Rectifier
      .builder()
      .backend(forced.getOrElse(if (gpu.isDefined) "auto" else "cpu"), BackendConf)
      .threads(threads)
    gpu.map(ordinal).foreach(builder.cudaDevice)
    val r =
      try builder.build()
      catch {
        case e: RuntimeException =>
          throw new IllegalStateException(
            s"rectifier: ${forced.fold("")(b => s"$BackendConf=$b: ")}${e.getMessage}",
            e
          )
      }
    // OpenCL picks its own device, which may be that GPU: only the CPU backend leaves it idle
    val onGpu = r.backend() != "cpu"
    val label = r.backend() + gpu.fold("")(a => if (onGpu) s" (GPU $a)" else s" (GPU $a not used)")
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
    val line =
      s"rectifier: executor $executor computes on ${r.backend()} for tasks with " +
        gpu.fold("no GPU")(a => s"GPU address $a") + forced.fold("")(b => s", $BackendConf=$b") +
        s", $threads CPU thread${if (threads == 1) "" else "s"} a call ($why)"
    if (gpu.isDefined && !onGpu) {
      log.warn(s"$line; the GPU Spark gave these tasks is idle")
    } else log.info(line)
    Engine(r, label, threads)
  }

  /** The engines open in this JVM. */
  def inUse(): Seq[Engine] = open.values().asScala.toSeq

  /** Closes every engine of this JVM (at its shutdown). */
  def closeAll(): Unit = {
    open.values().asScala.foreach { e =>
      try e.rectifier.close()
      catch { case ex: RuntimeException => log.warn(s"rectifier: closing ${e.label}: $ex") }
    }
    open.clear()
  }
}
