package dev.rectifier.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.Activation;
import dev.rectifier.Rectifier;
import dev.rectifier.Shape;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanExec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The SQL functions in the query shapes where moving a call out of its expression would change what
 * it computes: inside lambdas, under conditional guards, over non-deterministic inputs; and the
 * operator's parts (bounded in bytes, keeping only the columns read above), its counts, and names
 * in any case. Each result is compared with Spark's own expression for the same function ({@code
 * IF(v > 0, v, v * 0)} is relu bit for bit: -0 and NaN included) or with the core API.
 */
class SparkQueryShapesTest {
  private static SparkSession spark;
  private static RectifierFunctions functions;

  /** relu of a float as Spark computes it, bit for bit: +0 below 0, else x (-0 and NaN kept). */
  private static final String SPARK_RELU = "v -> IF(v < 0, float(0), v)";

  @BeforeAll
  static void start() {
    spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("rectifier-query-shapes")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate();
    functions = RectifierSpark.register(spark);
  }

  @AfterAll
  static void stop() {
    if (spark != null) spark.stop();
  }

  @AfterEach
  void defaultParts() {
    spark.conf().unset(RectifierEvalExec.PartBytesConf());
  }

  private static List<Row> sql(String query) {
    return spark.sql(query).collectAsList();
  }

  /** Rows of arrays of float arrays, with -0, NaN and empty arrays among them. */
  private static final String NESTED =
      "(SELECT id, transform(sequence(0, cast(id % 4 as int)), j -> transform(sequence(0,"
          + " cast((id + j) % 5 as int)), i -> cast(CASE WHEN (id + i + j) % 13 = 0 THEN -0.0d"
          + " WHEN (id + i + j) % 17 = 0 THEN double('NaN') ELSE sin(id + i * 0.7 + j) * 4 END"
          + " AS float))) AS xs FROM range(0, 400))";

  @Test
  void callsInsideLambdasComputeWhatTheirLambdaAsks() {
    // the case: a call over a lambda's variable gave [null]
    List<Row> one =
        sql(
            "SELECT transform(array(array(float(-1), float(2))), a -> rectifier_forward('relu',"
                + " a)) AS t FROM range(1)");
    assertEquals(
        List.of(Long.MIN_VALUE, (long) Float.floatToRawIntBits(0f), 0x40000000L),
        bitsOf(one.get(0).get(0)),
        "[[0.0, 2.0]]");

    List<Row> rows =
        sql(
            "SELECT id, transform(xs, a -> rectifier_forward('relu', a)) AS got,"
                + " transform(xs, a -> transform(a, "
                + SPARK_RELU
                + ")) AS want,"
                + " aggregate(xs, cast(array() AS array<float>), (acc, a) -> concat(acc,"
                + " rectifier_forward('relu', a))) AS agg,"
                + " flatten(transform(xs, a -> transform(a, "
                + SPARK_RELU
                + "))) AS agg_want,"
                + " size(filter(xs, a -> size(rectifier_forward('crelu', a)) > 4)) AS big,"
                + " size(filter(xs, a -> size(a) > 2)) AS big_want,"
                + " exists(xs, a -> exists(rectifier_forward('relu', a), v -> v > 3)) AS any3,"
                + " exists(xs, a -> exists(a, v -> v > 3)) AS any3_want"
                + " FROM "
                + NESTED);
    assertEquals(400, rows.size());
    for (Row r : rows) {
      String where = "row " + r.getLong(0);
      assertEquals(bitsOf(r.get(2)), bitsOf(r.get(1)), "transform, " + where);
      assertEquals(bitsOf(r.get(4)), bitsOf(r.get(3)), "aggregate, " + where);
      assertEquals(r.get(6), r.get(5), "filter, " + where);
      assertEquals(r.get(8), r.get(7), "exists, " + where);
    }
  }

  @Test
  void guardsKeepTheRowsTheyExcludeFromTheCall() {
    // null elements fail a call; the guard keeps those rows from it
    List<Row> guarded =
        sql(
            "SELECT id, CASE WHEN NOT exists(x, v -> v IS NULL) THEN rectifier_forward('relu',"
                + " x) END AS got, CASE WHEN NOT exists(x, v -> v IS NULL) THEN transform(x, "
                + SPARK_RELU
                + ") END AS want FROM (SELECT id, transform(sequence(0, 5), i -> IF((id + i) % 7"
                + " = 0, NULL, cast(id - i * 1.5 AS float))) AS x FROM range(0, 200))");
    int excluded = 0;
    for (Row r : guarded) {
      if (r.isNullAt(2)) excluded++;
      assertEquals(bitsOf(r.get(2)), bitsOf(r.get(1)), "CASE WHEN guard, row " + r.get(0));
    }
    assertTrue(excluded > 50, excluded + " rows with a null element were guarded");

    // maxout(pieces 3) refuses a row whose length is not a multiple of 3: IF keeps those out
    List<Row> maxout =
        sql(
            "SELECT id, f, IF(size(f) % 3 = 0, rectifier_forward('maxout', f, map('pieces', 3)),"
                + " NULL) AS m, coalesce(IF(size(f) % 3 = 0, f, NULL),"
                + " rectifier_forward('relu', f)) AS c,"
                + " size(f) % 2 = 1 OR size(rectifier_forward('maxout', f, map('pieces', 2))) > 0"
                + " AS o FROM (SELECT id, transform(sequence(1, cast(2 + id % 5 as int)), i ->"
                + " cast(cos(id * 3 + i) * 5 AS float)) AS f FROM range(0, 300))");
    try (Rectifier engine = Rectifier.create("cpu")) {
      for (Row r : maxout) {
        float[] f = SparkFunctionsTest.floats(r.getList(1));
        String where = "row " + r.get(0) + " of length " + f.length;
        if (f.length % 3 != 0) {
          assertTrue(r.isNullAt(2), where);
          float[] relu = new float[f.length];
          engine.forward(Activation.relu(), f, relu);
          assertEquals(bitsOf(relu), bitsOf(r.get(3)), "coalesce's second branch, " + where);
        } else {
          float[] m = new float[f.length / 3];
          engine.forward(Activation.maxout(3, 0), Shape.vector(f.length), f, m);
          assertEquals(bitsOf(m), bitsOf(r.get(2)), where);
          assertEquals(bitsOf(f), bitsOf(r.get(3)), "coalesce's first branch, " + where);
        }
        assertTrue(r.getBoolean(4), where);
      }
    }
  }

  @Test
  void nonDeterministicInputsAreInitialisedAsAProjectionWould() {
    // the same seed in the same partition draws the same numbers in both expressions
    List<Row> rows =
        spark
            .sql(
                "SELECT rectifier_forward('relu', array(cast(rand(7) - 0.5 AS float))) AS got,"
                    + " transform(array(cast(rand(7) - 0.5 AS float)), "
                    + SPARK_RELU
                    + ") AS want, rectifier_forward('leaky_relu',"
                    + " array(cast(monotonically_increasing_id() AS double) - 500), map('slope',"
                    + " 0.5)) AS mono, monotonically_increasing_id() AS id"
                    + " FROM range(0, 1000, 1, 2)")
            .collectAsList();
    int zeros = 0;
    for (Row r : rows) {
      assertEquals(bitsOf(r.get(1)), bitsOf(r.get(0)), "rand() input");
      if (((Float) r.getList(0).get(0)) == 0f) zeros++;
      double x = r.getLong(3) - 500.0;
      assertEquals(List.of(x > 0 ? x : x * 0.5), r.getList(2), "monotonically_increasing_id()");
    }
    assertTrue(zeros > 300 && zeros < 700, zeros + " of 1000 draws were below 0.5");
  }

  @Test
  void namesAreTakenInAnyCaseAsSparksOwn() {
    List<Row> r =
        sql(
            "SELECT RECTIFIER_FORWARD('Leaky_ReLU', array(-2.0d, 4.0d), map('SLOPE', 0.25)) AS y,"
                + " rectifier_forward('relu', array(-1.0f), map(), 'FLOAT32') AS z");
    assertEquals(List.of(-0.5, 4.0), r.get(0).getList(0));
    assertThrows(
        Exception.class,
        () -> sql("SELECT rectifier_forward('elu', array(1.0d), map('alpha', 0.5, 'ALPHA', 0.7))"),
        "a parameter given twice in two cases");
  }

  @Test
  void aRowCountsOnceForEveryCallOfAProjectionAndEachCallCountsApart() {
    long rowsBefore = count(functions.backendsUsed());
    long callsBefore = count(functions.callsByBackend());
    sql(
        "SELECT rectifier_forward('relu', x) AS a, rectifier_forward('gelu', x) AS b,"
            + " rectifier_backward('silu', x, x) AS c FROM (SELECT array(cast(id AS float) - 3)"
            + " AS x FROM range(0, 1000))");
    assertEquals(1000, count(functions.backendsUsed()) - rowsBefore, "rows once each");
    assertEquals(3000, count(functions.callsByBackend()) - callsBefore, "three calls a row");
    for (Engine e : CollectionConverters.asJava(Engines.inUse())) {
      assertEquals(1, e.threads(), "a task's share of CPUs in local mode is spark.task.cpus = 1");
    }
  }

  private static long count(java.util.Map<String, Long> byBackend) {
    return byBackend.values().stream().mapToLong(Long::longValue).sum();
  }

  @Test
  void partsAreBoundedInBytesAndKeepOnlyTheColumnsReadAbove() {
    String query =
        "SELECT id, rectifier_forward('elu', x) AS y FROM (SELECT id, repeat('p', 5000) AS"
            + " payload, transform(sequence(1, 64), i -> cast(sin(id + i) AS float)) AS x"
            + " FROM range(0, 20000, 1, 1))";
    Dataset<Row> whole = spark.sql(query);
    List<Row> want = whole.collectAsList();
    RectifierEvalExec exec = operator(whole.queryExecution().executedPlan());
    List<String> kept = new ArrayList<>();
    for (var a : CollectionConverters.asJava(exec.passThrough())) kept.add(a.name());
    assertEquals(List.of("id"), kept, "neither the payload nor x, which only the call reads");
    // 64 floats and the kept id (an UnsafeRow of 16 bytes): 272 bytes a row
    assertEquals(expectedParts(20_000, 272, 8 << 20), metric(whole, "engineCalls"));
    assertEquals(15, expectedParts(20_000, 272, 8 << 20), "1, 2, 4 ... 8,192 rows, then the rest");

    spark.conf().set(RectifierEvalExec.PartBytesConf(), "64k");
    Dataset<Row> small = spark.sql(query);
    List<Row> got = small.collectAsList();
    long parts = metric(small, "engineCalls");
    assertEquals(expectedParts(20_000, 272, 64 << 10), parts, "parts of 64 KiB: 241 rows");
    assertTrue(parts > 80, parts + " parts");
    for (int i = 0; i < want.size(); i++) {
      assertEquals(bitsOf(want.get(i).get(1)), bitsOf(got.get(i).get(1)), "row " + i);
    }

    spark.conf().set(RectifierEvalExec.PartBytesConf(), "lots");
    Exception e = assertThrows(Exception.class, () -> spark.sql(query).collectAsList());
    assertTrue(
        e.getMessage().contains("spark.rectifier.partBytes is 'lots'; give a size in bytes"),
        e.getMessage());
  }

  /**
   * The parts of a partition of {@code rows} rows of {@code rowBytes} each: a part takes rows until
   * it holds {@code partBytes} or its row bound, which starts at 1 and doubles up to 65,536.
   */
  private static long expectedParts(long rows, long rowBytes, long partBytes) {
    long parts = 0;
    long bound = 1;
    while (rows > 0) {
      long take = Math.min(rows, Math.min(bound, (partBytes + rowBytes - 1) / rowBytes));
      rows -= take;
      parts++;
      bound = Math.min(bound * 2, 1 << 16);
    }
    return parts;
  }

  private static RectifierEvalExec operator(SparkPlan plan) {
    if (plan instanceof AdaptiveSparkPlanExec a) plan = a.finalPhysicalPlan();
    if (plan instanceof RectifierEvalExec e) return e;
    for (SparkPlan child : CollectionConverters.asJava(plan.children())) {
      RectifierEvalExec e = operator(child);
      if (e != null) return e;
    }
    return null;
  }

  private static long metric(Dataset<Row> df, String name) {
    RectifierEvalExec e = operator(df.queryExecution().executedPlan());
    assertFalse(e == null, "the query has a Rectifier operator");
    return e.metrics().apply(name).value();
  }

  /** The bits of a float or double array as Spark returns it (a list, or a Scala sequence). */
  static List<Long> bitsOf(Object value) {
    if (value == null) return null;
    List<Long> bits = new ArrayList<>();
    Iterable<?> items;
    if (value instanceof float[] f) {
      for (float v : f) bits.add((long) Float.floatToRawIntBits(v));
      return bits;
    }
    if (value instanceof List<?> l) items = l;
    else items = CollectionConverters.asJava((scala.collection.Seq<?>) value);
    for (Object o : items) {
      if (o == null) bits.add(null);
      else if (o instanceof Float v) bits.add((long) Float.floatToRawIntBits(v));
      else if (o instanceof Double v) bits.add(Double.doubleToRawLongBits(v));
      else if (o instanceof List<?> || o instanceof scala.collection.Seq<?>) {
        // nested arrays: a marker between the inner ones
        bits.add(Long.MIN_VALUE);
        List<Long> inner = bitsOf(o);
        bits.addAll(inner);
      } else throw new AssertionError("not a float or double: " + o);
    }
    return bits;
  }

  @Test
  void aNullRowStaysNullAmongComputedRows() {
    List<Row> r =
        sql(
            "SELECT id, rectifier_forward('relu', IF(id % 2 = 0, NULL, array(cast(id - 2 AS"
                + " float)))) AS y FROM range(0, 6) ORDER BY id");
    for (Row row : r) {
      if (row.getLong(0) % 2 == 0) assertNull(row.get(1));
      else assertEquals(List.of(Math.max(row.getLong(0) - 2f, 0f)), row.getList(1));
    }
  }

  @Test
  void aLimitComputesAndFailsOnlyOnTheRowsItTakes() {
    String rows =
        "(SELECT id, IF(id = 5, array(float(1), NULL), array(cast(id - 3 AS float))) AS x"
            + " FROM range(0, 100, 1, 1))";
    List<Row> five = sql("SELECT id, rectifier_forward('relu', x) AS y FROM " + rows + " LIMIT 5");
    assertEquals(5, five.size());
    for (Row r : five) {
      assertEquals(List.of(Math.max(r.getLong(0) - 3f, 0f)), r.getList(1), "row " + r.get(0));
    }
    Exception all =
        assertThrows(
            Exception.class,
            () -> sql("SELECT id, rectifier_forward('relu', x) AS y FROM " + rows));
    assertTrue(String.valueOf(all.getMessage()).contains("holds a null element"), all.getMessage());
  }

  @Test
  void operandsThatSparkSkipsAreNotComputedAhead() {
    // zip_with computes its second array only where the first is not null; aggregate its zero
    // only for a non-null array; try_* turns a failure into null: the calls stay in place
    List<Row> rows =
        sql(
            "SELECT id, zip_with(w, rectifier_forward('relu', x), (a, b) -> a + b) AS z,"
                + " aggregate(w, rectifier_forward('relu', x), (acc, v) -> acc) AS a"
                + " FROM (SELECT id, IF(id % 3 = 0, NULL, array(float(1))) AS w,"
                + " IF(id % 3 = 0, array(float(1), NULL), array(cast(id - 5 AS float))) AS x"
                + " FROM range(0, 30))");
    for (Row r : rows) {
      if (r.getLong(0) % 3 == 0) {
        assertTrue(r.isNullAt(1) && r.isNullAt(2), "row " + r.get(0) + " is null, not an error");
      } else {
        float y = Math.max(r.getLong(0) - 5f, 0f);
        assertEquals(List.of(1f + y), r.getList(1), "row " + r.get(0));
        assertEquals(List.of(y), r.getList(2), "row " + r.get(0));
      }
    }
  }

  @Test
  void aCallInACorrelatedSubqueryComputesOnlyWhatTheJoinNeeds() {
    spark.sql("SELECT id AS k FROM range(0, 10)").createOrReplaceTempView("keys");
    // t2's rows of 4 floats cannot be split in 3 pieces, but the EXISTS reads no column of them
    spark
        .sql(
            "SELECT id % 5 AS k, array(float(1), float(2), float(3), float(4)) AS f"
                + " FROM range(0, 20)")
        .createOrReplaceTempView("t2");
    List<Row> got =
        sql(
            "SELECT k FROM keys WHERE EXISTS (SELECT rectifier_forward('maxout', t2.f,"
                + " map('pieces', 3)) FROM t2 WHERE t2.k = keys.k) ORDER BY k");
    assertEquals(5, got.size(), got.toString());
  }

  @Test
  void theFileOfEachRowIsTheOneThatHoldsIt() throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("rectifier-files");
    try {
      spark
          .sql("SELECT id, array(cast(id - 50 AS float)) AS x FROM range(0, 100, 1, 4)")
          .write()
          .parquet(dir.resolve("t").toString());
      String table = "parquet.`" + dir.resolve("t") + "`";
      java.util.Map<Long, String> want = new java.util.HashMap<>();
      for (Row r : sql("SELECT id, input_file_name() FROM " + table)) {
        want.put(r.getLong(0), r.getString(1));
      }
      List<Row> got =
          sql(
              "SELECT id, input_file_name() AS src, rectifier_forward('relu', x) AS y FROM "
                  + table);
      assertEquals(100, got.size());
      for (Row r : got) {
        assertEquals(want.get(r.getLong(0)), r.getString(1), "row " + r.get(0));
        assertFalse(r.getString(1).isEmpty());
      }
    } finally {
      org.apache.commons.io.FileUtils.deleteDirectory(dir.toFile());
    }
  }

  @Test
  void theOperatorReadsOnlyTheColumnsItNeedsFromACachedTable() {
    Dataset<Row> t =
        spark.sql(
            "SELECT id, repeat('p', 100) AS payload, array(cast(id AS float)) AS x"
                + " FROM range(0, 10)");
    t.cache().createOrReplaceTempView("cached");
    try {
      Dataset<Row> q = spark.sql("SELECT id, rectifier_forward('relu', x) AS y FROM cached");
      assertEquals(10, q.collectAsList().size());
      RectifierEvalExec exec = operator(q.queryExecution().executedPlan());
      List<String> read = new ArrayList<>();
      for (var a : CollectionConverters.asJava(exec.child().output())) read.add(a.name());
      assertEquals(List.of("id", "x"), read, "the payload is not read: " + exec.child());
    } finally {
      t.unpersist();
    }
  }
}
