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
 * What float16 storage costs against float32, in the same run: the forward on {@code short[]}
 * arrays (widened to float64 on the host, a part at a time) and on float16 buffers (widened,
 * computed and rounded on the backend), each beside the float32 forward on the same kind of memory
 * (report the ratio of each pair).
 *
 * <p>{@code mvn -Pbench test-compile exec:exec -Djmh.args="HalfBench"}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
public class HalfBench {
  @Param({"cpu", "opencl"})
  String backend;

  @Param({"relu", "gelu"})
  String function;

  @Param({"16777216"})
  int n;

  private float[] x;
  private float[] y;
  private short[] hx;
  private short[] hy;
  private Rectifier engine;
  private Activation f;
  private DeviceBuffer bx;
  private DeviceBuffer by;
  private DeviceBuffer bhx;
  private DeviceBuffer bhy;
  private Shape shape;

  @Setup(Level.Trial)
  public void setUp() {
    x = new float[n];
    y = new float[n];
    hx = new short[n];
    hy = new short[n];
    Random r = new Random(3);
    for (int i = 0; i < n; i++) {
      hx[i] = DType.FLOAT16.encode(r.nextGaussian() * 3);
      x[i] = DType.FLOAT16.decode(hx[i]);
    }
    engine = Rectifier.create(backend);
    f = Activation.of(function, java.util.Map.of(), null);
    bx = engine.upload(x);
    by = engine.allocate(DType.FLOAT32, n);
    bhx = engine.upload(DType.FLOAT16, hx);
    bhy = engine.allocate(DType.FLOAT16, n);
    shape = Shape.vector(n);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    bx.close();
    by.close();
    bhx.close();
    bhy.close();
    engine.close();
  }

  @Benchmark
  public float[] float32HostArrays() {
    engine.forward(f, x, y);
    return y;
  }

  @Benchmark
  public short[] float16HostArrays() {
    engine.forward(f, DType.FLOAT16, hx, hy);
    return hy;
  }

  @Benchmark
  public DeviceBuffer float32Resident() {
    engine.forward(f, shape, bx, by);
    return by;
  }

  @Benchmark
  public DeviceBuffer float16Resident() {
    engine.forward(f, shape, bhx, bhy);
    return bhy;
  }
}
