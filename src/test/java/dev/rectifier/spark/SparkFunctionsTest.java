package dev.rectifier.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.expr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.Activation;
import dev.rectifier.Rectifier;
import dev.rectifier.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanExec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The Spark SQL functions in a real SparkSession (local[2]): a million rows through forward and
 * backward give the core API's results bit for bit, computed in large parts by the Rectifier
 * operator on the CPU backend (tasks here have no GPU), and bad calls fail when the query is
 * analysed, with the library's message.
 */
class SparkFunctionsTest {
  private static SparkSession spark;
  private static RectifierFunctions functions;

  /** Rows of the big tests: the issue asks for at least a million. */
  private static final int ROWS = 1_000_000;

  @BeforeAll
  static void start() {
    spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("rectifier-test")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate();
    functions = RectifierSpark.register(spark);
  }

  @AfterAll
  static void stop() {
    if (spark != null) spark.stop();
  }

  /**
   * A million rows of 1 to 8 floats each (lengths vary by row), values from -8 to 8 with exact
   * zeros and the odd special value, as Spark computes them from the row number.
   */
  private static Dataset<Row> rows(String type) {
    return spark
        .range(ROWS)
        .repartition(4)
        .selectExpr(
            "id",
            "transform(sequence(0, cast(id % 8 as int)), i -> cast(case"
                + " when (id + i) % 97 = 0 then 0.0"
                + " when (id + i) % 1009 = 0 then -0.0d"
                + " else sin(id * 0.7 + i) * 8 end as "
                + type
                + ")) as x",
            "transform(sequence(0, cast(id % 8 as int)), i -> cast(cos(id + i * 0.3) as "
                + type
                + ")) as g");
  }

  /** The rows' x, g and results, in id order, joined end to end. */
  private record Collected(float[] x, float[] g, float[] y) {}

  private static Collected collectFloats(Dataset<Row> df) {
    List<float[]> xs = new ArrayList<>();
    List<float[]> gs = new ArrayList<>();
    List<float[]> ys = new ArrayList<>();
    // in whatever order the rows come: each row's x and y are compared with each other (an
    // orderBy would add a sampling job, which computes every row once more)
    Iterator<Row> it = df.toLocalIterator();
    int total = 0;
    while (it.hasNext()) {
      Row r = it.next();
      float[] x = floats(r.getList(r.fieldIndex("x")));
      xs.add(x);
      gs.add(floats(r.getList(r.fieldIndex("g"))));
      float[] y = floats(r.getList(r.fieldIndex("y")));
      assertEquals(x.length, y.length, "row " + r.getLong(0));
      ys.add(y);
      total += x.length;
    }
    assertEquals(ROWS, xs.size());
    return new Collected(join(xs, total), join(gs, total), join(ys, total));
  }

  static float[] floats(List<Object> list) {
    float[] a = new float[list.size()];
    for (int i = 0; i < a.length; i++) a[i] = (Float) list.get(i);
    return a;
  }

  private static float[] join(List<float[]> parts, int total) {
    float[] all = new float[total];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, all, at, p.length);
      at += p.length;
    }
    return all;
  }

  private static void assertBits(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
        throw new AssertionError(
            what + ": element " + i + " is " + got[i] + ", the core API gives " + want[i]);
      }
    }
  }

  @Test
  void forwardOfAMillionRowsIsTheCoreApisBitForBit() {
    long before = cpuRows();
    Dataset<Row> df =
        rows("float")
            .withColumn("y", expr("rectifier_forward('gelu', x)"))
            .select("id", "x", "g", "y");
    String plan = df.queryExecution().executedPlan().toString();
    assertTrue(plan.contains("RectifierEval ["), "computed by the Rectifier operator: " + plan);
    Collected c = collectFloats(df);
    float[] want = new float[c.x().length];
    try (Rectifier r = Rectifier.create("cpu")) {
      r.forward(Activation.gelu(), c.x(), want);
    }
    assertBits(want, c.y(), "gelu over " + ROWS + " rows");
    long parts = engineCalls(df.queryExecution().executedPlan());
    // four partitions of 250,000 rows: parts of 1, 2, 4, ... 32,768 rows (65,535 rows in 16
    // parts), then 65,536 rows at most (3 more), so at most 19 engine calls a partition
    assertTrue(
        parts > 0 && parts <= 4 * 19,
        ROWS
            + " rows in "
            + parts
            + " engine calls: parts that grow to 65,536 rows, not a call a row");
    assertEquals(
        ROWS,
        cpuRows() - before,
        "rows counted under the CPU backend: " + functions.backendsUsed());
  }

  @Test
  void backwardOfAMillionRowsIsTheCoreApisBitForBit() {
    Dataset<Row> df =
        rows("float")
            .withColumn(
                "y",
                RectifierSpark.backward("leaky_relu", col("x"), col("g"), Map.of("slope", 0.1)))
            .select("id", "x", "g", "y");
    Collected c = collectFloats(df);
    float[] want = new float[c.x().length];
    try (Rectifier r = Rectifier.create("cpu")) {
      r.backward(Activation.leakyRelu(0.1), c.x(), c.g(), want);
    }
    assertBits(want, c.y(), "leaky_relu backward over " + ROWS + " rows");
  }

  /** The parts the Rectifier operators of an executed plan computed (their SQL metric). */
  private static long engineCalls(SparkPlan plan) {
    if (plan instanceof AdaptiveSparkPlanExec a) plan = a.finalPhysicalPlan();
    long n = 0;
    if (plan instanceof RectifierEvalExec e) n += e.metrics().apply("engineCalls").value();
    for (SparkPlan child : CollectionConverters.asJava(plan.children())) n += engineCalls(child);
    return n;
  }

  private static long cpuRows() {
    Long n = functions.backendsUsed().get("cpu");
    return n == null ? 0 : n;
  }

  @Test
  void sqlDoublesBinaryAndNullsGiveTheCoreApisResults() {
    spark
        .sql(
            "SELECT id, transform(sequence(0, 5), i -> (id - 2) * 1.5d + i) AS x"
                + " FROM range(0, 6)")
        .createOrReplaceTempView("small");
    List<Row> got =
        spark
            .sql(
                "SELECT id, x, rectifier_forward('elu', x, map('alpha', 0.5)) AS y,"
                    + " rectifier_forward('relu6', null_x) AS n"
                    + " FROM (SELECT *, CAST(NULL AS array<double>) AS null_x FROM small)"
                    + " ORDER BY id")
            .collectAsList();
    try (Rectifier r = Rectifier.create("cpu")) {
      for (Row row : got) {
        double[] x = doubles(row.getList(1));
        double[] want = new double[x.length];
        r.forward(Activation.elu(0.5), x, want);
        assertEquals(bits(want), bits(doubles(row.getList(2))), "elu of row " + row.get(0));
        assertNull(row.get(3), "a null x gives null");
      }

      // empty rows, alone and among others
      List<Row> empty =
          spark
              .sql(
                  "SELECT rectifier_forward('gelu', x) AS g, rectifier_forward('crelu', x) AS c"
                      + " FROM (SELECT CASE WHEN id = 1 THEN array(-1d, 2d)"
                      + " ELSE cast(array() AS array<double>) END AS x FROM range(0, 3))")
              .collectAsList();
      assertEquals(List.of(), empty.get(0).getList(0));
      assertEquals(List.of(), empty.get(0).getList(1));
      assertEquals(List.of(0.0, 2.0, 1.0, 0.0), empty.get(1).getList(1)); // [relu(x), relu(-x)]

      // binary: one whole float32 tensor a row, raw little-endian
      float[] t = {-2f, -0.5f, 0f, 0.25f, 3f, Float.NaN};
      ByteBuffer b = ByteBuffer.allocate(t.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      b.asFloatBuffer().put(t);
      Dataset<Row> bin =
          spark.createDataFrame(
              List.of(org.apache.spark.sql.RowFactory.create((Object) b.array())),
              new org.apache.spark.sql.types.StructType().add("t", "binary"));
      byte[] out =
          (byte[])
              bin.select(RectifierSpark.forward("silu", col("t")).as("y"))
                  .collectAsList()
                  .get(0)
                  .get(0);
      float[] y = new float[t.length];
      ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(y);
      float[] want = new float[t.length];
      r.forward(Activation.silu(), t, want);
      assertBits(want, y, "silu on a binary tensor");
    }
  }

  @Test
  void channelFunctionsTakeEachRowAsItsChannels() {
    List<Row> got =
        spark
            .sql(
                "SELECT id, x, rectifier_forward('maxout', x, map('pieces', 2)) AS m,"
                    + " rectifier_forward('crelu', x) AS c"
                    + " FROM (SELECT id, transform(sequence(1, cast(2 + 2 * (id % 3) as int)),"
                    + " i -> cast(sin(id + i) * 3 as float)) AS x FROM range(0, 50))"
                    + " ORDER BY id")
            .collectAsList();
    try (Rectifier r = Rectifier.create("cpu")) {
      for (Row row : got) {
        float[] x = floats(row.getList(1));
        float[] m = new float[x.length / 2];
        r.forward(Activation.maxout(2, 0), Shape.vector(x.length), x, m);
        assertBits(m, floats(row.getList(2)), "maxout of row " + row.getLong(0));
        float[] c = new float[x.length * 2];
        r.forward(Activation.crelu(0), Shape.vector(x.length), x, c);
        assertBits(c, floats(row.getList(3)), "crelu of row " + row.getLong(0));
      }
    }
  }

  /** Parameters for each function that needs some, and non-default ones for a few others. */
  private static Map<String, Double> paramsOf(Activation.Function f) {
    switch (f) {
      case LEAKY_RELU:
        return Map.of("slope", 0.2);
      case ELU:
      case CELU:
        return Map.of("alpha", 0.7);
      case HARDTANH:
        return Map.of("min_val", -2.0, "max_val", 3.0);
      case THRESHOLD:
        return Map.of("threshold", 0.5, "value", -1.0);
      case MAXOUT:
        return Map.of("pieces", 2.0);
      case SOFTPLUS:
        return Map.of("beta", 2.0, "threshold", 10.0);
      case RRELU:
        return Map.of("lower", 0.1, "upper", 0.3);
      default:
        return Map.of();
    }
  }

  /**
   * Every function, forward and backward, on array<float> and array<double> rows of three lengths:
   * the core API's results on each row, bit for bit.
   */
  @Test
  void everyFunctionForwardAndBackwardOnFloatsAndDoubles() {
    try (Rectifier r = Rectifier.create("cpu")) {
      for (Activation.Function fn : Activation.Function.values()) {
        Map<String, Double> params = paramsOf(fn);
        Activation f = Activation.of(fn.id(), params, fn.channelwise() ? 0 : null);
        for (String type : List.of("float", "double")) {
          Dataset<Row> in =
              spark.sql(
                  "SELECT id, transform(sequence(1, cast(2 * (1 + id % 3) as int)), i ->"
                      + " cast(CASE WHEN (id + i) % 11 = 0 THEN 0 ELSE sin(id * 1.3 + i) * 6 END"
                      + " AS "
                      + type
                      + ")) AS x FROM range(0, 300)");
          Dataset<Row> fwd = in.withColumn("y", RectifierSpark.forward(fn.id(), col("x"), params));
          // the gradient of the output: as long as the output of each row
          Dataset<Row> withG =
              fwd.withColumn(
                  "g", expr("transform(y, (v, i) -> cast(cos(id + i) AS " + type + "))"));
          Dataset<Row> both =
              withG.withColumn("dx", RectifierSpark.backward(fn.id(), col("x"), col("g"), params));
          for (Row row : both.collectAsList()) {
            String where = fn.id() + " " + type + " row " + row.getLong(0);
            if (type.equals("float")) {
              float[] x = floats(row.getList(1));
              float[] y = new float[floats(row.getList(2)).length];
              float[] w = fn == Activation.Function.PRELU ? new float[] {0.25f} : null;
              if (w != null) r.forward(f, Shape.vector(x.length), x, w, y);
              else r.forward(f, Shape.vector(x.length), x, y);
              assertBits(y, floats(row.getList(2)), where + " forward");
              float[] g = floats(row.getList(3));
              float[] dx = new float[x.length];
              if (w != null) r.backward(f, Shape.vector(x.length), x, w, g, dx, new float[1]);
              else r.backward(f, Shape.vector(x.length), x, g, dx);
              assertBits(dx, floats(row.getList(4)), where + " backward");
            } else {
              double[] x = doubles(row.getList(1));
              double[] y = new double[doubles(row.getList(2)).length];
              double[] w = fn == Activation.Function.PRELU ? new double[] {0.25} : null;
              if (w != null) r.forward(f, Shape.vector(x.length), x, w, y);
              else r.forward(f, Shape.vector(x.length), x, y);
              assertEquals(bits(y), bits(doubles(row.getList(2))), where + " forward");
              double[] g = doubles(row.getList(3));
              double[] dx = new double[x.length];
              if (w != null) r.backward(f, Shape.vector(x.length), x, w, g, dx, new double[1]);
              else r.backward(f, Shape.vector(x.length), x, g, dx);
              assertEquals(bits(dx), bits(doubles(row.getList(4))), where + " backward");
            }
          }
        }
      }
    }
  }

  static double[] doubles(List<Object> list) {
    double[] a = new double[list.size()];
    for (int i = 0; i < a.length; i++) a[i] = (Double) list.get(i);
    return a;
  }

  static List<Long> bits(double[] a) {
    List<Long> b = new ArrayList<>(a.length);
    for (double v : a) b.add(Double.doubleToRawLongBits(v));
    return b;
  }

  @Test
  void nestedCallsAndCallsOutsideAProjectionGiveTheSameResults() {
    Dataset<Row> df =
        spark.sql(
            "SELECT id, rectifier_forward('relu', rectifier_forward('leaky_relu', x,"
                + " map('slope', -1.0))) AS y, transform(x, v -> abs(v)) AS want"
                + " FROM (SELECT id, transform(sequence(0, 9), i -> cast(id - 5 + i * 0.5 as"
                + " float)) AS x FROM range(0, 1000))"
                + " WHERE size(rectifier_forward('crelu', x)) = 20");
    String plan = df.queryExecution().executedPlan().toString();
    assertTrue(
        plan.indexOf("RectifierEval [") != plan.lastIndexOf("RectifierEval ["),
        "the inner and the outer call each in an operator: " + plan);
    List<Row> rows = df.collectAsList();
    assertEquals(1000, rows.size(), "the filter's call, computed row by row, kept every row");
    for (Row r : rows) {
      assertEquals(r.getList(2), r.getList(1), "relu(leaky_relu(x, -1)) = |x| in row " + r.get(0));
    }
  }

  /** {@code sql} fails when it is analysed, with a message that holds {@code fragment}. */
  private static void assertAnalysisError(String sql, String fragment) {
    AnalysisException e = assertThrows(AnalysisException.class, () -> spark.sql(sql), sql);
    assertTrue(e.getMessage().contains(fragment), sql + ": " + e.getMessage());
  }

  @Test
  void badCallsFailAtAnalysisWithTheLibrarysMessage() {
    spark.sql("SELECT array(1.0f, -2.0f) AS x, 'a' AS s").createOrReplaceTempView("one");
    assertAnalysisError(
        "SELECT rectifier_forward('leaky_rel', x) FROM one",
        "rectifier_forward: unknown function 'leaky_rel'; use one of: relu");
    assertAnalysisError(
        "SELECT rectifier_forward('leaky_relu', x, map('slop', 0.1)) FROM one",
        "unknown parameter 'slop' for leaky_relu; it takes: slope");
    assertAnalysisError(
        "SELECT rectifier_forward('relu', s) FROM one",
        "give array<float>, array<double> or binary");
    assertAnalysisError(
        "SELECT rectifier_backward('relu', x) FROM one",
        "rectifier_backward takes rectifier_backward(function, x, grad_output");
    assertAnalysisError(
        "SELECT rectifier_forward(s, x) FROM one", "its function must be a string literal");
    assertAnalysisError(
        "SELECT rectifier_forward('relu', x, map(), 'float16') FROM one",
        "give 'float32' or 'float64'");
  }
}
