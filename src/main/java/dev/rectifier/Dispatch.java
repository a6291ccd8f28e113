package dev.rectifier;

import dev.rectifier.spi.Backend;
import dev.rectifier.spi.HostArray;
import java.util.Locale;

/**
 * Auto mode's choice, per call on host arrays, between a device backend and the CPU backend. A
 * device computes fast but pays a fixed cost per call and the copies of every element over its bus
 * both ways; the CPU computes in place. Each side's cost for a function is modelled as {@code t(n)
 * = fixed + n * perElement}, fitted to float32 calls of that function on 4K and 1M elements timed
 * on this machine the first time the function is called on host arrays (a fraction of a second),
 * and scaled by the element size for float64. One model per function, because devices differ
 * unevenly: PoCL runs relu 7x slower than the CPU backend but silu 2x faster (its compiler
 * vectorizes the math). The device computes a call when its model predicts less time. Buffers
 * resident on a device stay there: the choice is only for host arrays.
 *
 * <p>Thread-safety: a model is immutable once measured.
 */
final class Dispatch {
  /** {@code t(n) = fixed + n * perElement}, in seconds. */
  record Cost(double fixed, double perElement) {
    /**
     * Fitted through two timings: {@code t1} for {@code n1} elements, {@code t2} for {@code n2}.
     */
    static Cost fit(long n1, double t1, long n2, double t2) {
      double per = Math.max(0, (t2 - t1) / (n2 - n1));
      return new Cost(Math.max(0, t1 - n1 * per), per);
    }
  }

  /** One function's measured models, on the device and on the CPU. */
  record Costs(Cost device, Cost cpu) {}

  private Dispatch() {}

  /** Whether a call on {@code n} elements of {@code t} with these costs goes to the device. */
  static boolean onDevice(Costs c, DType t, long n) {
    long even = breakEven(c.device(), c.cpu());
    return even >= 0 && n * t.bytes() / DType.FLOAT32.bytes() >= even;
  }

  /**
   * The least float32 size from which the device's model is faster, 0 when it always is, or -1 when
   * it never is (a device no faster per element gains nothing from size; where it is also cheaper
   * per call, only tiny calls would go to it, and those are not worth a device either). {@link
   * #onDevice} decides by this number, so the rule {@code info} prints is the rule applied.
   */
  static long breakEven(Cost device, Cost cpu) {
    double faster = cpu.perElement() - device.perElement();
    double extra = device.fixed() - cpu.fixed();
    if (faster <= 0) return faster == 0 && extra < 0 ? 0 : -1;
    if (extra <= 0) return 0;
    return (long) Math.floor(extra / faster) + 1;
  }

  /**
   * The activation a function's model is measured with: the call's own for an elementwise function;
   * relu, the same memory traffic, for the channel functions (which need shapes).
   */
  static Activation representative(Activation f) {
    return f.function().channelwise() ? Activation.relu() : f;
  }

  /** The rule as {@code info} prints it, with each function measured so far. */
  static String describe(String device, java.util.Map<String, Costs> measured) {
    StringBuilder s =
        new StringBuilder("host arrays go to ")
            .append(device)
            .append(" where its measured cost is lower (float32 elements; float64 counts each as")
            .append(" two), per function, measured at its first call:");
    for (java.util.Map.Entry<String, Costs> e : measured.entrySet()) {
      Costs c = e.getValue();
      s.append(
          String.format(
              Locale.ROOT,
              " %s %s (%s %s, cpu %s);",
              e.getKey(),
              from(breakEven(c.device(), c.cpu())),
              device,
              show(c.device()),
              show(c.cpu())));
    }
    return s.toString();
  }

  private static String from(long n) {
    return n < 0 ? "never" : n == 0 ? "always" : "from " + n + " elements";
  }

  private static String show(Cost c) {
    return String.format(
        Locale.ROOT, "%.1f us + %.3f ns/element", c.fixed() * 1e6, c.perElement() * 1e9);
  }

  /** Times {@code f} on both backends, float32 host arrays of 4K and 1M elements. */
  static Costs calibrate(Activation f, Backend device, Backend cpu) {
    return new Costs(measure(device, f), measure(cpu, f));
  }

  private static final int SMALL = 4096;
  private static final int LARGE = 1 << 20;

  private static Cost measure(Backend b, Activation f) {
    // the large calls first: they get the JIT to compile the loops before the small ones are timed
    double large = best(b, f, LARGE, 4);
    return Cost.fit(SMALL, best(b, f, SMALL, 200), LARGE, large);
  }

  /**
   * The best of {@code reps} timed calls after as many untimed ones (the JIT's and caches' warmup).
   */
  private static double best(Backend b, Activation f, int n, int reps) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (i % 7) - 3.5f;
    float[] y = new float[n];
    HostArray hx = new HostArray(x, 0, n);
    HostArray hy = new HostArray(y, 0, n);
    Shape s = Shape.vector(n);
    double best = Double.MAX_VALUE;
    for (int r = 0; r < 2 * reps; r++) {
      long t0 = System.nanoTime();
      b.forward(f, s, hx, null, hy);
      long t = System.nanoTime() - t0;
      if (r >= reps) best = Math.min(best, t * 1e-9);
    }
    return best;
  }
}
