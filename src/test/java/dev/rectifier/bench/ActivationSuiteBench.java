package dev.rectifier.bench;

import dev.rectifier.Activation;
import dev.rectifier.DType;
import dev.rectifier.DeviceBuffer;
import dev.rectifier.Rectifier;
import dev.rectifier.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The performance suite (issue 5): relu, leaky_relu, elu, gelu, silu and mish, float32 and float64,
 * 4K to 64M elements, out of place and in place, on host arrays and on buffers resident on the
 * backend, for each backend asked for; and, in the same run, {@code System.arraycopy} of the same
 * bytes on one thread and split over every core ({@link #copy}): the memory-bandwidth limit of an
 * out-of-place elementwise function. Report each figure as a ratio to the copy of its size and type
 * from the same run; the machine's bandwidth drifts too much for absolutes.
 *
 * <p>The whole grid takes about 40 minutes on 2 cores; narrow it with JMH's {@code -p}, e.g. {@code
 * -Djmh.args="ActivationSuiteBench -p function=relu,elu -p size=67108864"}. A backend that cannot
 * run here fails its rows with the reason and the rest go on; {@code -p backend=cuda} on a GPU
 * machine.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms6g", "-Xmx6g"})
public class ActivationSuiteBench {

  /** One configuration of an activation call and its data. */
  @State(Scope.Benchmark)
  public static class Call {
    @Param({"cpu", "opencl"})
    String backend;

    @Param({"relu", "leaky_relu", "elu", "gelu", "silu", "mish"})
    String function;

    @Param({"f32", "f64"})
    String dtype;

    @Param({"4096", "262144", "4194304", "67108864"})
    int size;

    /** {@code out}: y = f(x) into another array; {@code in}: x = f(x). */
    @Param({"out", "in"})
    String placement;

    /** {@code host}: Java arrays; {@code device}: buffers resident on the backend. */
    @Param({"host", "device"})
    String memory;

    Rectifier engine;
    Activation f;
    Shape shape;
    float[] xf;
    float[] yf;
    double[] xd;
    double[] yd;
    DeviceBuffer bx;
    DeviceBuffer by;

    @Setup(Level.Trial)
    public void setUp() {
      engine = Rectifier.create(backend);
      f = Activation.of(function, Map.of(), null);
      shape = Shape.vector(size);
      Random r = new Random(7);
      if (dtype.equals("f32")) {
        xf = new float[size];
        for (int i = 0; i < size; i++) xf[i] = (float) (r.nextGaussian() * 3);
        yf = placement.equals("in") ? xf : new float[size];
        if (memory.equals("device")) {
          bx = engine.upload(xf);
          by = placement.equals("in") ? bx : engine.allocate(DType.FLOAT32, size);
        }
      } else {
        xd = new double[size];
        for (int i = 0; i < size; i++) xd[i] = r.nextGaussian() * 3;
        yd = placement.equals("in") ? xd : new double[size];
        if (memory.equals("device")) {
          bx = engine.upload(xd);
          by = placement.equals("in") ? bx : engine.allocate(DType.FLOAT64, size);
        }
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      if (by != null && by != bx) by.close();
      if (bx != null) bx.close();
      engine.close();
    }
  }

  /** The same bytes copied: one thread, and split over every core. */
  @State(Scope.Benchmark)
  public static class Copy {
    @Param({"f32", "f64"})
    String dtype;

    @Param({"4096", "262144", "4194304", "67108864"})
    int size;

    Object src;
    Object dst;
    final int parts = Runtime.getRuntime().availableProcessors();
    ExecutorService helpers;

    @Setup(Level.Trial)
    public void setUp() {
      src = dtype.equals("f32") ? new float[size] : new double[size];
      dst = dtype.equals("f32") ? new float[size] : new double[size];
      helpers =
          Executors.newFixedThreadPool(
              Math.max(1, parts - 1),
              r -> {
                Thread t = new Thread(r, "copy-helper");
                t.setDaemon(true);
                return t;
              });
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      helpers.shutdownNow();
    }

    void part(int p) {
      int per = (size + parts - 1) / parts;
      int from = p * per;
      int n = Math.min(per, size - from);
      if (n > 0) System.arraycopy(src, from, dst, from, n);
    }
  }

  @Benchmark
  public Object activation(Call c) {
    boolean host = c.memory.equals("host");
    if (c.dtype.equals("f32")) {
      if (host) c.engine.forward(c.f, c.xf, c.yf);
      else c.engine.forward(c.f, c.shape, c.bx, c.by);
      return host ? c.yf : c.by;
    }
    if (host) c.engine.forward(c.f, c.xd, c.yd);
    else c.engine.forward(c.f, c.shape, c.bx, c.by);
    return host ? c.yd : c.by;
  }

  @Benchmark
  public Object copy(Copy c) {
    System.arraycopy(c.src, 0, c.dst, 0, c.size);
    return c.dst;
  }

  /** One part per core, the calling thread taking the first, as the CPU backend splits. */
  @Benchmark
  public Object copyAllCores(Copy c) throws Exception {
    List<Future<?>> rest = new ArrayList<>();
    for (int p = 1; p < c.parts; p++) {
      int part = p;
      rest.add(c.helpers.submit(() -> c.part(part)));
    }
    c.part(0);
    for (Future<?> f : rest) f.get();
    return c.dst;
  }
}
