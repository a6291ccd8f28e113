package dev.rectifier.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Single-thread float32 relu loops that meet the contract ({@code relu(-0) = -0}, NaN kept) against
 * {@code Math.max(x, 0)}, which the JIT vectorizes but which turns -0 into +0, and a plain copy:
 * the measurement behind the CPU backend's choice of loop.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ReluVariantsBench {
  @Param({"262144", "16777216"})
  int n;

  float[] x;
  float[] y;

  @Setup
  public void setUp() {
    x = new float[n];
    y = new float[n];
    Random r = new Random(2);
    for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
  }

  @Benchmark
  public float[] copy() {
    System.arraycopy(x, 0, y, 0, n);
    return y;
  }

  /** Not the contract (relu(-0) = +0): the speed to aim for. */
  @Benchmark
  public float[] mathMax() {
    for (int i = 0; i < n; i++) y[i] = Math.max(x[i], 0f);
    return y;
  }

  @Benchmark
  public float[] select() {
    for (int i = 0; i < n; i++) {
      float v = x[i];
      y[i] = v < 0 ? 0f : v;
    }
    return y;
  }

  @Benchmark
  public float[] minMaxScale() {
    for (int i = 0; i < n; i++) {
      float v = x[i];
      float t = Math.min(Math.max(v * 0x1p75f * 0x1p75f, -1f), 0f);
      y[i] = Math.max(v, -0f) * (1f + 2f * t);
    }
    return y;
  }

  /** Clears the bits of strictly negative, non-NaN values: sign set and 1 <= |bits| <= inf. */
  @Benchmark
  public float[] bits() {
    for (int i = 0; i < n; i++) {
      int b = Float.floatToRawIntBits(x[i]);
      int a = b & 0x7FFFFFFF;
      int zero = (b >> 31) & ((a - 0x7F800001) >> 31) & ~((a - 1) >> 31);
      y[i] = Float.intBitsToFloat(b & ~zero);
    }
    return y;
  }

  /**
   * max(x, 0) and then -0 back where x was -0, as a second select the JIT may turn into a blend.
   */
  @Benchmark
  public float[] maxThenSign() {
    for (int i = 0; i < n; i++) {
      float v = x[i];
      float m = Math.max(v, 0f);
      y[i] =
          Float.intBitsToFloat(
              Float.floatToRawIntBits(m)
                  | (Float.floatToRawIntBits(v)
                      & (Float.floatToRawIntBits(v) == 0x80000000 ? 0x80000000 : 0)));
    }
    return y;
  }
}
