package dev.rectifier;

/**
 * float16 and bfloat16 conversions. Written here because Java 17, the version this library runs on,
 * has none (Float.float16ToFloat came in Java 20, and has no bfloat16 nor rounding from double),
 * and a dependency for twenty lines would be more to keep than the lines.
 *
 * <p>Rounding from double is done once: the value is scaled by a power of two (exact) so that the
 * target's last place is 1, and Math.rint rounds that to an integer, ties to even. Rounding through
 * float32 instead would round twice and miss the nearest value when float32 lands on a midpoint.
 */
final class HalfFloats {
  private HalfFloats() {}

  /** float16: 65504 + half its last place (16); from there up every value rounds to infinity. */
  private static final double F16_OVERFLOW = 65520.0;

  /** bfloat16: its largest finite (2 - 2^-7) * 2^127 plus half its last place. */
  private static final double BF16_OVERFLOW = Math.scalb(2.0 - 0x1p-8, 127);

  static short toFloat16(double v) {
    int sign = Double.doubleToRawLongBits(v) < 0 ? 0x8000 : 0;
    if (v != v) return (short) (sign | 0x7e00);
    double a = Math.abs(v);
    if (a >= F16_OVERFLOW) return (short) (sign | 0x7c00);
    int bits;
    if (a < 0x1p-14) {
      bits = (int) Math.rint(a * 0x1p24); // subnormal: units of 2^-24; 1024 is the least normal
    } else {
      int e = Math.getExponent(a);
      bits = ((e + 15) << 10) + (int) Math.rint(Math.scalb(a, 10 - e)) - 1024; // 2048 carries
    }
    return (short) (sign | bits);
  }

  static float fromFloat16(short h) {
    int e = (h >>> 10) & 0x1f;
    int m = h & 0x3ff;
    float a;
    if (e == 0) a = m * 0x1p-24f;
    else if (e == 31) a = m == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
    else a = Math.scalb((float) (1024 + m), e - 25);
    return (h & 0x8000) != 0 ? -a : a;
  }

  static short toBfloat16(double v) {
    int sign = Double.doubleToRawLongBits(v) < 0 ? 0x8000 : 0;
    if (v != v) return (short) (sign | 0x7fc0);
    double a = Math.abs(v);
    if (a >= BF16_OVERFLOW) return (short) (sign | 0x7f80);
    int bits;
    if (a < 0x1p-126) {
      bits = (int) Math.rint(Math.scalb(a, 133)); // subnormal: units of 2^-133
    } else {
      int e = Math.getExponent(a);
      bits = ((e + 127) << 7) + (int) Math.rint(Math.scalb(a, 7 - e)) - 128;
    }
    return (short) (sign | bits);
  }

  static float fromBfloat16(short b) {
    return Float.intBitsToFloat((b & 0xffff) << 16);
  }

  /** Elements {@code [from, from + n)} of {@code src}, widened. */
  static double[] widen(DType t, short[] src, int from, int n) {
    double[] out = new double[n];
    if (t == DType.FLOAT16) for (int i = 0; i < n; i++) out[i] = fromFloat16(src[from + i]);
    else for (int i = 0; i < n; i++) out[i] = fromBfloat16(src[from + i]);
    return out;
  }

  /** {@code src} rounded into {@code dst} from {@code at}. */
  static void narrow(DType t, double[] src, short[] dst, int at) {
    if (t == DType.FLOAT16) for (int i = 0; i < src.length; i++) dst[at + i] = toFloat16(src[i]);
    else for (int i = 0; i < src.length; i++) dst[at + i] = toBfloat16(src[i]);
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
   * Moves each {@code y[i]} that is exactly a midpoint of {@code t}, for a nonzero {@code x[i]}
   * below 2^-64, one float64 step toward the side {@code sign} says the exact value lies on ({@link
   * dev.rectifier.spi.HalfRounding#tieBroken}), so that the one rounding to {@code t} goes the
   * right way.
   */
  static void breakTies(DType t, int sign, double[] x, double[] y) {
    if (sign == 0) return;
    for (int i = 0; i < y.length; i++) {
      y[i] = dev.rectifier.spi.HalfRounding.tieBroken(t, sign, x[i], y[i]);
    }
  }
}
