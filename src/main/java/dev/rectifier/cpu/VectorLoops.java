package dev.rectifier.cpu;

/**
 * float32 forward loops for silu, mish and gelu written so that C2 vectorizes them: no branch, no
 * call C2 cannot vectorize (Math.exp is an intrinsic, but a scalar one), exp computed in double as
 * a degree-9 Taylor series of a/1024 squared ten times (multiplications and fmas only), the result
 * rounded to float once.
 *
 * <p>Accuracy: the series' remainder is below 1e-16 for |a| <= 102 and each squaring doubles the
 * relative error, so exp(a) is within about 1e-13 relative (beyond |a| = 102 the float results are
 * 0, -1 or x whatever the exp). A float32 rounded from such a value is the correctly rounded one
 * but where the double lies within 1e-13 of a float rounding boundary: 1 ULP then (seen on 9 of 16M
 * random silu inputs, against exact exp). VectorLoopsTest holds them to 1 ULP of {@link Formulas}.
 *
 * <p>ELU is not here: its select between x and alpha*expm1(x) stops C2 from vectorizing (106 ms
 * against 18 ms without it, JDK 25), and the select-free forms tried got the sign of elu(+0) = -0
 * wrong.
 *
 * <p>When: C2 vectorizes these loops from JDK 25 on (measured: silu over 16M floats on one thread
 * 65 ms with Math.exp, 14 ms so). JDK 17's C2 does not vectorize loops that mix float and double
 * widths, and there the same loop is 6x slower than Math.exp's. {@link FloatLoops} picks them on
 * JDK 25 or later when the Vector API's loops cannot run (21 is not measured here, so it keeps the
 * scalar loops).
 */
final class VectorLoops {
  private VectorLoops() {}

  private static final double SCALE = 1.0 / 1024;

  /** exp(a) for a in [-1000, 1000] (clamped; NaN stays NaN). */
  static double exp(double a) {
    double r = Math.min(Math.max(a, -1000.0), 1000.0) * SCALE;
    double p = 1.0 / 362880;
    p = Math.fma(p, r, 1.0 / 40320);
    p = Math.fma(p, r, 1.0 / 5040);
    p = Math.fma(p, r, 1.0 / 720);
    p = Math.fma(p, r, 1.0 / 120);
    p = Math.fma(p, r, 1.0 / 24);
    p = Math.fma(p, r, 1.0 / 6);
    p = Math.fma(p, r, 0.5);
    p = Math.fma(p, r, 1.0);
    p = Math.fma(p, r, 1.0);
    // ten squarings, written out: a loop here would keep C2 from vectorizing the caller's loop
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    p *= p;
    return p;
  }

  /** {@link #erfcx}'s polynomial in s, highest power first (shared with {@link VectorApiLoops}). */
  static final double[] ERFCX = {
    7.506453173401124e-10,
    1.206481198594708e-09,
    -1.0185678178421969e-08,
    -1.6292596872316536e-08,
    1.0137679911461345e-07,
    1.2915664212477613e-07,
    -1.0386788011744362e-06,
    -4.191290352999456e-07,
    1.1120816552275103e-05,
    -1.2587389657230628e-05,
    -0.00010105242199407409,
    0.00040784587860779724,
    -6.139171775844329e-07,
    -0.005700877353643581,
    0.029155772732357445,
    -0.09323378608322286,
    0.22604302870656257,
    -0.4440170045752245,
    0.7288155448827599,
    -1.0152626608819428,
    1.2082577704743822,
  };

  /**
   * erfcx(z) = exp(z^2) erfc(z) for 0 <= z <= 30 (clamped): P(s) / (z + 3.75), s = t * 1.125 +
   * 0.125 with t = (z - 3.75) / (z + 3.75). P is the Chebyshev series of degree 20 that the
   * construction of tools/reference/float_constants.py gives in double (3e-16 relative), turned
   * into powers of s (coefficients below 1.3, no cancellation: 7e-16 relative by Horner in double).
   * Horner keeps the method small enough for C2 to inline into the caller's loop, which Clenshaw's
   * recurrence written out (503 bytes of bytecode) was not.
   */
  static double erfcx(double z) {
    double zc = Math.min(z, 30.0);
    double zk = zc + 3.75;
    double s = ((zc - 3.75) / zk) * 1.125 + 0.125;
    double p = ERFCX[0];
    p = Math.fma(p, s, ERFCX[1]);
    p = Math.fma(p, s, ERFCX[2]);
    p = Math.fma(p, s, ERFCX[3]);
    p = Math.fma(p, s, ERFCX[4]);
    p = Math.fma(p, s, ERFCX[5]);
    p = Math.fma(p, s, ERFCX[6]);
    p = Math.fma(p, s, ERFCX[7]);
    p = Math.fma(p, s, ERFCX[8]);
    p = Math.fma(p, s, ERFCX[9]);
    p = Math.fma(p, s, ERFCX[10]);
    p = Math.fma(p, s, ERFCX[11]);
    p = Math.fma(p, s, ERFCX[12]);
    p = Math.fma(p, s, ERFCX[13]);
    p = Math.fma(p, s, ERFCX[14]);
    p = Math.fma(p, s, ERFCX[15]);
    p = Math.fma(p, s, ERFCX[16]);
    p = Math.fma(p, s, ERFCX[17]);
    p = Math.fma(p, s, ERFCX[18]);
    p = Math.fma(p, s, ERFCX[19]);
    p = Math.fma(p, s, ERFCX[20]);
    return p / zk;
  }

  private static final double INV_SQRT2 = 0.7071067811865476;

  /**
   * gelu(x) = x Phi(x): h = Phi(-|x|) = exp(-x^2/2) erfcx(|x|/sqrt 2) / 2 (x^2 is exact in double),
   * then Phi = h for x < 0 and 1 - h for x > 0, blended without a branch by p = 0 or 1; beyond |x|
   * = 42 h is 0; -inf gives -0 through -MAX * 0.
   */
  static void gelu(float[] x, int xo, float[] y, int yo, int n) {
    if (xo == yo) {
      for (int i = xo; i < xo + n; i++) y[i] = gelu(x[i]);
      return;
    }
    for (int i = 0; i < n; i++) y[yo + i] = gelu(x[xo + i]);
  }

  private static float gelu(double v) {
    double h = 0.5 * exp(-0.5 * (v * v)) * erfcx(Math.abs(v) * INV_SQRT2);
    double p = Math.min(Math.max(v * 1e300, 0.0), 1.0);
    double phi = Math.fma(p, 1 - 2 * h, h);
    return (float) (Math.max(v, -Float.MAX_VALUE) * phi);
  }

  /** silu(x) = x / (1 + exp(-x)); -inf gives -0 (as Formulas.silu), through -MAX / inf. */
  static void silu(float[] x, int xo, float[] y, int yo, int n) {
    if (xo == yo) { // one index: C2 then sees no overlap hazard even when x is y (see relu)
      for (int i = xo; i < xo + n; i++) {
        double v = x[i];
        y[i] = (float) (Math.max(v, -Float.MAX_VALUE) / (1 + exp(-v)));
      }
      return;
    }
    for (int i = 0; i < n; i++) {
      double v = x[xo + i];
      y[yo + i] = (float) (Math.max(v, -Float.MAX_VALUE) / (1 + exp(-v)));
    }
  }

  /**
   * mish(x) = x * n / (n + 2), n = e (e + 2), e = exp(min(x, 40)): beyond 40 the fraction is 1 in
   * double; -inf gives -0 through -MAX * 0.
   */
  static void mish(float[] x, int xo, float[] y, int yo, int n) {
    if (xo == yo) {
      for (int i = xo; i < xo + n; i++) {
        double v = x[i];
        double e = exp(Math.min(v, 40.0));
        double m = e * (e + 2);
        y[i] = (float) (Math.max(v, -Float.MAX_VALUE) * (m / (m + 2)));
      }
      return;
    }
    for (int i = 0; i < n; i++) {
      double v = x[xo + i];
      double e = exp(Math.min(v, 40.0));
      double m = e * (e + 2);
      y[yo + i] = (float) (Math.max(v, -Float.MAX_VALUE) * (m / (m + 2)));
    }
  }
}
