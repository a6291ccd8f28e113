package dev.rectifier.bench;

import dev.rectifier.Activation;
import dev.rectifier.ActivationStats;
import dev.rectifier.DType;
import dev.rectifier.DeviceBuffer;
import dev.rectifier.Rectifier;
import dev.rectifier.Shape;
import java.util.Random;
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
 * What the statistics cost: the forward with them against the plain forward, in the same run, on
 * host arrays and on the backend's buffers (report the ratio of each pair); per channel too, on
 * {@code [16, 64, 65536]} along axis 1 (NCHW-like: runs of 65,536) and on {@code [1048576, 64]}
 * along the last axis (channels-last: runs of 1).
 *
 * <p>{@code mvn -Pbench test-compile exec:exec -Djmh.args="StatsBench"}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
public class StatsBench {
  @Param({"cpu", "opencl"})
  String backend;

  @Param({"relu", "gelu"})
  String function;

  /** 64M float32: the size the goal is stated at. */
  @Param({"67108864"})
  int n;

  private float[] x;
  private float[] y;
  private Rectifier engine;
  private Activation f;
  private DeviceBuffer bx;
  private DeviceBuffer by;
  private Shape shape;
  private final Shape channelsFirst = Shape.of(16, 64, 65_536);
  private final Shape channelsLast = Shape.of(1_048_576, 64);

  @Setup(Level.Trial)
  public void setUp() {
    x = new float[n];
    y = new float[n];
    Random r = new Random(3);
    for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * 3);
    engine = Rectifier.create(backend);
    f = Activation.of(function, java.util.Map.of(), null);
    bx = engine.upload(x);
    by = engine.allocate(DType.FLOAT32, n);
    shape = Shape.vector(n);
    if (channelsFirst.size() != n || channelsLast.size() != n) {
      throw new IllegalArgumentException("the per-channel shapes are for n = 67108864");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    bx.close();
    by.close();
    engine.close();
  }

  @Benchmark
  public float[] plainHostArrays() {
    engine.forward(f, x, y);
    return y;
  }

  @Benchmark
  public ActivationStats statsHostArrays() {
    return engine.forwardWithStats(f, x, y);
  }

  @Benchmark
  public DeviceBuffer plainResident() {
    engine.forward(f, shape, bx, by);
    return by;
  }

  @Benchmark
  public ActivationStats statsResident() {
    return engine.forwardWithStats(f, shape, bx, null, by);
  }

  @Benchmark
  public java.util.List<ActivationStats> channelStatsChannelsFirst() {
    return engine.forwardWithChannelStats(f, channelsFirst, 1, x, null, y);
  }

  @Benchmark
  public java.util.List<ActivationStats> channelStatsChannelsLast() {
    return engine.forwardWithChannelStats(f, channelsLast, -1, x, null, y);
  }

  @Benchmark
  public java.util.List<ActivationStats> channelStatsResident() {
    return engine.forwardWithChannelStats(f, channelsFirst, 1, bx, null, by);
  }
}
