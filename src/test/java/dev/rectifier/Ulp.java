package dev.rectifier;

/** Distances in units in the last place, for the accuracy contract. */
public final class Ulp {
  private Ulp() {}

  /** Bits as a monotonic integer: adjacent floats differ by 1, and -0 equals +0. */
  private static long ordered(float v) {
    int b = Float.floatToRawIntBits(v);
    return b >= 0 ? b : (long) Integer.MIN_VALUE - b;
  }

  private static long ordered(double v) {
    long b = Double.doubleToRawLongBits(v);
    return b >= 0 ? b : Long.MIN_VALUE - b;
  }

  /**
   * ULPs between {@code got} and {@code want}: 0 when both are NaN, {@link Long#MAX_VALUE} when
   * only one is or when they are zeros of different signs.
   */
  public static long distance(float got, float want) {
    if (Float.isNaN(got) || Float.isNaN(want)) {
      return Float.isNaN(got) && Float.isNaN(want) ? 0 : Long.MAX_VALUE;
    }
    if (got == 0 && want == 0) {
      return Float.floatToRawIntBits(got) == Float.floatToRawIntBits(want) ? 0 : Long.MAX_VALUE;
    }
    return Math.abs(ordered(got) - ordered(want));
  }

  /** The same for doubles. */
  public static long distance(double got, double want) {
    if (Double.isNaN(got) || Double.isNaN(want)) {
      return Double.isNaN(got) && Double.isNaN(want) ? 0 : Long.MAX_VALUE;
    }
    if (got == 0 && want == 0) {
      return Double.doubleToRawLongBits(got) == Double.doubleToRawLongBits(want)
          ? 0
          : Long.MAX_VALUE;
    }
    long a = ordered(got);
    long b = ordered(want);
    long d = a - b;
    // Overflow only for values of opposite signs far apart: as bad as it gets.
    return ((a ^ b) & (a ^ d)) < 0 ? Long.MAX_VALUE : Math.abs(d);
  }
}
