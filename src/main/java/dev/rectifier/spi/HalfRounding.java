package dev.rectifier.spi;

import dev.rectifier.DType;

/**
 * The one correction the float16 and bfloat16 paths make before they round a float64 result to the
 * type: what {@code narrow_<f16|bf16>} in the kernel files does too ({@code tie_broken}).
 */
public final class HalfRounding {
  private HalfRounding() {}

  /** Below this, {@code d x^2} is less than 2^-60 of {@code c x}: float64 has lost it. */
  private static final double TINY = 0x1p-64;

  /**
   * {@code v}, or where {@code tieSign} is not 0, {@code x} is nonzero and below 2^-64 and {@code
   * v} lies exactly on a midpoint between two values of {@code t}, {@code v} moved one float64 step
   * toward the side of {@code tieSign}: for {@code f(x) = c x + d x^2 + ...} with {@code d x^2}
   * lost in float64, {@code c x} can land on a midpoint (bfloat16: gelu of its least normals is
   * half of them), and the sign of {@code d} says on which side the exact value lies, so that the
   * one rounding goes its way.
   */
  public static double tieBroken(DType t, int tieSign, double x, double v) {
    if (tieSign == 0 || x == 0 || !(Math.abs(x) < TINY) || v == 0) return v;
    short h = t.encode(v);
    double r = t.decode(h);
    if (r == v) return v; // a value of t: no midpoint
    double o = t.decode((short) (Math.abs(r) < Math.abs(v) ? h + 1 : h - 1)); // v's other side
    if ((r + o) / 2 != v) return v;
    return tieSign > 0 ? Math.nextUp(v) : Math.nextDown(v);
  }
}
