package dev.rectifier.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.Activation;
import dev.rectifier.Rectifier;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Parquet batch command end to end, as spark-submit runs it: a Spark application in a JVM of
 * its own (local[2]) reading a Parquet dataset this test writes, writing one this test reads back
 * and checks against the core API bit for bit; and a bad call that exits 2 with one line and writes
 * nothing.
 */
class ParquetBatchTest {
  private static SparkSession spark;

  @TempDir static Path dir;

  private static final int ROWS = 100_000;

  @BeforeAll
  static void writeInput() {
    spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("rectifier-batch-test")
            .config("spark.ui.enabled", "false")
            .getOrCreate();
    spark
        .range(ROWS)
        .selectExpr(
            "id",
            "transform(sequence(0, 15), i -> cast(sin(id * 0.37 + i) * 6 as float)) AS a",
            "transform(sequence(0, 15), i -> cast(cos(id * 0.11 + i) as float)) AS a_grad",
            "transform(sequence(0, 3), i -> (id % 13) - 6.5d + i) AS b",
            "transform(sequence(0, 3), i -> 1.0d) AS b_grad")
        .write()
        .parquet(dir.resolve("in").toString());
  }

  @AfterAll
  static void stop() {
    if (spark != null) spark.stop();
  }

  /**
   * The batch command on the input dataset, writing {@code output}, in a JVM of its own; its exit
   * code, stderr in {@code err}.
   */
  private static int batch(List<String> err, String output, String... args)
      throws IOException, InterruptedException {
    List<String> cmd =
        SparkJvm.command(
            ParquetBatch.class, "-Xmx1g", "-Dspark.master=local[2]", "-Dspark.ui.enabled=false");
    cmd.addAll(List.of("--input", dir.resolve("in").toString(), "--output", output));
    cmd.addAll(Arrays.asList(args));
    Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the batch finished");
    err.addAll(stderr.lines().toList());
    return p.exitValue();
  }

  private static float[] floats(List<Object> l) {
    float[] a = new float[l.size()];
    for (int i = 0; i < a.length; i++) a[i] = (Float) l.get(i);
    return a;
  }

  private static double[] doubles(List<Object> l) {
    double[] a = new double[l.size()];
    for (int i = 0; i < a.length; i++) a[i] = (Double) l.get(i);
    return a;
  }

  /** Rows of a Parquet dataset by id. */
  private static Map<Long, Row> byId(String path) {
    Map<Long, Row> m = new TreeMap<>();
    for (Row r : spark.read().parquet(path).collectAsList()) m.put(r.getLong(0), r);
    return m;
  }

  @Test
  void forwardAndBackwardOfNamedColumnsGiveTheCoreApisResults() throws Exception {
    String in = dir.resolve("in").toString();
    String fwd = dir.resolve("forward").toString();
    List<String> err = new ArrayList<>();
    int code = batch(err, fwd, "--function", "elu", "--param", "alpha=0.5", "--columns", "a,b");
    assertEquals(0, code, String.join("\n", err));
    assertTrue(
        err.stream()
            .anyMatch(
                l ->
                    l.contains(
                        "rows by backend: {cpu="
                            + ROWS
                            + "}; calls by backend: {cpu="
                            + 2 * ROWS
                            + "}")),
        "the summary counts each row once, and both columns' calls, under the CPU: " + err);
    String bwd = dir.resolve("backward").toString();
    code = batch(err, bwd, "--function", "gelu", "--backward", "--columns", "a,b");
    assertEquals(0, code, String.join("\n", err));

    Map<Long, Row> src = byId(in);
    Map<Long, Row> forward = byId(fwd);
    Map<Long, Row> backward = byId(bwd);
    assertEquals(ROWS, forward.size());
    assertEquals(ROWS, backward.size());
    try (Rectifier r = Rectifier.create("cpu")) {
      for (Map.Entry<Long, Row> e : src.entrySet()) {
        Row s = e.getValue();
        float[] a = floats(s.getList(1));
        float[] ag = floats(s.getList(2));
        double[] b = doubles(s.getList(3));
        double[] bg = doubles(s.getList(4));
        float[] wantA = new float[a.length];
        double[] wantB = new double[b.length];
        r.forward(Activation.elu(0.5), a, wantA);
        r.forward(Activation.elu(0.5), b, wantB);
        Row f = forward.get(e.getKey());
        assertTrue(Arrays.equals(wantA, floats(f.getList(1))), "forward a of row " + e.getKey());
        assertTrue(Arrays.equals(wantB, doubles(f.getList(3))), "forward b of row " + e.getKey());
        assertTrue(Arrays.equals(ag, floats(f.getList(2))), "a_grad passes through");
        r.backward(Activation.gelu(), a, ag, wantA);
        r.backward(Activation.gelu(), b, bg, wantB);
        Row g = backward.get(e.getKey());
        assertTrue(Arrays.equals(wantA, floats(g.getList(1))), "backward a of row " + e.getKey());
        assertTrue(Arrays.equals(wantB, doubles(g.getList(3))), "backward b of row " + e.getKey());
      }
    }
  }

  @Test
  void aBadCallExitsTwoWithOneLineAndWritesNothing() throws Exception {
    Path out = dir.resolve("bad");
    List<String> err = new ArrayList<>();
    int code =
        batch(
            err,
            out.toString(),
            "--function",
            "leaky_relu",
            "--param",
            "slop=0.1",
            "--columns",
            "a");
    assertEquals(2, code, String.join("\n", err));
    List<String> ours = err.stream().filter(l -> l.startsWith("rectifier-spark:")).toList();
    assertEquals(1, ours.size(), String.join("\n", err));
    assertTrue(
        ours.get(0).contains("unknown parameter 'slop' for leaky_relu; it takes: slope"),
        ours.get(0));
    assertFalse(Files.exists(out), "nothing written");

    err.clear();
    code = batch(err, out.toString(), "--function", "relu", "--columns", "c");
    assertEquals(2, code, String.join("\n", err));
    assertTrue(
        err.stream()
            .anyMatch(
                l ->
                    l.equals(
                        "rectifier-spark: --columns: the input has no column 'c'; it has: id, a, a_grad, b, b_grad")),
        String.join("\n", err));
    assertFalse(Files.exists(out), "nothing written");
  }

  /**
   * Entries of {@code dir}'s folder whose name starts with {@code prefix}, hidden ones included.
   */
  private static List<String> beside(Path target) throws IOException {
    try (var list = Files.list(target.getParent())) {
      return list.map(p -> p.getFileName().toString())
          .filter(n -> n.contains(target.getFileName().toString()))
          .sorted()
          .toList();
    }
  }

  @Test
  void aRunThatFailsWhileComputingLeavesNothingAndTheRerunSucceeds() throws Exception {
    Path out = dir.resolve("failed");
    List<String> err = new ArrayList<>();
    // maxout with 3 pieces cannot split the 16 channels of a row: the tasks fail
    int code =
        batch(err, out.toString(), "--function", "maxout", "--param", "pieces=3", "--columns", "a");
    assertEquals(1, code, String.join("\n", err));
    assertTrue(
        err.stream().anyMatch(l -> l.startsWith("rectifier-spark: ") && l.contains("pieces=3")),
        String.join("\n", err));
    assertEquals(List.of(), beside(out), "neither the output nor its staging directory is left");

    err.clear();
    code =
        batch(err, out.toString(), "--function", "maxout", "--param", "pieces=4", "--columns", "a");
    assertEquals(0, code, "the rerun finds no directory in its way: " + String.join("\n", err));
    assertEquals(List.of("failed"), beside(out));
    long rows = spark.read().parquet(out.toString()).count();
    assertEquals(ROWS, rows);

    // overwrite: a failing run leaves the old output as it was
    err.clear();
    code =
        batch(
            err,
            out.toString(),
            "--mode",
            "overwrite",
            "--function",
            "maxout",
            "--param",
            "pieces=5",
            "--columns",
            "a");
    assertEquals(1, code, String.join("\n", err));
    assertEquals(List.of("failed"), beside(out));
    Row first = spark.read().parquet(out.toString()).orderBy("id").first();
    assertEquals(4, first.getList(1).size(), "the pieces=4 output is still there");
  }
}
