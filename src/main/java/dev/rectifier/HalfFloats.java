package dev.rectifier;

/**
 * float16 and bfloat16 conversions. Written here because Java 17, the version this library runs on,
 * has none (Float.float16ToFloat came in Java 20, and has no bfloat16 nor rounding from double),
 * and a dependency for twenty lines would be more to keep than the lines.
 *
 * <p>Rounding from double is done once, in integers: the 53-bit significand is shifted right so
 * that the target's last place is its last bit, and the bits shifted out decide the rounding, ties
 * to even (a carry out of the significand steps the exponent, and from the largest finite value
 * would step to infinity, which the overflow bound catches first). Rounding through float32 instead
 * would round twice and miss the nearest value when float32 lands on a midpoint. Integer steps
 * rather than Math.scalb and Math.rint because these run once per element on every 16-bit call.
 */
final class HalfFloats {
  private HalfFloats() {}

  /** float16: 65504 + half its last place (16); from there up every value rounds to infinity. */
  private static final long F16_OVERFLOW = Double.doubleToRawLongBits(65520.0);

  /** bfloat16: its largest finite (2 - 2^-7) * 2^127 plus half its last place. */
  private static final long BF16_OVERFLOW =
      Double.doubleToRawLongBits(Math.scalb(2.0 - 0x1p-8, 127));

  private static final long INFINITY = 0x7ff0_0000_0000_0000L;
  private static final long FRACTION = 0x000f_ffff_ffff_ffffL;

  /**
   * {@code significand / 2^shift} rounded to nearest, ties to even. Past a shift of 60 the quotient
   * is below 2^-7 and rounds to 0 (which also covers the float64 subnormals, whose exponent gives a
   * shift near 1000).
   */
  private static int roundedShift(long significand, int shift) {
    if (shift > 60) return 0;
    long q = significand >>> shift;
    long rest = significand & ((1L << shift) - 1);
    long half = 1L << (shift - 1);
    if (rest > half || (rest == half && (q & 1) != 0)) q++;
    return (int) q;
  }

  /**
   * {@code v} rounded to a binary format of {@code fraction} fraction bits and exponent bias {@code
   * bias} (its exponent field all ones is infinity and NaN), as a bit pattern; {@code overflow} is
   * the bits of the double from which every value rounds to infinity.
   */
  private static short rounded(double v, int fraction, int bias, long overflow) {
    long bits = Double.doubleToRawLongBits(v);
    int sign = (int) (bits >>> 48) & 0x8000;
    int infinity = (2 * bias + 1) << fraction;
    long abs = bits & Long.MAX_VALUE;
    if (abs > INFINITY) return (short) (sign | infinity | (1 << (fraction - 1))); // quiet NaN
    if (abs >= overflow) return (short) (sign | infinity);
    int e = (int) (abs >>> 52) - 1023;
    long m = (abs & FRACTION) | (1L << 52);
    int shift = 52 - fraction;
    int leastNormal = 1 - bias;
    // normal: the significand's leading one adds 1 << fraction to the biased exponent's field
    if (e >= leastNormal) {
      return (short) (sign | (((e + bias) << fraction) - (1 << fraction) + roundedShift(m, shift)));
    }
    return (short) (sign | roundedShift(m, shift + leastNormal - e)); // subnormal
  }

  static short toFloat16(double v) {
    return rounded(v, 10, 15, F16_OVERFLOW);
  }

  static float fromFloat16(short h) {
    int e = (h >>> 10) & 0x1f;
    int m = h & 0x3ff;
    int sign = (h & 0x8000) << 16;
    if (e == 0) {
      float a = m * 0x1p-24f; // exact
      return sign != 0 ? -a : a;
    }
    if (e == 31) return Float.intBitsToFloat(sign | (m == 0 ? 0x7f80_0000 : 0x7fc0_0000));
    return Float.intBitsToFloat(sign | ((e + 112) << 23) | (m << 13)); // rebias 15 -> 127
  }

  static short toBfloat16(double v) {
    return rounded(v, 7, 127, BF16_OVERFLOW);
  }

  static float fromBfloat16(short b) {
    return Float.intBitsToFloat((b & 0xffff) << 16);
  }

  /** Elements {@code [from, from + n)} of {@code src}, widened. */
  static double[] widen(DType t, short[] src, int from, int n) {
    double[] out = new double[n];
    widen(t, src, from, out, n);
    return out;
  }

  /** Elements {@code [from, from + n)} of {@code src}, widened into {@code dst[0, n)}. */
  static void widen(DType t, short[] src, int from, double[] dst, int n) {
    if (t == DType.FLOAT16) for (int i = 0; i < n; i++) dst[i] = fromFloat16(src[from + i]);
    else for (int i = 0; i < n; i++) dst[i] = fromBfloat16(src[from + i]);
  }

  /** {@code src} rounded into {@code dst} from {@code at}. */
  static void narrow(DType t, double[] src, short[] dst, int at) {
    narrow(t, src, src.length, dst, at);
  }

  /** {@code src[0, n)} rounded into {@code dst} from {@code at}. */
  static void narrow(DType t, double[] src, int n, short[] dst, int at) {
    if (t == DType.FLOAT16) for (int i = 0; i < n; i++) dst[at + i] = toFloat16(src[i]);
    else for (int i = 0; i < n; i++) dst[at + i] = toBfloat16(src[i]);
  }

  /**
   * The sign of the second-order term of {@code f} at 0 ({@code f(x) = c x + d x^2 + ...}, the sign
   * of {@code d}) for the smooth functions with {@code f(0) = 0}; 0 for the others. Where {@code
   * |x|} is so small that {@code d x^2} is lost in float64, {@code c x} can land exactly on a
   * midpoint of the storage type (bfloat16: gelu of its least normals is half of them, a subnormal
   * with one bit too many), and that term decides the side.
   */
  static int secondOrderSign(Activation f) {
    if (f.blendBeta() != 0) return 0; // the old output's value decides, not f's curvature
    int a = (int) Math.signum(f.blendAlpha());
    switch (f.function()) {
      case GELU, GELU_TANH, SILU, MISH, SELU:
        return a;
      case ELU, CELU:
        return a * (int) Math.signum(f.param("alpha"));
      default:
        return 0;
    }
  }

  /**
   * Moves each {@code y[i]} ({@code i < n}) that is exactly a midpoint of {@code t}, for a nonzero
   * {@code x[i]} below 2^-64, one float64 step toward the side {@code sign} says the exact value
   * lies on ({@link dev.rectifier.spi.HalfRounding#tieBroken}), so that the one rounding to {@code
   * t} goes the right way.
   */
  static void breakTies(DType t, int sign, double[] x, double[] y, int n) {
    if (sign == 0) return;
    for (int i = 0; i < n; i++) {
      y[i] = dev.rectifier.spi.HalfRounding.tieBroken(t, sign, x[i], y[i]);
    }
  }
}
