package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.MathContext;

/**
 * The statistics of an output array straight from {@link ActivationStats}'s definitions, written
 * apart from the backends: plain loops for the counts, min and max; the L1 sum by simulating the
 * documented lanes (two folds of 256, halving the lanes, in the element type) and summing the
 * blocks in BigDecimal; and the exact sum, to hold the fixed order's error to its bound.
 */
final class StatsOracle {
  private StatsOracle() {}

  /** The expected statistics of {@code y}, by the definitions. */
  static Expected of(double[] y, boolean single) {
    long zeros = 0;
    long nans = 0;
    long infinities = 0;
    double min = Double.NaN;
    double max = Double.NaN;
    BigDecimal exact = BigDecimal.ZERO;
    for (double v : y) {
      if (Double.isNaN(v)) {
        nans++;
        continue;
      }
      if (v == 0) zeros++;
      if (Double.isInfinite(v)) infinities++;
      else exact = exact.add(new BigDecimal(Math.abs(v)));
      if (Double.isNaN(min) || v < min || (v == min && 1 / v < 0)) min = v;
      if (Double.isNaN(max) || v > max || (v == max && 1 / v > 0)) max = v;
    }
    BigDecimal blocks = BigDecimal.ZERO;
    boolean overflow = false;
    for (int b = 0; b < y.length; b += 65536) {
      double[] leaves = new double[256];
      for (int k = 0; k < 256; k++) {
        double[] lanes = new double[256];
        for (int l = 0; l < 256; l++) {
          int i = b + 256 * k + l;
          double v = i < Math.min(y.length, b + 65536) ? y[i] : 0;
          lanes[l] = Double.isFinite(v) ? Math.abs(v) : 0;
        }
        leaves[k] = halve(lanes, single);
      }
      double block = halve(leaves, single);
      if (Double.isInfinite(block)) overflow = true;
      else blocks = blocks.add(new BigDecimal(block));
    }
    double l1 = overflow ? Double.POSITIVE_INFINITY : blocks.doubleValue();
    return new Expected(y.length, zeros, nans, infinities, min, max, l1, exact);
  }

  static Expected of(float[] y) {
    double[] d = new double[y.length];
    for (int i = 0; i < y.length; i++) d[i] = y[i];
    return of(d, true);
  }

  static Expected of(double[] y) {
    return of(y, false);
  }

  /** Lane l takes lane l + d, d = 128, ..., 1; each sum rounded to float when {@code single}. */
  private static double halve(double[] lanes, boolean single) {
    for (int d = lanes.length / 2; d > 0; d /= 2) {
      for (int l = 0; l < d; l++) {
        lanes[l] = single ? (float) (lanes[l] + lanes[l + d]) : lanes[l] + lanes[l + d];
      }
    }
    return lanes[0];
  }

  record Expected(
      long count,
      long zeros,
      long nans,
      long infinities,
      double min,
      double max,
      double l1,
      BigDecimal exact) {
    /** {@code got} has every figure of this, bit for bit, and its L1 is within the bound. */
    void check(ActivationStats got, boolean single, String what) {
      assertEquals(count, got.count(), what + ": count");
      assertEquals(zeros, got.zeros(), what + ": zeros");
      assertEquals(nans, got.nans(), what + ": NaNs");
      assertEquals(infinities, got.infinities(), what + ": infinities");
      assertEquals(
          Double.doubleToLongBits(min), Double.doubleToLongBits(got.min()), what + ": min");
      assertEquals(
          Double.doubleToLongBits(max), Double.doubleToLongBits(got.max()), what + ": max");
      assertEquals(Double.doubleToLongBits(l1), Double.doubleToLongBits(got.l1()), what + ": l1");
      assertEquals(
          count == 0 ? Double.NaN : (double) zeros / count, got.zeroFraction(), what + ": zeros");
      if (Double.isFinite(l1) && exact.signum() > 0) {
        double err =
            new BigDecimal(l1)
                .subtract(exact)
                .abs()
                .divide(exact, MathContext.DECIMAL64)
                .doubleValue();
        double bound = single ? 16 * 0x1p-24 : 17 * 0x1p-53;
        assertTrue(err <= bound, what + ": l1 off the exact sum by " + err + " > " + bound);
      }
    }
  }
}
