package dev.rectifier.cpu;

import org.apache.commons.numbers.gamma.Erfc;
import org.apache.commons.numbers.gamma.Erfcx;

/**
 * The smooth functions and their derivatives in double precision, the definitions the CPU backend
 * computes (float32 is computed here and rounded once). Each {@code fooPrime} returns {@code
 * f'(x)}; the kernels multiply by {@code grad_output}, and select +0 where the derivative is 0 by
 * definition (its limits at +-inf, gelu below {@link #GELU_ZERO_DERIVATIVE_BELOW}); elsewhere a
 * zero derivative is an underflow that carries the sign of the true value into the product.
 *
 * <p>Why the double-double pieces: where an argument such as {@code x/sqrt(2)} or {@code x/alpha}
 * is rounded and then fed to {@code exp} or {@code erfc} far out in the tail, the result's relative
 * error is the argument's times its size (up to ~700), hundreds of ULP in float64. Carrying the
 * rounding error of the argument ({@code Math.fma} gives it exactly) and applying it as a first
 * order correction keeps the result within a few ULP of the correctly rounded value.
 */
public final class Formulas {
  private Formulas() {}

  /** SELU's scale*alpha. */
  static final double SELU_SCALE_ALPHA =
      dev.rectifier.Activation.SELU_SCALE * dev.rectifier.Activation.SELU_ALPHA;

  // 1/sqrt(2) and sqrt(2/pi) as unevaluated sums hi + lo (lo from a 50-digit value).
  private static final double INV_SQRT2_HI = 0.7071067811865476;
  private static final double INV_SQRT2_LO = -4.833646656726457e-17;
  private static final double SQRT_2_OVER_PI_HI = 0.7978845608028654;
  private static final double SQRT_2_OVER_PI_LO = -4.98465440455546e-17;
  // 0.044715, the tanh approximation's constant, as hi + lo.
  private static final double GELU_K_HI = 0.044715;
  private static final double GELU_K_LO = 2.1960211427085595e-18;
  private static final double TWO_OVER_SQRT_PI = 1.1283791670955126;
  private static final double INV_SQRT_2PI = 0.3989422804014327;
  private static final double INV_SQRT_2PI_LO = -2.49232720227773e-17;

  // ---- exponential linear units ----

  /**
   * The ELU family's negative branch is taken for {@code x <= 0}, +0 included, and there it is
   * {@code alpha * expm1(x)} at {@code x = -0}: a zero result is {@code -0.0} (for alpha > 0), as
   * in the 50-digit reference.
   */
  private static double nonPositive(double x) {
    return Math.min(x, -0.0);
  }

  public static double elu(double x, double alpha) {
    return x > 0 ? x : alpha * Math.expm1(nonPositive(x));
  }

  /** 1/n!, n = 14 down to 2: expm1's Taylor coefficients for {@link #expm1ForFloat}. */
  private static final double[] EXPM1_TAYLOR = new double[13];

  static {
    double f = 1;
    for (int k = 2; k <= 14; k++) {
      f *= k;
      EXPM1_TAYLOR[14 - k] = 1 / f;
    }
  }

  /**
   * expm1(v) to about 4e-16 relative, for results rounded to float32: exp(v) - 1 where that does
   * not cancel (|v| >= 0.35; exp is a JIT intrinsic, expm1 is not), the Taylor series to degree 14
   * below (its remainder is under 2e-17). About 3x faster than Math.expm1; a float32 rounded from
   * it differs from one rounded from Math.expm1 only where the double lies within 4e-16 of a
   * rounding boundary of float32 (1 ULP then).
   */
  public static double expm1ForFloat(double v) {
    if (!(Math.abs(v) < 0.35)) return Math.exp(v) - 1;
    if (v == 0) return v;
    double q = EXPM1_TAYLOR[0];
    for (int k = 1; k < EXPM1_TAYLOR.length; k++) q = q * v + EXPM1_TAYLOR[k];
    return v + v * v * q;
  }

  /** {@link #elu} for float32 results (through {@link #expm1ForFloat}). */
  public static double eluForFloat(double x, double alpha) {
    return x > 0 ? x : alpha * expm1ForFloat(nonPositive(x));
  }

  /** {@link #selu} for float32 results. */
  public static double seluForFloat(double x) {
    return x > 0
        ? dev.rectifier.Activation.SELU_SCALE * x
        : SELU_SCALE_ALPHA * expm1ForFloat(nonPositive(x));
  }

  public static double eluPrime(double x, double alpha) {
    return x > 0 ? 1 : alpha * Math.exp(x);
  }

  public static double selu(double x) {
    return x > 0
        ? dev.rectifier.Activation.SELU_SCALE * x
        : SELU_SCALE_ALPHA * Math.expm1(nonPositive(x));
  }

  public static double seluPrime(double x) {
    return x > 0 ? dev.rectifier.Activation.SELU_SCALE : SELU_SCALE_ALPHA * Math.exp(x);
  }

  public static double celu(double x, double alpha) {
    if (x > 0) return x;
    double v = nonPositive(x);
    double q = v / alpha;
    double qLo = Math.fma(-q, alpha, v) / alpha; // v/alpha = q + qLo to twice the precision
    double em = Math.expm1(q);
    // em infinite (alpha < 0, x far below 0): the correction would make inf - inf
    return alpha * (qLo == 0 || !Double.isFinite(qLo * em) ? em : em + qLo * (em + 1));
  }

  public static double celuPrime(double x, double alpha) {
    if (x > 0) return 1;
    double q = x / alpha;
    double qLo = Math.fma(-q, alpha, x) / alpha;
    double e = Math.exp(q);
    return qLo == 0 || !Double.isFinite(qLo * e) ? e : e + e * qLo;
  }

  // ---- GELU, exact form: x * Phi(x) ----

  /** Phi(x) = erfc(-x/sqrt2)/2, with the rounding of -x/sqrt2 corrected to first order. */
  private static double phiCdf(double x) {
    double p = x * INV_SQRT2_HI;
    double pLo = Math.fma(x, INV_SQRT2_HI, -p) + x * INV_SQRT2_LO;
    double z = -p; // -x/sqrt2 = z + zLo
    double zLo = -pLo;
    double e = Erfc.value(z);
    if (zLo != 0 && z > -30 && z < 30) {
      e -= zLo * TWO_OVER_SQRT_PI * Math.exp(-z * z);
    }
    return 0.5 * e;
  }

  /** Below this x, exp(-x^2/2) is under 1e-294 and the results head into the subnormals. */
  private static final double GELU_TAIL = -36.5;

  /**
   * exp(-x^2/2) as {@code h * h * c}: {@code h = exp(-x^2/4)} stays normal, so a product with it
   * rounds once into the subnormals instead of twice; {@code c} carries the rounding of x^2.
   */
  private static double[] halfGaussian(double x) {
    double s = x * x;
    double sLo = Math.fma(x, x, -s);
    return new double[] {Math.exp(-0.25 * s), 1 - 0.5 * sLo};
  }

  public static double gelu(double x) {
    if (x < -40) return -0.0; // |gelu(x)| < 1e-340: below every subnormal
    if (x < GELU_TAIL) {
      // x Phi(x) = x/2 erfcx(-x/sqrt2) exp(-x^2/2)
      double[] h = halfGaussian(x);
      return ((0.5 * x * Erfcx.value(-x * INV_SQRT2_HI) * h[1]) * h[0]) * h[0];
    }
    return x * phiCdf(x);
  }

  /**
   * Below this x, |gelu'(x)| < 1e-340, under every float64 subnormal: the derivative is taken as
   * exactly 0 there (so the gradient is +0 by selection), as the 50-digit reference does.
   */
  public static final double GELU_ZERO_DERIVATIVE_BELOW = -40;

  /** The same for gelu_tanh, where |f'(x)| < 1e-700 below this x. */
  public static final double GELU_TANH_ZERO_DERIVATIVE_BELOW = -30;

  public static double geluPrime(double x) {
    if (x == Double.NEGATIVE_INFINITY) return 0;
    if (x > 40) return 1; // 1 - gelu'(x) < 1e-340
    if (Math.abs(x - RootSeries.GELU_ROOT_HI) <= RootSeries.RADIUS) {
      return RootSeries.eval(RootSeries.GELU, RootSeries.GELU_ROOT_HI, RootSeries.GELU_ROOT_LO, x);
    }
    if (x < GELU_TAIL) {
      // Phi(x) + x phi(x) = exp(-x^2/2) (erfcx(-x/sqrt2)/2 + x/sqrt(2 pi)), negative here
      double[] h = halfGaussian(x);
      double a = 0.5 * Erfcx.value(-x * INV_SQRT2_HI) + x * INV_SQRT_2PI;
      return ((a * h[1]) * h[0]) * h[0];
    }
    // Phi(x) + x phi(x) with x phi(x) = x exp(-x^2/2) / sqrt(2 pi) carried in double-double
    // (x^2 exactly, 1/sqrt(2 pi) as hi + lo) and one rounding at the end.
    double s = x * x;
    double sLo = Math.fma(x, x, -s);
    double e = Math.exp(-0.5 * s);
    double p = x * e;
    double pLo = Math.fma(x, e, -p) - p * 0.5 * sLo; // exp(-(s + sLo)/2) = e (1 - sLo/2)
    double q = p * INV_SQRT_2PI;
    double qLo = Math.fma(p, INV_SQRT_2PI, -q) + p * INV_SQRT_2PI_LO + pLo * INV_SQRT_2PI;
    double cdf = phiCdf(x);
    double sum = q + cdf;
    return sum + (twoSumErr(q, cdf, sum) + qLo);
  }

  // ---- GELU, tanh form: x/2 (1 + tanh u) = x * sigmoid(2u), u = sqrt(2/pi) (x + k x^3) ----

  /** exp(-2u) for the tanh form, u carried as double-double; x in [-30, 30]. */
  private static double geluTanhExpMinus2u(double x) {
    // x^3 = (x*x)*x in double-double
    double s = x * x;
    double sLo = Math.fma(x, x, -s);
    double c = s * x;
    double cLo = Math.fma(s, x, -c) + sLo * x;
    // k*x^3
    double kc = GELU_K_HI * c;
    double kcLo = Math.fma(GELU_K_HI, c, -kc) + GELU_K_HI * cLo + GELU_K_LO * c;
    // x + k x^3
    double t = x + kc;
    double tLo = twoSumErr(x, kc, t) + kcLo;
    // u = sqrt(2/pi) * t
    double u = SQRT_2_OVER_PI_HI * t;
    double uLo =
        Math.fma(SQRT_2_OVER_PI_HI, t, -u) + SQRT_2_OVER_PI_HI * tLo + SQRT_2_OVER_PI_LO * t;
    double e = Math.exp(-2 * u);
    return Double.isInfinite(e) ? e : e - 2 * (e * uLo); // e * 2 may overflow
  }

  /** (n + nLo) / (d + dLo), rounded once: the quotient plus its first-order correction. */
  private static double divide(double n, double nLo, double d, double dLo) {
    double q = n / d;
    if (q == 0 || !Double.isFinite(q)) return q; // keeps the sign of an underflowed zero
    return q + (Math.fma(-q, d, n) + nLo - q * dLo) / d;
  }

  /** (n + nLo) / (1 + e)^2 with the square carried in double-double, rounded once. */
  private static double overOnePlusESquared(double n, double nLo, double e) {
    double b = 1 + e;
    double bLo = twoSumErr(1, e, b);
    double d = b * b;
    double dLo = Math.fma(b, b, -d) + 2 * b * bLo;
    return divide(n, nLo, d, dLo);
  }

  /** The rounding error of {@code s = a + b} (Knuth's two-sum): a + b = s + err exactly. */
  private static double twoSumErr(double a, double b, double s) {
    double bb = s - a;
    return (a - (s - bb)) + (b - bb);
  }

  public static double geluTanh(double x) {
    if (!(x >= -30 && x <= 30)) {
      if (x > 30) return x;
      if (x < -30) return -0.0;
      return x; // NaN
    }
    return x / (1 + geluTanhExpMinus2u(x));
  }

  public static double geluTanhPrime(double x) {
    if (!(x >= -30 && x <= 30)) {
      if (x > 30) return 1;
      if (x < -30) return -0.0; // negative, below the smallest subnormal
      return x; // NaN
    }
    if (Math.abs(x - RootSeries.GELU_TANH_ROOT_HI) <= RootSeries.RADIUS) {
      return RootSeries.eval(
          RootSeries.GELU_TANH, RootSeries.GELU_TANH_ROOT_HI, RootSeries.GELU_TANH_ROOT_LO, x);
    }
    double e = geluTanhExpMinus2u(x);
    if (e > 1e100) {
      // far left, where e A would overflow: s (1 + 2 x (1 - s) u') with 1 - s = 1
      if (Double.isInfinite(e)) return -0.0; // negative, below every subnormal
      return (1 / (1 + e)) * (1 + 2 * x * SQRT_2_OVER_PI_HI * (1 + 3 * GELU_K_HI * x * x));
    }
    // s + 2 x s (1 - s) u' with s = 1/(1 + e) is (1 + e A) / (1 + e)^2, A = 1 + 2 x u' =
    // 1 + (2c x)(1 + 3k x^2), which cancels for x < 0 (A is about -2.3 where 2 x u' is -3.3):
    // carried in double-double and rounded once.
    double s = x * x;
    double sLo = Math.fma(x, x, -s);
    double p = 3 * GELU_K_HI * s;
    double pLo = Math.fma(3 * GELU_K_HI, s, -p) + 3 * (GELU_K_HI * sLo + GELU_K_LO * s);
    double q = 1 + p;
    double qLo = twoSumErr(1, p, q) + pLo;
    double r = 2 * SQRT_2_OVER_PI_HI * x;
    double rLo = Math.fma(2 * SQRT_2_OVER_PI_HI, x, -r) + 2 * SQRT_2_OVER_PI_LO * x;
    double a = Math.fma(r, q, 1);
    double aLo = Math.fma(r, q, 1 - a) + (r * qLo + rLo * q);
    double ea = e * a;
    double eaLo = Math.fma(e, a, -ea) + e * aLo;
    double n = 1 + ea;
    return overOnePlusESquared(n, twoSumErr(1, ea, n) + eaLo, e);
  }

  // ---- SiLU: x * sigmoid(x) ----

  public static double silu(double x) {
    if (x == Double.NEGATIVE_INFINITY) return -0.0;
    return x / (1 + Math.exp(-x));
  }

  public static double siluPrime(double x) {
    if (x == Double.NEGATIVE_INFINITY) return 0;
    if (x == Double.POSITIVE_INFINITY) return 1;
    if (Math.abs(x - RootSeries.SILU_ROOT_HI) <= RootSeries.RADIUS) {
      return RootSeries.eval(RootSeries.SILU, RootSeries.SILU_ROOT_HI, RootSeries.SILU_ROOT_LO, x);
    }
    // s (1 + x (1 - s)), s = sigmoid(x), as one fraction N / (1 + e)^2, carried in
    // double-double and rounded once, so only exp's own error remains: for x >= 0, e = exp(-x)
    // and N = 1 + e (1 + x), every term positive; for x < 0, e = exp(x) and N = e ((1 + x) + e).
    double e = Math.exp(x >= 0 ? -x : x);
    double a = 1 + x;
    double aLo = twoSumErr(1, x, a);
    double n;
    double nLo;
    if (x >= 0) {
      double m = e * a;
      double mLo = Math.fma(e, a, -m) + e * aLo;
      n = 1 + m;
      nLo = twoSumErr(1, m, n) + mLo;
    } else {
      double t = a + e;
      double tLo = twoSumErr(a, e, t) + aLo;
      n = e * t;
      nLo = Math.fma(e, t, -n) + e * tLo;
    }
    return overOnePlusESquared(n, nLo, e);
  }

  // ---- Mish: x * tanh(softplus(x)) = x * n/(n+2), n = e^x (e^x + 2) ----

  public static double mish(double x) {
    if (x > 40) return x; // tanh(softplus(x)) is 1 to double precision
    if (x == Double.NEGATIVE_INFINITY) return -0.0;
    double e = Math.exp(x);
    double n = Math.fma(e, e, 2 * e);
    return x * (n / (n + 2));
  }

  public static double mishPrime(double x) {
    if (x > 40) return 1;
    if (x == Double.NEGATIVE_INFINITY) return 0;
    if (Math.abs(x - RootSeries.MISH_ROOT_HI) <= RootSeries.RADIUS) {
      return RootSeries.eval(RootSeries.MISH, RootSeries.MISH_ROOT_HI, RootSeries.MISH_ROOT_LO, x);
    }
    double e = Math.exp(x);
    if (e == 0) return -0.0; // negative, below every subnormal
    // tanh(sp) + x sech^2(sp) sigmoid(x) = e B / (e^2 + 2e + 2)^2 with the bracket
    // B = (e + 2)(e^2 + 2e + 2) + 4x (1 + e) = e (e (e + 4) + 6 + 4x) + 4 (1 + x), all in
    // double-double and rounded once, so that only exp's own error remains.
    double t = e + 4;
    double tLo = twoSumErr(e, 4, t);
    double u = e * t;
    double uLo = Math.fma(e, t, -u) + e * tLo;
    double c = 6 + 4 * x; // 4x is exact
    double cLo = twoSumErr(6, 4 * x, c);
    double v = u + c;
    double vLo = twoSumErr(u, c, v) + uLo + cLo;
    double w = e * v;
    double wLo = Math.fma(e, v, -w) + e * vLo;
    double a = 4 + 4 * x; // 4 (1 + x)
    double aLo = twoSumErr(4, 4 * x, a);
    double bb = w + a;
    double bbLo = twoSumErr(w, a, bb) + wLo + aLo;
    double num = e * bb;
    double numLo = Math.fma(e, bb, -num) + e * bbLo;
    double e2 = e * e;
    double e2Lo = Math.fma(e, e, -e2);
    double m = e2 + 2 * e;
    double mLo = twoSumErr(e2, 2 * e, m) + e2Lo;
    double k = m + 2;
    double kLo = twoSumErr(m, 2, k) + mLo;
    double den = k * k;
    double denLo = Math.fma(k, k, -den) + 2 * k * kLo;
    double r = divide(num, numLo, den, denLo);
    return r == 0 ? Math.copySign(0.0, x) : r; // far left it is negative and underflows
  }

  // ---- Softplus ----

  public static double softplus(double x, double beta, double threshold) {
    double bx = beta * x;
    if (bx > threshold) return x;
    double bxLo = Double.isFinite(bx) ? Math.fma(beta, x, -bx) : 0;
    double e = Math.exp(bx);
    double sp = Math.log1p(e);
    if (bxLo != 0) sp += bxLo * (e / (1 + e));
    return sp / beta;
  }

  public static double softplusPrime(double x, double beta, double threshold) {
    double bx = beta * x;
    if (bx > threshold) return 1;
    if (bx == Double.NEGATIVE_INFINITY) return 0;
    double bxLo = Double.isFinite(bx) ? Math.fma(beta, x, -bx) : 0;
    double s = sigmoid(bx);
    if (bxLo != 0) s += bxLo * s * (1 - s);
    return s;
  }

  private static double sigmoid(double v) {
    if (v >= 0) return 1 / (1 + Math.exp(-v));
    double e = Math.exp(v);
    return e / (1 + e);
  }

  /**
   * ELU's {@code g * f'(x)} from its output {@code y <= 0} (alpha >= 0): {@code g * (y + alpha)},
   * the sum in double (exact for float32 operands of close exponents), the product rounded once in
   * double (the caller rounds float32 once more); +0 where {@code y + alpha} is 0, as at {@code x =
   * -inf}, so an infinite or NaN gradient does not leak there. The device kernels compute the same.
   */
  static double eluPrimeFromOutput(double g, double y, double alpha) {
    double d = y + alpha;
    return d == 0 ? 0.0 : g * d;
  }
}
