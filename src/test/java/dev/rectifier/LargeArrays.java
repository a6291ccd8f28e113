package dev.rectifier;

import java.util.Locale;

/**
 * Calls on a float array of {@code Integer.MAX_VALUE - 8} elements (8 GiB, the largest array
 * HotSpot allocates), in its own JVM ({@code LimitsIT} starts it with a heap of 9 GiB): in place
 * over the whole array, forward and backward, and over a range at its end. Each result must be
 * bit-equal to the same function of the same value computed in a small call: the array's values
 * repeat with period {@value #PERIOD}, so the small call's results are the whole answer. What could
 * break at this size is index arithmetic (a chunk start or a thread's share past 2^31 - 1) and
 * whole-array staging; the functions themselves are tested elsewhere.
 *
 * <p>Arguments: the backends to run on. Prints a line per call; exits 1 on the first wrong value.
 */
public final class LargeArrays {
  static final int PERIOD = 1999;

  private LargeArrays() {}

  private static float value(int i) {
    return ((i % PERIOD) - 999) * 0.375f;
  }

  private static void fill(float[] x) {
    for (int i = 0; i < x.length; i++) x[i] = value(i);
  }

  private static float[] period() {
    float[] p = new float[PERIOD];
    for (int i = 0; i < PERIOD; i++) p[i] = value(i);
    return p;
  }

  /** Fails at the first element of {@code got[from..]} that is not the period's answer. */
  private static void check(String what, float[] got, int from, int start, float[] want) {
    for (int i = from; i < got.length; i++) {
      float w = want[(start + i - from) % PERIOD];
      if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(w)) {
        System.out.printf(Locale.ROOT, "FAIL %s: at %d got %s, want %s%n", what, i, got[i], w);
        System.exit(1);
      }
    }
  }

  public static void main(String[] args) {
    int n = Integer.MAX_VALUE - 8;
    float[] x = new float[n];
    float[] p = period();
    for (String backend : args) {
      try (Rectifier r = Rectifier.create(backend)) {
        for (Activation f : new Activation[] {Activation.relu(), Activation.silu()}) {
          float[] want = new float[PERIOD];
          r.forward(f, p, want);
          fill(x);
          long t = System.nanoTime();
          r.forward(f, x, x);
          report(backend, "forward " + f + " in place", n, t);
          check(backend + " forward " + f, x, 0, 0, want);
        }
        Activation relu = Activation.relu();
        float[] want = new float[PERIOD];
        r.backward(relu, p, p, want);
        fill(x);
        long t = System.nanoTime();
        r.backward(relu, x, x, x); // x, grad_output and grad_input one array
        report(backend, "backward relu() in place", n, t);
        check(backend + " backward relu()", x, 0, 0, want);

        Activation elu = Activation.elu();
        want = new float[PERIOD];
        r.forward(elu, p, want);
        fill(x);
        float[] y = new float[1000];
        r.forward(elu, x, n - 1000, y, 0, 1000); // the array's last elements
        check(backend + " forward elu() of the last 1000", y, 0, n - 1000, want);
        System.out.println(backend + ": forward elu() of the last 1000 elements: right");
      }
    }
  }

  private static void report(String backend, String what, int n, long start) {
    System.out.printf(
        Locale.ROOT,
        "%s: %s over %d floats: right, %.2f s%n",
        backend,
        what,
        n,
        (System.nanoTime() - start) / 1e9);
  }
}
