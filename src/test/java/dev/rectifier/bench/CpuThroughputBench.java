package dev.rectifier.bench;

import dev.rectifier.Activation;
import dev.rectifier.Rectifier;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
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
 * The CPU backend's throughput on float32 arrays against {@code System.arraycopy} of the same bytes
 * measured in the same run, on one thread and split over the cores as the backend splits (the
 * memory-bandwidth limit of an out-of-place elementwise function). Report ratios, not absolutes:
 * this machine's bandwidth drifts.
 *
 * <p>{@code mvn -Pbench test-compile exec:exec -Djmh.args="CpuThroughputBench"}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class CpuThroughputBench {
  @Param({"4096", "16777216"})
  int n;

  private float[] x;
  private float[] y;
  private Rectifier engine;
  private ForkJoinPool pool;
  private final Activation relu = Activation.relu();
  private final Activation elu = Activation.elu();
  private final Activation leaky = Activation.leakyRelu();

  @Setup(Level.Trial)
  public void setUp() {
    x = new float[n];
    y = new float[n];
    Random r = new Random(1);
    for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * 3);
    engine = Rectifier.create("cpu");
    pool = new ForkJoinPool(Runtime.getRuntime().availableProcessors());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    engine.close();
    pool.shutdown();
  }

  @Benchmark
  public float[] arraycopy() {
    System.arraycopy(x, 0, y, 0, n);
    return y;
  }

  /** arraycopy split into one contiguous part per core, as the backend splits its work. */
  @Benchmark
  public float[] arraycopyAllCores() {
    int parts = Runtime.getRuntime().availableProcessors();
    ForkJoinTask<?>[] t = new ForkJoinTask<?>[parts];
    for (int p = 0; p < parts; p++) {
      int from = (int) ((long) n * p / parts);
      int to = (int) ((long) n * (p + 1) / parts);
      t[p] = pool.submit(() -> System.arraycopy(x, from, y, from, to - from));
    }
    for (ForkJoinTask<?> task : t) task.join();
    return y;
  }

  @Benchmark
  public float[] relu() {
    engine.forward(relu, x, y);
    return y;
  }

  @Benchmark
  public float[] leakyRelu() {
    engine.forward(leaky, x, y);
    return y;
  }

  @Benchmark
  public float[] elu() {
    engine.forward(elu, x, y);
    return y;
  }
}
