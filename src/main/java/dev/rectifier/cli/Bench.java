package dev.rectifier.cli;

import com.google.gson.GsonBuilder;
import dev.rectifier.Activation;
import dev.rectifier.DType;
import dev.rectifier.DeviceBuffer;
import dev.rectifier.Rectifier;
import dev.rectifier.RectifierException;
import dev.rectifier.Shape;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code bench}: each backend's throughput on this machine against its copy bandwidth, measured in
 * the same run ({@code System.arraycopy} of the same bytes, split over every core as the CPU
 * backend splits), as a table, as JSON, and as a PNG plot. Its own timing loop, not JMH's (the
 * runnable jar carries no JMH): each point is the fastest of the calls made in {@code --time}
 * seconds after a warmup, which for these calls (no allocation, no I/O) tracks JMH's averages
 * within a few percent; the JMH suite (ActivationSuiteBench) is the reference.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description =
        "Throughput of each usable backend against this machine's copy bandwidth, measured in the"
            + " same run: a table, and a PNG plot (throughput against size, one line per backend"
            + " and function, the copy as a line).")
final class Bench implements Callable<Integer> {
  @ParentCommand Main main;
  @Spec CommandSpec spec;

  @Option(
      names = "--functions",
      split = ",",
      defaultValue = "relu,gelu",
      description = "Functions to time (default: ${DEFAULT-VALUE}).")
  List<String> functions;

  @Option(
      names = "--sizes",
      split = ",",
      defaultValue = "4096,262144,4194304,67108864",
      description = "Element counts (default: ${DEFAULT-VALUE}).")
  List<Integer> sizes;

  @Option(names = "--dtype", defaultValue = "f32", description = "f32 or f64 (default: f32).")
  String dtype;

  @Option(
      names = "--backend",
      description = "Time this backend only (default: every backend that runs here).")
  String backend;

  @Option(
      names = "--time",
      defaultValue = "0.3",
      description = "Seconds of timed calls per point (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(
      names = "--plot",
      defaultValue = "bench.png",
      description = "Where to write the PNG plot (default: ${DEFAULT-VALUE}); '-' for none.")
  String plot;

  @Option(names = "--json", description = "Print the rows as JSON instead of a table.")
  boolean json;

  record Row(
      String backend,
      String memory,
      String function,
      int size,
      double micros,
      double gbPerSecond,
      double ratioToCopy) {}

  @Override
  public Integer call() throws Exception {
    DType t =
        switch (dtype) {
          case "f32" -> DType.FLOAT32;
          case "f64" -> DType.FLOAT64;
          default ->
              throw new IllegalArgumentException("--dtype is " + dtype + "; give f32 or f64");
        };
    List<Activation> fs = new ArrayList<>();
    for (String f : functions) {
      try {
        fs.add(Activation.of(f.trim(), Map.of(), null));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "--functions: "
                + e.getMessage().replace("; give its value", "")
                + (e.getMessage().contains("needs the parameter")
                    ? ", which bench does not take (it times each function with its defaults);"
                        + " leave it out"
                    : ""));
      }
    }
    for (int n : sizes) {
      if (n < 1)
        throw new IllegalArgumentException("--sizes has " + n + "; give counts of 1 or more");
    }
    if (!(seconds > 0 && seconds <= 60)) {
      throw new IllegalArgumentException("--time is " + seconds + "; give seconds in (0, 60]");
    }
    Path png = plot.equals("-") ? null : Path.of(plot);
    if (png != null) {
      Path dir = png.toAbsolutePath().getParent();
      if (dir == null || !Files.isDirectory(dir)) {
        throw new IllegalArgumentException("--plot " + plot + ": no such directory");
      }
    }
    // the plot's file made now, so that a place it cannot go fails before the run, not after
    try (Outputs outputs = new Outputs()) {
      Path written = png == null ? null : outputs.add("--plot", png);
      run(t, fs, png, outputs, written);
    }
    return 0;
  }

  private void run(DType t, List<Activation> fs, Path png, Outputs outputs, Path written)
      throws Exception {
    List<String> names =
        backend != null
            ? List.of(backend.trim().toLowerCase(Locale.ROOT))
            : Rectifier.backendNames();

    List<Row> rows = new ArrayList<>();
    Map<Integer, Double> copy = new LinkedHashMap<>();
    for (int n : sizes) copy.put(n, copyMicros(n, t));
    for (int n : sizes) {
      double us = copy.get(n);
      rows.add(new Row("copy", "host", "arraycopy", n, us, gb(n, t, us), 1));
    }
    for (String name : names) {
      Rectifier opened;
      try {
        opened = main.engines.open(name); // probes it: once, not twice
      } catch (RectifierException e) {
        if (backend != null) throw e;
        // the engine was opened by name, but the user forced nothing: the reason alone
        String why = e.getMessage();
        int at = why.indexOf("cannot run: ");
        if (at >= 0) why = why.substring(at + "cannot run: ".length());
        int fix = why.indexOf(". Fix that, or choose another backend");
        if (fix >= 0) why = why.substring(0, fix);
        spec.commandLine().getErr().println("skipped " + name + ": " + why);
        continue;
      }
      try (Rectifier r = opened) {
        for (Activation f : fs) {
          for (int n : sizes) {
            Data d = new Data(n, t);
            double host = time(() -> d.host(r, f));
            rows.add(row(name, "host", f, n, t, host, copy.get(n)));
            try (DeviceBuffer x = d.upload(r);
                DeviceBuffer y = r.allocate(t, n)) {
              Shape s = Shape.vector(n);
              double resident = time(() -> r.forward(f, s, x, y));
              rows.add(row(name, "device", f, n, t, resident, copy.get(n)));
            }
          }
        }
      }
    }
    print(rows);
    if (png != null) writePlot(png, written, outputs, rows, t, spec.commandLine().getErr());
  }

  private static Row row(String b, String m, Activation f, int n, DType t, double us, double c) {
    return new Row(b, m, f.function().id(), n, us, gb(n, t, us), c / us);
  }

  /** Bytes read and written (x in, y out) per second. */
  private static double gb(int n, DType t, double micros) {
    return 2.0 * n * t.bytes() / (micros * 1e-6) / 1e9;
  }

  /** The data of one point: x (normal, sd 3), y. */
  private static final class Data {
    final float[] xf;
    final float[] yf;
    final double[] xd;
    final double[] yd;

    Data(int n, DType t) {
      Random r = new Random(11);
      if (t == DType.FLOAT32) {
        xf = new float[n];
        yf = new float[n];
        for (int i = 0; i < n; i++) xf[i] = (float) (r.nextGaussian() * 3);
        xd = null;
        yd = null;
      } else {
        xd = new double[n];
        yd = new double[n];
        for (int i = 0; i < n; i++) xd[i] = r.nextGaussian() * 3;
        xf = null;
        yf = null;
      }
    }

    void host(Rectifier r, Activation f) {
      if (xf != null) r.forward(f, xf, yf);
      else r.forward(f, xd, yd);
    }

    DeviceBuffer upload(Rectifier r) {
      return xf != null ? r.upload(xf) : r.upload(xd);
    }
  }

  /** Microseconds per call: the fastest call made in {@code seconds} after a warmup. */
  private double time(Runnable call) {
    long warm = System.nanoTime() + (long) (seconds * 0.5e9);
    int calls = 0;
    while (calls < 2 || System.nanoTime() < warm) {
      call.run();
      calls++;
    }
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long best = Long.MAX_VALUE;
    calls = 0;
    while (calls < 3 || System.nanoTime() < end) {
      long t0 = System.nanoTime();
      call.run();
      best = Math.min(best, System.nanoTime() - t0);
      calls++;
    }
    return best / 1e3;
  }

  /** The copy of the same bytes, one part per core (as the CPU backend splits large calls). */
  private double copyMicros(int n, DType t) throws Exception {
    Object src = t == DType.FLOAT32 ? new float[n] : new double[n];
    Object dst = t == DType.FLOAT32 ? new float[n] : new double[n];
    int parts = n < (1 << 19) ? 1 : Runtime.getRuntime().availableProcessors();
    int per = (n + parts - 1) / parts;
    ExecutorService helpers = Executors.newFixedThreadPool(Math.max(1, parts - 1));
    try {
      return time(
          () -> {
            List<Future<?>> rest = new ArrayList<>();
            for (int p = 1; p < parts; p++) {
              int from = p * per;
              int len = Math.min(per, n - from);
              if (len > 0)
                rest.add(helpers.submit(() -> System.arraycopy(src, from, dst, from, len)));
            }
            System.arraycopy(src, 0, dst, 0, Math.min(per, n));
            try {
              for (Future<?> f : rest) f.get();
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          });
    } finally {
      helpers.shutdownNow();
    }
  }

  private void print(List<Row> rows) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(new GsonBuilder().setPrettyPrinting().create().toJson(rows));
      return;
    }
    out.printf(
        Locale.ROOT,
        "%-7s %-7s %-11s %10s %12s %8s %8s%n",
        "backend",
        "memory",
        "function",
        "elements",
        "us/call",
        "GB/s",
        "x copy");
    for (Row r : rows) {
      out.printf(
          Locale.ROOT,
          "%-7s %-7s %-11s %10d %12.2f %8.2f %8.3g%n",
          r.backend(),
          r.memory(),
          r.function(),
          r.size(),
          r.micros(),
          r.gbPerSecond(),
          r.ratioToCopy());
    }
  }

  /** Host-array throughput against size, a line per backend and function, and the copy's line. */
  private static void writePlot(
      Path png, Path written, Outputs outputs, List<Row> rows, DType t, PrintWriter err)
      throws IOException {
    System.setProperty("java.awt.headless", "true"); // a file is drawn, no window opened
    XYChart chart =
        new XYChartBuilder()
            .width(1000)
            .height(620)
            .title("Rectifier on host arrays, " + t.shortName() + " (bytes in + out per second)")
            .xAxisTitle("elements")
            .yAxisTitle("GB/s")
            .build();
    chart.getStyler().setXAxisLogarithmic(true);
    chart.getStyler().setYAxisLogarithmic(true); // relu near the copy and gelu far below it
    Map<String, List<Row>> lines = new LinkedHashMap<>();
    for (Row r : rows) {
      if (!r.memory().equals("host")) continue;
      String key =
          r.backend().equals("copy") ? "copy (arraycopy)" : r.backend() + " " + r.function();
      lines.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
    }
    for (Map.Entry<String, List<Row>> e : lines.entrySet()) {
      double[] x = e.getValue().stream().mapToDouble(Row::size).toArray();
      double[] y = e.getValue().stream().mapToDouble(Row::gbPerSecond).toArray();
      chart.addSeries(e.getKey(), x, y);
    }
    try (OutputStream out =
        Files.newOutputStream(
            written, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
    }
    outputs.commit();
    err.println("plot: " + png);
  }
}
