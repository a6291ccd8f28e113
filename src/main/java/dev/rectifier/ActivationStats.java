package dev.rectifier;

import dev.rectifier.spi.StatsRecords;
import java.util.Arrays;

/**
 * What a forward wrote, measured in the same pass ({@link Rectifier#forwardWithStats}): how many
 * outputs are exactly zero (dead units, the dying-ReLU measure), their L1 norm (the activation
 * penalty of Glorot, Bordes and Bengio's "Deep Sparse Rectifier Neural Networks"), how many are NaN
 * or infinite, and the least and greatest. Of {@code y} as written: blended when the activation
 * blends.
 *
 * <p>Definitions, for outputs {@code y[0, count)}:
 *
 * <ul>
 *   <li>{@link #zeros()}: the outputs equal to 0 ({@code +0} and {@code -0}); {@link
 *       #zeroFraction()} is {@code zeros / count}.
 *   <li>{@link #l1()}: {@code sum |y|} over the finite outputs (NaN and infinities are counted, not
 *       summed), as a double. Deterministic and the same on every backend: the sum is taken in a
 *       fixed order (within each block of 65,536 outputs a fixed tree, in the element type, as
 *       {@code StatsRecords} says; the blocks' sums then exactly, rounded to double once). Its
 *       relative error is below {@code 16 * 2^-24} for float32 ({@code 17 * 2^-53} for float64);
 *       {@code +inf} when a block's sum passes the element type's largest value.
 *   <li>{@link #min()}, {@link #max()}: over the outputs that are not NaN, {@code -0} below {@code
 *       +0}, infinities included; NaN when every output is NaN or there are none.
 * </ul>
 *
 * <p>Parts of one tensor computed apart add up with {@link #plus}: equal to one call over the whole
 * when every part but the last has a multiple of {@link #BLOCK} outputs.
 *
 * <p>Immutable and thread-safe.
 */
public final class ActivationStats {
  /** Outputs per block of the fixed-order sum; see {@link #plus}. */
  public static final int BLOCK = StatsRecords.PER_RECORD;

  /** The statistics of no outputs: what {@link #plus} leaves a part as it is with. */
  public static final ActivationStats NONE =
      new ActivationStats(
          0, 0, 0, 0, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, new double[0]);

  private final long count;
  private final long zeros;
  private final long nans;
  private final long infinities;
  private final double min; // +inf when no output is a number
  private final double max; // -inf likewise
  // the blocks' sums, exactly: non-overlapping partials in increasing magnitude, or {+inf}
  private final double[] partials;

  private ActivationStats(
      long count,
      long zeros,
      long nans,
      long infinities,
      double min,
      double max,
      double[] partials) {
    this.count = count;
    this.zeros = zeros;
    this.nans = nans;
    this.infinities = infinities;
    this.min = min;
    this.max = max;
    this.partials = partials;
  }

  /**
   * The statistics of {@code count} outputs from {@code records} of a backend's records ({@link
   * StatsRecords}) from record {@code first}: {@code sums} a float[] or double[] of 3 per record,
   * {@code counts} 3 per record.
   */
  static ActivationStats of(long count, Object sums, int[] counts, int first, int records) {
    long zeros = 0;
    long nans = 0;
    long infinities = 0;
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double[] partials = new double[0];
    for (int r = first; r < first + records; r++) {
      double sum;
      double lo;
      double hi;
      if (sums instanceof float[] f) {
        sum = f[3 * r];
        lo = f[3 * r + 1];
        hi = f[3 * r + 2];
      } else {
        double[] d = (double[]) sums;
        sum = d[3 * r];
        lo = d[3 * r + 1];
        hi = d[3 * r + 2];
      }
      partials = add(partials, sum);
      min = Math.min(min, lo);
      max = Math.max(max, hi);
      zeros += counts[3 * r];
      nans += counts[3 * r + 1];
      infinities += counts[3 * r + 2];
    }
    return new ActivationStats(count, zeros, nans, infinities, min, max, partials);
  }

  /**
   * The statistics of this part followed by {@code next}: counts added, the least of the minima and
   * the greatest of the maxima, the L1 sums added exactly.
   */
  public ActivationStats plus(ActivationStats next) {
    double[] p = partials;
    for (double v : next.partials) p = add(p, v);
    return new ActivationStats(
        count + next.count,
        zeros + next.zeros,
        nans + next.nans,
        infinities + next.infinities,
        Math.min(min, next.min),
        Math.max(max, next.max),
        p);
  }

  /**
   * Adds {@code x} to the exact sum {@code partials} (Shewchuk's expansion: each step splits a sum
   * into its rounded value and the error that rounding made, both kept), returning new partials.
   * Written here because no library at hand sums exactly: Java's {@code DoubleStream.sum} only
   * compensates, and {@link java.math.BigDecimal} costs a thousand times more per term.
   */
  private static double[] add(double[] partials, double x) {
    if (x == Double.POSITIVE_INFINITY || isInfinite(partials)) {
      return new double[] {Double.POSITIVE_INFINITY};
    }
    double[] out = new double[partials.length + 1];
    int n = 0;
    for (double y : partials) {
      if (Math.abs(x) < Math.abs(y)) {
        double t = x;
        x = y;
        y = t;
      }
      double hi = x + y;
      if (Double.isInfinite(hi)) return new double[] {Double.POSITIVE_INFINITY};
      double lo = y - (hi - x);
      if (lo != 0) out[n++] = lo;
      x = hi;
    }
    out[n++] = x;
    return Arrays.copyOf(out, n);
  }

  private static boolean isInfinite(double[] partials) {
    return partials.length == 1 && Double.isInfinite(partials[0]);
  }

  /** The exact sum of {@code partials} rounded to the nearest double, ties to even. */
  private static double rounded(double[] partials) {
    int i = partials.length;
    if (i == 0) return 0;
    double hi = partials[--i];
    double lo = 0;
    while (i > 0) {
      double x = hi;
      double y = partials[--i];
      hi = x + y;
      lo = y - (hi - x);
      if (lo != 0) break;
    }
    // hi + lo is exact; if lo is half an ulp of hi and what lies below pushes the same way, the
    // tie is not a tie: round away from hi
    if (i > 0 && ((lo < 0 && partials[i - 1] < 0) || (lo > 0 && partials[i - 1] > 0))) {
      double y = lo * 2;
      double x = hi + y;
      if (y == x - hi) hi = x;
    }
    return hi;
  }

  /** The number of outputs. */
  public long count() {
    return count;
  }

  /** The outputs equal to zero, of either sign. */
  public long zeros() {
    return zeros;
  }

  /** {@code zeros() / count()}: the fraction of dead units; NaN when there are no outputs. */
  public double zeroFraction() {
    return count == 0 ? Double.NaN : (double) zeros / count;
  }

  /** The outputs that are NaN. */
  public long nans() {
    return nans;
  }

  /** The outputs that are {@code +inf} or {@code -inf}. */
  public long infinities() {
    return infinities;
  }

  /** {@code sum |y|} over the finite outputs; see the class comment for its order and accuracy. */
  public double l1() {
    return rounded(partials);
  }

  /** The least output that is not NaN ({@code -0} below {@code +0}); NaN when there is none. */
  public double min() {
    return count - nans == 0 ? Double.NaN : min;
  }

  /** The greatest output that is not NaN; NaN when there is none. */
  public double max() {
    return count - nans == 0 ? Double.NaN : max;
  }

  /** Equal when every figure is the same, doubles bit for bit. */
  @Override
  public boolean equals(Object o) {
    return o instanceof ActivationStats s
        && count == s.count
        && zeros == s.zeros
        && nans == s.nans
        && infinities == s.infinities
        && Double.compare(min(), s.min()) == 0
        && Double.compare(max(), s.max()) == 0
        && Double.compare(l1(), s.l1()) == 0;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(new double[] {count, zeros, nans, infinities, min(), max(), l1()});
  }

  /** One line: {@code count=.. zeros=.. (..%) l1=.. nan=.. inf=.. min=.. max=..}. */
  @Override
  public String toString() {
    return "count="
        + count
        + " zeros="
        + zeros
        + " ("
        + String.format(java.util.Locale.ROOT, "%.4f", 100 * zeroFraction())
        + "%) l1="
        + l1()
        + " nan="
        + nans
        + " inf="
        + infinities
        + " min="
        + min()
        + " max="
        + max();
  }
}
