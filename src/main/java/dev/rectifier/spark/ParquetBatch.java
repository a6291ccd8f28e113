package dev.rectifier.spark;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The batch command as a Spark application: reads Parquet, applies an activation (forward, or
 * backward with each column's gradient beside it) to the named columns, and writes Parquet, with
 * the progress Spark shows (its console progress bar, its UI). Run it with {@code spark-submit
 * --class dev.rectifier.spark.ParquetBatch target/rectifier.jar --input ... --output ...}. Exit
 * codes as the command-line tool's: 0 done, 2 bad usage or input (one line, nothing written), 1 a
 * failure while computing.
 */
@Command(
    name = "rectifier-spark",
    mixinStandardHelpOptions = true,
    description =
        "Applies an activation to columns of a Parquet dataset on Spark, forward or backward.")
public final class ParquetBatch implements Callable<Integer> {
  @Option(names = "--input", required = true, description = "Parquet files or directory to read")
  String input;

  @Option(names = "--output", required = true, description = "directory to write Parquet into")
  String output;

  @Option(
      names = "--function",
      required = true,
      description = "the activation (relu, leaky_relu, gelu, ...)")
  String function;

  @Option(
      names = "--param",
      description = "a parameter, NAME=VALUE (repeat it: --param alpha=0.5)",
      paramLabel = "NAME=VALUE")
  List<String> params = new ArrayList<>();

  @Option(
      names = "--columns",
      required = true,
      split = ",",
      description =
          "the columns to apply it to (array<float>, array<double> or binary); each is replaced"
              + " by its result")
  List<String> columns;

  @Option(
      names = "--backward",
      description = "backward: each column's gradient is the column named it plus --grad-suffix")
  boolean backward;

  @Option(
      names = "--grad-suffix",
      defaultValue = "_grad",
      description = "the suffix of the gradient columns of --backward (default: ${DEFAULT-VALUE})")
  String gradSuffix;

  @Option(
      names = "--storage",
      defaultValue = "float32",
      description = "how binary columns hold their values: float32 or float64 (little-endian)")
  String storage;

  @Option(
      names = "--mode",
      defaultValue = "error",
      description = "when --output exists: error (the default) or overwrite")
  String mode;

  private final SparkSession given;

  /** The command on {@code spark} (the tests' session); main() makes its own. */
  ParquetBatch(SparkSession spark) {
    this.given = spark;
  }

  public static void main(String[] args) {
    if (System.getProperty("spark.ui.showConsoleProgress") == null) {
      System.setProperty("spark.ui.showConsoleProgress", "true");
    }
    SparkSession spark = SparkSession.builder().appName("rectifier-batch").getOrCreate();
    int code;
    try {
      code = run(spark, args);
    } finally {
      spark.stop();
    }
    System.exit(code);
  }

  /** Runs the command line {@code args} on {@code spark}; the exit code. */
  static int run(SparkSession spark, String... args) {
    CommandLine cli = new CommandLine(new ParquetBatch(spark));
    cli.setExecutionExceptionHandler(
        (e, commandLine, parsed) -> {
          boolean bad = e instanceof AnalysisException || e instanceof IllegalArgumentException;
          commandLine.getErr().println("rectifier-spark: " + firstLine(cause(e)));
          return bad ? 2 : 1;
        });
    return cli.execute(args);
  }

  /**
   * What went wrong, in the words of the exception that began it: a task's failure reaches the
   * driver wrapped in Spark's "Job aborted due to stage failure" with the task's own exception as
   * its cause.
   */
  private static String cause(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) root = root.getCause();
    for (Throwable t : new Throwable[] {root, e}) {
      if (t.getMessage() != null && !t.getMessage().isBlank()) return t.getMessage();
    }
    return e.toString();
  }

  private static String firstLine(String s) {
    return s.strip().lines().findFirst().orElse(s);
  }

  @Override
  public Integer call() throws IOException {
    Map<String, Double> parsed = parseParams();
    SaveMode saveMode = saveMode();
    RectifierFunctions registered = RectifierSpark.register(given);
    Dataset<Row> in = given.read().parquet(input);
    List<String> have = Arrays.asList(in.columns());
    for (String c : columns) {
      if (!have.contains(c)) {
        throw new IllegalArgumentException(
            "--columns: the input has no column '" + c + "'; it has: " + String.join(", ", have));
      }
      if (backward && !have.contains(c + gradSuffix)) {
        throw new IllegalArgumentException(
            "--backward: the input has no column '"
                + c
                + gradSuffix
                + "' (the gradient of '"
                + c
                + "'); give the gradients' suffix with --grad-suffix");
      }
    }
    Dataset<Row> out = in;
    for (String c : columns) {
      List<Column> args = new ArrayList<>();
      args.add(functions.lit(function));
      args.add(functions.col(c));
      if (backward) args.add(functions.col(c + gradSuffix));
      args.add(paramsColumn(parsed));
      args.add(functions.lit(storage));
      String name = backward ? RectifierSpark.BackwardName() : RectifierSpark.ForwardName();
      out = out.withColumn(c, functions.call_function(name, args.toArray(new Column[0])));
    }
    long start = System.nanoTime();
    writeWhole(out, saveMode);
    System.err.printf(
        Locale.ROOT,
        "rectifier-spark: %s %s of %s written to %s in %.1f s; rows by backend: %s; calls by"
            + " backend: %s%n",
        backward ? "backward" : "forward",
        function,
        String.join(", ", columns),
        output,
        (System.nanoTime() - start) / 1e9,
        registered.backendsUsed(),
        registered.callsByBackend());
    return 0;
  }

  /**
   * Writes {@code out} to a hidden directory beside {@code --output} and renames it there once the
   * whole job has succeeded, so that a failed run leaves no partial or empty output behind (the
   * staging directory is removed then); an existing output, with --mode overwrite, is moved aside
   * only then, and removed once the new one is in place.
   */
  private void writeWhole(Dataset<Row> out, SaveMode saveMode) throws IOException {
    Configuration conf = given.sparkContext().hadoopConfiguration();
    Path target = new Path(output);
    FileSystem fs = target.getFileSystem(conf);
    target = fs.makeQualified(target);
    if (target.getParent() == null) {
      throw new IllegalArgumentException(
          "--output is '" + output + "', a file system's root; give a directory to create");
    }
    if (saveMode == SaveMode.ErrorIfExists && fs.exists(target)) {
      throw new IllegalArgumentException(
          "--output " + output + " exists; give another path, or --mode overwrite");
    }
    Path staging = beside(target, "rectifier");
    try {
      out.write().mode(SaveMode.ErrorIfExists).parquet(staging.toString());
    } catch (Exception e) { // SparkException too, which Scala throws undeclared
      // a failed job leaves the directory it wrote into (empty, or with a _temporary folder)
      try {
        fs.delete(staging, true);
      } catch (IOException again) {
        e.addSuppressed(again);
      }
      throw e;
    }
    // the job has succeeded: from here on, either the new output is at --output, or the old one
    // is back there and the new one is kept where it was written, named in the error
    FileContext files = FileContext.getFileContext(target.toUri(), conf);
    Path old = null;
    try {
      if (saveMode == SaveMode.Overwrite && fs.exists(target)) {
        old = beside(target, "rectifier-old");
        files.rename(target, old, Options.Rename.NONE);
      }
      // NONE: fails if --output appeared meanwhile, rather than moving the output inside it
      files.rename(staging, target, Options.Rename.NONE);
    } catch (IOException | RuntimeException e) {
      if (old != null) {
        try {
          files.rename(old, target, Options.Rename.NONE);
        } catch (IOException | RuntimeException again) {
          e.addSuppressed(again);
          throw new IOException(
              "could not put the finished output in place of "
                  + output
                  + " ("
                  + e.getMessage()
                  + "), nor the old one back; the new one is "
                  + staging
                  + ", the old one "
                  + old,
              e);
        }
      }
      throw new IOException(
          "could not rename the finished output "
              + staging
              + " to "
              + output
              + " ("
              + e.getMessage()
              + "); it is left there",
          e);
    }
    if (old != null && !fs.delete(old, true)) {
      System.err.println("rectifier-spark: could not remove the replaced output, now " + old);
    }
  }

  /** A hidden path beside {@code target}, unique to this run. */
  private static Path beside(Path target, String what) {
    return new Path(
        target.getParent(), "." + target.getName() + "." + what + "-" + UUID.randomUUID());
  }

  private static Column paramsColumn(Map<String, Double> params) {
    if (params.isEmpty()) {
      return functions.map_from_arrays(functions.array(), functions.array());
    }
    List<Column> kv = new ArrayList<>();
    params.forEach(
        (k, v) -> {
          kv.add(functions.lit(k));
          kv.add(functions.lit(v));
        });
    return functions.map(kv.toArray(new Column[0]));
  }

  private Map<String, Double> parseParams() {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String p : params) {
      int eq = p.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("--param '" + p + "': give NAME=VALUE, as alpha=0.5");
      }
      try {
        out.put(p.substring(0, eq).trim(), Double.parseDouble(p.substring(eq + 1).trim()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--param '" + p + "': the value is not a number; give NAME=VALUE, as alpha=0.5");
      }
    }
    return out;
  }

  private SaveMode saveMode() {
    switch (mode.toLowerCase(Locale.ROOT)) {
      case "error":
        return SaveMode.ErrorIfExists;
      case "overwrite":
        return SaveMode.Overwrite;
      default:
        throw new IllegalArgumentException(
            "--mode is '" + mode + "'; give error (the default) or overwrite");
    }
  }
}
