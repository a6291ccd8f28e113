package dev.rectifier.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import dev.rectifier.spark.RectifierSpark;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import org.apache.spark.sql.SparkSession;

/**
 * One Spark query of wide rows in this JVM (local[2]), through rectifier_forward or through Spark's
 * own {@code transform} of the same function, its rows consumed by the "noop" sink; prints one line
 * with the time and the peak heap that stayed live (the most the heap held after a collection, from
 * the collector's notifications: what the query kept, not the garbage it made). A JVM a query, so
 * that one query's heap does not count for another; run it with the -Xmx of the test.
 *
 * <p>{@code SparkMemory payload|wide|floats rectifier|transform ROWS}: payload is the rows
 * of a 32 KiB string and 16 floats ({@code SELECT payload, f(x)}); wide, rows of 16M floats;
 * floats, rows of 1,024 floats (throughput). The rows are made by Spark and passed through a
 * Generate (explode of a one-element array), so that the operator reads them as stored rows, as
 * from a file or a shuffle, rather than computing them inside its own projection.
 */
public final class SparkMemory {
  private SparkMemory() {}

  private static final AtomicLong PEAK = new AtomicLong();

  public static void main(String[] args) {
    String shape = args[0];
    String how = args[1];
    long rows = Long.parseLong(args[2]);
    watchCollections();
    SparkSession spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("rectifier-memory")
            .config("spark.ui.enabled", "false")
            .getOrCreate();
    RectifierSpark.register(spark);
    String source;
    String payload = "";
    switch (shape) {
      case "payload":
        source =
            "SELECT repeat(cast(id % 10 AS string), 32768) AS payload, transform(sequence(1, 16),"
                + " i -> cast(sin(id + i) * 4 AS float)) AS xs";
        payload = "payload, ";
        break;
      case "wide":
        source = "SELECT array_repeat(cast(id - 3.5 AS float), 16777216) AS xs";
        break;
      case "floats":
        source =
            "SELECT transform(sequence(1, 1024), i -> cast(sin(id * 0.1 + i) * 4 AS float)) AS xs";
        break;
      default:
        throw new IllegalArgumentException("shape: payload, wide or floats, not " + shape);
    }
    String call =
        how.equals("rectifier")
            ? "rectifier_forward('relu', x)"
            : "transform(x, v -> IF(v < 0, float(0), v))";
    String query =
        "SELECT "
            + payload
            + call
            + " AS y FROM ("
            + source
            + " FROM range(0, "
            + rows
            + ", 1, 2)) LATERAL VIEW explode(array(xs)) t AS x";
    if (shape.equals("floats")) {
      // throughput: the rows made once and cached, so that the query times the function, not
      // Spark's sin() and sequence()
      spark.sql(source + " FROM range(0, " + rows + ", 1, 2)").cache().createOrReplaceTempView("t");
      spark.table("t").count();
      query = "SELECT " + call + " AS y FROM t LATERAL VIEW explode(array(xs)) u AS x";
    }
    // the query once on a few rows, unmeasured, so that code generation and the engine's start
    // are not counted
    spark
        .sql(query.replace("range(0, " + rows + ",", "range(0, 2,"))
        .write()
        .format("noop")
        .mode("overwrite")
        .save();
    System.gc();
    PEAK.set(0);
    long start = System.nanoTime();
    spark.sql(query).write().format("noop").mode("overwrite").save();
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(
        Locale.ROOT,
        "%s %s %d rows: %.2f s, peak live heap %d MiB (-Xmx %d MiB)%n",
        shape,
        how,
        rows,
        seconds,
        PEAK.get() >> 20,
        Runtime.getRuntime().maxMemory() >> 20);
    spark.stop();
  }

  /** Records the heap in use after each collection. */
  private static void watchCollections() {
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      ((NotificationEmitter) gc)
          .addNotificationListener(
              (n, handback) -> {
                if (!n.getType()
                    .equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                  return;
                }
                GarbageCollectionNotificationInfo info =
                    GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
                long used = 0;
                for (Map.Entry<String, MemoryUsage> e :
                    info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
                  if (!e.getKey().contains("Metaspace")
                      && !e.getKey().contains("Code")
                      && !e.getKey().contains("Compressed")) {
                    used += e.getValue().getUsed();
                  }
                }
                PEAK.accumulateAndGet(used, Math::max);
              },
              null,
              null);
    }
  }
}
