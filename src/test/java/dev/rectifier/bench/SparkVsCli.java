package dev.rectifier.bench;

import dev.rectifier.cli.Npy;
import dev.rectifier.spark.RectifierSpark;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The Spark path in local mode against the plain command-line tool on the same data: {@code rows}
 * tensors of {@code width} floats, as one .npy of shape [rows, width] for the tool and as a Parquet
 * dataset of {@code rows} rows of array&lt;float&gt; for Spark. Times, best of three after a
 * warm-up: the tool's forward in a process of its own (JVM start included); in one Spark session,
 * Parquet read and written back unchanged (Spark's own cost) and with the activation applied to the
 * column; and the batch command (ParquetBatch) in a process of its own (JVM and Spark start
 * included). Not JMH: each measurement is a whole command or job, seconds long, as a user runs it.
 *
 * <p>{@code mvn -Pbench test-compile exec:exec -Dbench.main=dev.rectifier.bench.SparkVsCli
 * -Dbench.args="gelu 16384 1024"} after {@code mvn package} (the tool's jar).
 */
public final class SparkVsCli {
  private SparkVsCli() {}

  public static void main(String[] args) throws Exception {
    String function = args.length > 0 ? args[0] : "gelu";
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 16384;
    int width = args.length > 2 ? Integer.parseInt(args[2]) : 1024;
    long elements = (long) rows * width;
    Path dir = Files.createTempDirectory("rectifier-spark-vs-cli");
    float[] x = new float[Math.toIntExact(elements)];
    SplittableRandom rnd = new SplittableRandom(42);
    for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 3);
    Path npy = dir.resolve("x.npy");
    Npy.write(npy, new int[] {rows, width}, x);

    SparkSession spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("rectifier-spark-vs-cli")
            .config("spark.ui.enabled", "false")
            .getOrCreate();
    List<Row> data = new ArrayList<>(rows);
    for (int r = 0; r < rows; r++) {
      Float[] row = new Float[width];
      for (int i = 0; i < width; i++) row[i] = x[r * width + i];
      data.add(RowFactory.create((long) r, Arrays.asList(row)));
    }
    StructType schema =
        new StructType()
            .add("id", DataTypes.LongType)
            .add("x", DataTypes.createArrayType(DataTypes.FloatType, false));
    String parquet = dir.resolve("x.parquet").toString();
    spark.createDataFrame(data, schema).repartition(2).write().parquet(parquet);
    data = null;
    RectifierSpark.register(spark);

    String out = dir.resolve("y.parquet").toString();
    double copy =
        best(() -> spark.read().parquet(parquet).write().mode(SaveMode.Overwrite).parquet(out));
    double act =
        best(
            () ->
                spark
                    .read()
                    .parquet(parquet)
                    .withColumn("x", RectifierSpark.forward(function, functions.col("x")))
                    .write()
                    .mode(SaveMode.Overwrite)
                    .parquet(out));
    spark.stop();

    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String jar = System.getProperty("rectifier.jar", "target/rectifier.jar");
    Path y = dir.resolve("y.npy");
    double cli =
        best(
            () ->
                run(
                    List.of(
                        java,
                        "--add-modules",
                        "jdk.incubator.vector",
                        "-jar",
                        jar,
                        "forward",
                        function,
                        "--input",
                        npy.toString(),
                        "--output",
                        y.toString())));
    List<String> batch = new ArrayList<>();
    batch.add(java);
    batch.addAll(Arrays.asList(System.getProperty("spark.java.options", "").trim().split("\\s+")));
    batch.addAll(
        List.of(
            "--add-modules",
            "jdk.incubator.vector",
            "-Dspark.master=local[2]",
            "-Dspark.ui.enabled=false",
            "-Dspark.ui.showConsoleProgress=false",
            "-cp",
            System.getProperty("java.class.path"),
            "dev.rectifier.spark.ParquetBatch",
            "--input",
            parquet,
            "--output",
            out,
            "--mode",
            "overwrite",
            "--function",
            function,
            "--columns",
            "x"));
    double submit = best(() -> run(batch));

    System.out.printf(
        Locale.ROOT,
        "%s over %d rows x %d floats (%d elements), best of 3 after a warm-up:%n",
        function,
        rows,
        width,
        elements);
    row("CLI forward, .npy to .npy (process, JVM start included)", cli, elements);
    row("Spark batch command, Parquet to Parquet (process, JVM and Spark start)", submit, elements);
    row("Spark job in a session: Parquet read, activation, Parquet written", act, elements);
    row("Spark job in a session: Parquet read and written back, no activation", copy, elements);
    System.out.printf(
        Locale.ROOT,
        "the activation's share of the Spark job: %.2f s of %.2f%s%n",
        act - copy,
        act,
        Math.abs(act - copy) < 0.05 * copy ? " (within the run-to-run spread)" : "");
    deleteAll(dir.toFile());
  }

  private interface Step {
    void run() throws Exception;
  }

  private static double best(Step step) throws Exception {
    step.run();
    double best = Double.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      long t = System.nanoTime();
      step.run();
      best = Math.min(best, (System.nanoTime() - t) / 1e9);
    }
    return best;
  }

  private static void run(List<String> command) throws Exception {
    Process p =
        new ProcessBuilder(command)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    int code = p.waitFor();
    if (code != 0) throw new IllegalStateException("exit " + code + ": " + command);
  }

  private static void row(String what, double seconds, long elements) {
    System.out.printf(
        Locale.ROOT,
        "  %-72s %7.2f s  %7.1f M elements/s%n",
        what,
        seconds,
        elements / seconds / 1e6);
  }

  private static void deleteAll(File f) {
    File[] children = f.listFiles();
    if (children != null) for (File c : children) deleteAll(c);
    f.delete();
  }
}
