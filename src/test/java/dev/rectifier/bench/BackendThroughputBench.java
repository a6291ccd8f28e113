package dev.rectifier.bench;

import dev.rectifier.Activation;
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
 * relu and gelu on float32 through each backend, on host arrays and on buffers resident on the
 * backend, in one run so that the backends compare directly (report ratios to the cpu rows).
 *
 * <p>{@code mvn -Pbench test-compile exec:exec -Djmh.args="BackendThroughputBench"}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class BackendThroughputBench {
  @Param({"cpu", "opencl"})
  String backend;

  @Param({"16777216"})
  int n;

  private float[] x;
  private float[] y;
  private Rectifier engine;
  private DeviceBuffer bx;
  private DeviceBuffer by;
  private Shape shape;
  private final Activation relu = Activation.relu();
  private final Activation gelu = Activation.gelu();

  @Setup(Level.Trial)
  public void setUp() {
    x = new float[n];
    y = new float[n];
    Random r = new Random(3);
    for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * 3);
    engine = Rectifier.create(backend);
    bx = engine.upload(x);
    by = engine.allocate(DType.FLOAT32, n);
    shape = Shape.vector(n);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    bx.close();
    by.close();
    engine.close();
  }

  @Benchmark
  public float[] reluHostArrays() {
    engine.forward(relu, x, y);
    return y;
  }

  @Benchmark
  public float[] geluHostArrays() {
    engine.forward(gelu, x, y);
    return y;
  }

  @Benchmark
  public DeviceBuffer reluResident() {
    engine.forward(relu, shape, bx, by);
    return by;
  }

  @Benchmark
  public DeviceBuffer geluResident() {
    engine.forward(gelu, shape, bx, by);
    return by;
  }
}
