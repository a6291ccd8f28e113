package dev.rectifier.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.Activation;
import dev.rectifier.Rectifier;
import java.util.List;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * A session made with {@code spark.sql.extensions=dev.rectifier.spark.RectifierExtensions} and no
 * register() call has the functions, computed by the Rectifier operator, with the core API's
 * results and the library's errors.
 */
class SparkExtensionsTest {
  private static SparkSession spark;

  @BeforeAll
  static void start() {
    spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("rectifier-extensions-test")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.extensions", RectifierExtensions.class.getName())
            .getOrCreate();
  }

  @AfterAll
  static void stop() {
    if (spark != null) spark.stop();
  }

  @Test
  void sqlAloneHasTheFunctions() {
    assertEquals(
        RectifierExtensions.class.getName(),
        spark.conf().get("spark.sql.extensions", ""),
        "a session of its own, made with the extension (not one left by another test)");
    var df =
        spark.sql(
            "SELECT x, rectifier_forward('softplus', x, map('beta', 2, 'threshold', 10)) AS y"
                + " FROM (SELECT transform(sequence(0, 63), i -> cast((id * 64 + i - 3000) / 97.0"
                + " AS double)) AS x FROM range(0, 100))");
    assertTrue(
        df.queryExecution().executedPlan().toString().contains("RectifierEval ["),
        df.queryExecution().executedPlan().toString());
    List<Row> rows = df.collectAsList();
    assertEquals(100, rows.size());
    try (Rectifier r = Rectifier.create("cpu")) {
      for (Row row : rows) {
        double[] x = SparkFunctionsTest.doubles(row.getList(0));
        double[] want = new double[x.length];
        r.forward(Activation.softplus(2, 10), x, want);
        assertEquals(
            SparkFunctionsTest.bits(want),
            SparkFunctionsTest.bits(SparkFunctionsTest.doubles(row.getList(1))));
      }
    }
    Executable bad = () -> spark.sql("SELECT rectifier_forward('mish', array(1d), map('beta', 1))");
    AnalysisException e =
        org.junit.jupiter.api.Assertions.assertThrows(AnalysisException.class, bad);
    assertTrue(e.getMessage().contains("unknown parameter 'beta' for mish"), e.getMessage());
  }
}
