package dev.rectifier.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.Ulp;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The vectorizable float32 loops, on whatever JDK runs the tests (JDK 17 in CI, where the backend
 * does not use them, and where they run scalar): within 1 ULP of {@link Formulas} on 3M inputs
 * across the whole float range, bit-equal on the special values, out of place and in place.
 */
class VectorLoopsTest {
  private static final float[] SPECIALS = {
    0f,
    -0f,
    Float.MIN_VALUE,
    -Float.MIN_VALUE,
    Float.MIN_NORMAL,
    -Float.MIN_NORMAL,
    1f,
    -1f,
    -1.2784645f,
    -1.1924312f,
    -0.7517915f,
    5.6f,
    -14.4f,
    -36.5f,
    -40f,
    -40.1f,
    -42f,
    42f,
    39.99f,
    40f,
    40.01f,
    -87f,
    -88.7f,
    -103f,
    -104f,
    -150f,
    -745f,
    -1000f,
    -1e30f,
    Float.MAX_VALUE,
    -Float.MAX_VALUE,
    Float.POSITIVE_INFINITY,
    Float.NEGATIVE_INFINITY,
    Float.NaN
  };

  private static float[] inputs() {
    Random r = new Random(2026);
    int n = 3_000_000;
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] =
          switch (i % 4) {
            case 0 -> (float) (r.nextGaussian() * 3);
            case 1 -> (float) (r.nextDouble() * 240 - 200);
            case 2 -> Float.intBitsToFloat(r.nextInt()); // every exponent, NaNs included
            default -> (float) (r.nextGaussian() * 1e-3);
          };
    }
    System.arraycopy(SPECIALS, 0, x, 0, SPECIALS.length);
    return x;
  }

  interface Loop {
    void run(float[] x, int xo, float[] y, int yo, int n);
  }

  interface Exact {
    double at(double x);
  }

  static void check(String name, Loop loop, Exact exact) {
    check(name, loop, exact, 1);
  }

  /**
   * Runs {@code loop} out of place, at another output offset and in place over the inputs, and
   * holds it to {@code maxUlp} of {@code exact} rounded to float (0 on the special values).
   */
  static void check(String name, Loop loop, Exact exact, long maxUlp) {
    float[] x = inputs();
    float[] y = new float[x.length];
    loop.run(x, 0, y, 0, x.length);
    float[] shifted = new float[x.length + 3];
    loop.run(x, 0, shifted, 3, x.length); // the two-offset loop
    float[] inPlace = x.clone();
    loop.run(inPlace, 0, inPlace, 0, x.length);
    long worst = 0;
    for (int i = 0; i < x.length; i++) {
      float want = (float) exact.at(x[i]);
      long d = Ulp.distance(y[i], want);
      boolean special = i < SPECIALS.length;
      if ((special && d != 0) || d > maxUlp) {
        fail(name + "(" + x[i] + ") = " + y[i] + ", want " + want + " (" + d + " ULP)");
      }
      worst = Math.max(worst, d);
      if (Ulp.distance(y[i], shifted[i + 3]) != 0 || Ulp.distance(y[i], inPlace[i]) != 0) {
        fail(name + " at " + i + ": the three loops disagree");
      }
    }
    System.out.println(name + ": worst " + worst + " ULP from Formulas");
    assertTrue(worst <= maxUlp);
  }

  @Test
  void siluIsWithinOneUlpOfTheScalarDefinition() {
    check("VectorLoops.silu", VectorLoops::silu, Formulas::silu);
  }

  @Test
  void mishIsWithinOneUlpOfTheScalarDefinition() {
    check("VectorLoops.mish", VectorLoops::mish, Formulas::mish);
  }

  @Test
  void geluIsWithinOneUlpOfTheScalarDefinition() {
    check("VectorLoops.gelu", VectorLoops::gelu, Formulas::gelu);
  }
}
