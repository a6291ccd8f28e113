package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link DType#encode} and {@link DType#decode} against an oracle that shares nothing with them:
 * values from the format's definition (sign, exponent and fraction fields, in BigDecimal), and
 * rounding by searching the sorted list of every finite value for the nearest, ties to the even bit
 * pattern, with infinity beyond the largest finite plus half its last place.
 */
class HalfFloatsTest {
  /** Exponent bits, fraction bits and bias of each type, as its definition gives them. */
  private static int[] format(DType t) {
    return t == DType.FLOAT16 ? new int[] {5, 10, 15} : new int[] {8, 7, 127};
  }

  private static final java.util.Map<Integer, BigDecimal> VALUES =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * The exact value of a finite bit pattern, from the definition (remembered: BigDecimal is slow).
   */
  private static BigDecimal value(DType t, int bits) {
    return VALUES.computeIfAbsent(t.ordinal() << 16 | bits, k -> definition(t, bits));
  }

  private static BigDecimal definition(DType t, int bits) {
    int[] f = format(t);
    int e = (bits >>> f[1]) & ((1 << f[0]) - 1);
    int m = bits & ((1 << f[1]) - 1);
    BigDecimal frac = new BigDecimal(e == 0 ? m : (1 << f[1]) + m);
    int exp = (e == 0 ? 1 : e) - f[2] - f[1];
    BigDecimal v =
        exp >= 0
            ? frac.multiply(new BigDecimal(2).pow(exp))
            : frac.divide(new BigDecimal(2).pow(-exp));
    return (bits & 0x8000) != 0 ? v.negate() : v;
  }

  private static boolean finite(DType t, int bits) {
    int[] f = format(t);
    return ((bits >>> f[1]) & ((1 << f[0]) - 1)) != (1 << f[0]) - 1;
  }

  /** The non-negative finite patterns in increasing order (their values increase with the bits). */
  private static List<Integer> positives(DType t) {
    List<Integer> p = new ArrayList<>();
    for (int b = 0; b < 0x8000 && finite(t, b); b++) p.add(b);
    return p;
  }

  /** The oracle: the bit pattern nearest to {@code v}, ties to even, infinity past the last. */
  private static short nearest(DType t, double v, List<Integer> pos) {
    int sign = Double.doubleToRawLongBits(v) < 0 ? 0x8000 : 0;
    BigDecimal a = new BigDecimal(Math.abs(v));
    int last = pos.get(pos.size() - 1);
    int inf = last + 1;
    // the last place past the largest finite is that of its binade: the next pattern's distance
    BigDecimal overflow =
        value(t, last).add(value(t, last).subtract(value(t, last - 1)).divide(new BigDecimal(2)));
    if (a.compareTo(overflow) >= 0) return (short) (sign | inf);
    int lo = 0;
    int hi = pos.size() - 1;
    while (lo < hi) { // the least pattern whose value is >= a
      int mid = (lo + hi) >>> 1;
      if (value(t, pos.get(mid)).compareTo(a) >= 0) hi = mid;
      else lo = mid + 1;
    }
    int above = pos.get(lo);
    if (lo == 0 || value(t, above).compareTo(a) == 0) return (short) (sign | above);
    int below = pos.get(lo - 1);
    int c = a.subtract(value(t, below)).compareTo(value(t, above).subtract(a)); // <0: below nearer
    int b = c < 0 ? below : c > 0 ? above : ((below & 1) == 0 ? below : above);
    return (short) (sign | b);
  }

  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT16", "BFLOAT16"})
  void everyPatternDecodesToItsValueAndEncodesBack(DType t) {
    for (int b = 0; b < 0x10000; b++) {
      float v = t.decode((short) b);
      if (finite(t, b)) {
        assertEquals(0, value(t, b).compareTo(new BigDecimal(v)), t + " " + Integer.toHexString(b));
        assertEquals((b & 0x8000) != 0, Math.copySign(1f, v) < 0, "sign of " + b);
        assertEquals((short) b, t.encode(v), "round trip of " + Integer.toHexString(b));
      } else if ((b & ((1 << format(t)[1]) - 1)) == 0) {
        assertEquals((b & 0x8000) != 0 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY, v);
        assertEquals((short) b, t.encode(v));
      } else {
        assertTrue(Float.isNaN(v), Integer.toHexString(b));
        short n = t.encode(v);
        assertTrue(Float.isNaN(t.decode(n)), "NaN stays NaN");
      }
    }
  }

  /**
   * Midpoints between neighbours (ties go to the even pattern), the doubles just either side of
   * them, the overflow threshold and its neighbours, subnormals, and random doubles of every scale.
   */
  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT16", "BFLOAT16"})
  void roundingFromDoubleIsToNearestEvenOnce(DType t) {
    List<Integer> pos = positives(t);
    List<Double> probes = new ArrayList<>();
    for (int i = 0; i + 1 < pos.size(); i++) {
      double mid = value(t, pos.get(i)).add(value(t, pos.get(i + 1))).doubleValue() / 2; // exact
      probes.add(mid);
      probes.add(Math.nextUp(mid));
      probes.add(Math.nextDown(mid));
      // what float32 rounding would turn into the midpoint: double rounding's trap
      probes.add(mid + Math.ulp(mid) * 0x1p20);
      probes.add(mid - Math.ulp(mid) * 0x1p20);
    }
    double max = value(t, pos.get(pos.size() - 1)).doubleValue();
    double overflow = max + (max - value(t, pos.get(pos.size() - 2)).doubleValue()) / 2;
    for (double d : new double[] {overflow, Math.nextUp(overflow), Math.nextDown(overflow)}) {
      probes.add(d);
    }
    probes.add(Double.MIN_VALUE);
    probes.add(Double.MAX_VALUE);
    probes.add(0.0);
    SplittableRandom rnd = new SplittableRandom(16);
    for (int i = 0; i < 200_000; i++) {
      probes.add(Math.scalb(rnd.nextDouble(1, 2), rnd.nextInt(-140, 132)));
    }
    int failures = 0;
    for (double p : probes) {
      for (double v : new double[] {p, -p}) {
        short want = nearest(t, v, pos);
        short got = t.encode(v);
        if (want != got && failures++ < 10) {
          fail(
              t
                  + " encode("
                  + v
                  + ") = "
                  + Integer.toHexString(got & 0xffff)
                  + ", want "
                  + Integer.toHexString(want & 0xffff));
        }
      }
    }
    assertTrue(Float.isNaN(t.decode(t.encode(Double.NaN))));
    assertEquals((short) 0x8000, t.encode(-0.0));
  }

  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT32", "FLOAT64", "INT32"})
  void otherTypesHaveNoPatterns(DType t) {
    assertThrows(UnsupportedOperationException.class, () -> t.encode(1));
    assertThrows(UnsupportedOperationException.class, () -> t.decode((short) 0));
  }
}
