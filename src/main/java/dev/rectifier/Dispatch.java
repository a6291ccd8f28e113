package dev.rectifier;

import dev.rectifier.spi.Backend;
import dev.rectifier.spi.HostArray;
import java.util.Locale;

/**
 * Auto mode's choice, per call on host arrays, between a device backend and the CPU backend. A
 * device computes fast but pays a fixed cost per call and the copies of every element over its bus
 * both ways; the CPU computes in place. Each side's cost is modelled as {@code t(n) = fixed + n *
 * perElement}, one model for memory-bound functions (the piecewise-linear ones, measured with relu)
 * and one for the others (measured with gelu), fitted to float32 calls of 4K and 1M elements timed
 * on this machine the first time host arrays are used (calibration, about a second), and scaled by
 * the element size for float64. The device computes a call when its model predicts less time.
 * Buffers resident on a device stay there: the choice is only for host arrays.
 *
 * <p>Thread-safety: the costs are immutable once measured.
 */
final class Dispatch {
  /** {@code t(n) = fixed + n * perElement}, in seconds. */
  record Cost(double fixed, double perElement) {
    double seconds(long n) {
      return fixed + n * perElement;
    }

    /**
     * Fitted through two timings: {@code t1} for {@code n1} elements, {@code t2} for {@code n2}.
     */
    static Cost fit(long n1, double t1, long n2, double t2) {
      double per = Math.max(0, (t2 - t1) / (n2 - n1));
      return new Cost(Math.max(0, t1 - n1 * per), per);
    }
  }

  /** The measured models: on the device and on the CPU, for each kind of function. */
  record Costs(Cost deviceMemoryBound, Cost deviceCompute, Cost cpuMemoryBound, Cost cpuCompute) {}

  private Dispatch() {}

  /** Whether a call of {@code f} on {@code n} elements of {@code t} goes to the device. */
  static boolean onDevice(Costs c, Activation f, DType t, long n) {
    boolean memoryBound = f.function().piecewiseLinear();
    long even =
        memoryBound
            ? breakEven(c.deviceMemoryBound(), c.cpuMemoryBound())
            : breakEven(c.deviceCompute(), c.cpuCompute());
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

  /** The rule as {@code info} prints it. */
  static String describe(String device, Costs c) {
    return String.format(
        Locale.ROOT,
        "host arrays go to %s when its measured cost is lower: piecewise-linear functions %s,"
            + " others %s (float32 elements; float64 counts each as two). Measured: %s %s / %s,"
            + " cpu %s / %s",
        device,
        from(breakEven(c.deviceMemoryBound(), c.cpuMemoryBound())),
        from(breakEven(c.deviceCompute(), c.cpuCompute())),
        device,
        show(c.deviceMemoryBound()),
        show(c.deviceCompute()),
        show(c.cpuMemoryBound()),
        show(c.cpuCompute()));
  }

  private static String from(long n) {
    return n < 0 ? "never" : n == 0 ? "always" : "from " + n + " elements";
  }

  private static String show(Cost c) {
    return String.format(
        Locale.ROOT, "%.1f us + %.3f ns/element", c.fixed() * 1e6, c.perElement() * 1e9);
  }

  /** Times relu and gelu on both backends, float32 host arrays of 4K and 1M elements. */
  static Costs calibrate(Backend device, Backend cpu) {
    Activation relu = Activation.relu();
    Activation gelu = Activation.gelu();
    return new Costs(
        measure(device, relu), measure(device, gelu), measure(cpu, relu), measure(cpu, gelu));
  }

  private static final int SMALL = 4096;
  private static final int LARGE = 1 << 20;

  private static Cost measure(Backend b, Activation f) {
    return Cost.fit(SMALL, best(b, f, SMALL, 40), LARGE, best(b, f, LARGE, 4));
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
