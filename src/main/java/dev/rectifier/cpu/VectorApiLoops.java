package dev.rectifier.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * float32 forward loops written with the JDK's Vector API ({@code jdk.incubator.vector}, JDK 17
 * on), used when the JVM was started with {@code --add-modules jdk.incubator.vector} (see {@link
 * FloatLoops}). The smooth functions load float lanes, widen them to double, compute there with the
 * Vector API's {@code EXP}, {@code EXPM1} and {@code LOG1P} (which HotSpot compiles to Intel's
 * short-vector math library on x86-64) and round each result to float once, as the scalar loops do;
 * a result can differ from the scalar loops' only where the two doubles straddle a float rounding
 * boundary, by 1 ULP. VectorApiLoopsTest holds them to 1 ULP on 3M inputs per function (0 seen),
 * and to bit equality on the special values.
 *
 * <p>Why not the scalar loops: JDK 17's C2 does not vectorize {@code Math.exp}, nor any loop that
 * mixes float and double. Measured here (AMD EPYC, AVX and FMA, no AVX2; 16M floats, one thread):
 * ELU 98 ms scalar, 29 ms so.
 *
 * <p>The tails (fewer elements than a vector) run the scalar definitions of {@link Formulas}. Where
 * {@code y} is {@code x} at the same offset, each vector is read before it is written, as the
 * scalar loop reads each element; partial overlaps are refused before any backend is called.
 *
 * <p>This class must not be loaded when the module is absent: only {@link ElementwiseKernels} calls
 * it, and only when {@link FloatLoops#VECTOR_API} was chosen.
 */
final class VectorApiLoops {
  private VectorApiLoops() {}

  /** Doubles: the widest the CPU has; floats: as many lanes, in half the bits. */
  private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

  private static final VectorSpecies<Float> F =
      VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));

  /** relu works in float alone, so it takes the widest float vectors. */
  private static final VectorSpecies<Float> WIDE = FloatVector.SPECIES_PREFERRED;

  /** Lanes per widened step, for {@link FloatLoops#describe}. */
  static String shape() {
    return D.length() + " doubles (" + D.vectorBitSize() + "-bit)";
  }

  private static DoubleVector load(float[] x, int at) {
    return (DoubleVector) FloatVector.fromArray(F, x, at).convertShape(VectorOperators.F2D, D, 0);
  }

  private static void store(DoubleVector v, float[] y, int at) {
    ((FloatVector) v.convertShape(VectorOperators.D2F, F, 0)).intoArray(y, at);
  }

  private static final double NEG_MAX = -Float.MAX_VALUE;

  /**
   * relu as a compare and a blend: x where {@code x < 0} is false (NaN, -0 and +0 included), +0
   * elsewhere. Bit-equal to the scalar loop.
   */
  static void relu(float[] x, int xo, float[] y, int yo, int n) {
    int i = 0;
    for (int end = WIDE.loopBound(n); i < end; i += WIDE.length()) {
      FloatVector v = FloatVector.fromArray(WIDE, x, xo + i);
      v.blend(0f, v.lt(0f)).intoArray(y, yo + i);
    }
    for (; i < n; i++) {
      float v = x[xo + i];
      y[yo + i] = v < 0 ? 0f : v;
    }
  }

  /**
   * scale * x for x > 0, else scale * alpha * expm1(min(x, -0)): the negative branch includes +0,
   * whose result is -0 as in {@link Formulas#elu}; NaN takes it and stays NaN. ELU is scale 1, SELU
   * its constants.
   */
  static void elu(float[] x, int xo, float[] y, int yo, int n, double scale, double scaleAlpha) {
    int i = 0;
    for (int end = F.loopBound(n); i < end; i += F.length()) {
      DoubleVector d = load(x, xo + i);
      DoubleVector neg = d.min(-0.0).lanewise(VectorOperators.EXPM1).mul(scaleAlpha);
      store(neg.blend(d.mul(scale), d.compare(VectorOperators.GT, 0.0)), y, yo + i);
    }
    for (; i < n; i++) {
      double v = x[xo + i];
      y[yo + i] =
          (float) (v > 0 ? scale * v : scaleAlpha * Formulas.expm1ForFloat(Math.min(v, -0.0)));
    }
  }

  /** celu: x for x > 0, else alpha * expm1(min(x, -0) / alpha). */
  static void celu(float[] x, int xo, float[] y, int yo, int n, double alpha) {
    int i = 0;
    for (int end = F.loopBound(n); i < end; i += F.length()) {
      DoubleVector d = load(x, xo + i);
      DoubleVector neg = d.min(-0.0).div(alpha).lanewise(VectorOperators.EXPM1).mul(alpha);
      store(neg.blend(d, d.compare(VectorOperators.GT, 0.0)), y, yo + i);
    }
    for (; i < n; i++) y[yo + i] = (float) Formulas.celu(x[xo + i], alpha);
  }

  /** silu(x) = x / (1 + exp(-x)); -inf gives -0 through -MAX / inf, as in the scalar loop. */
  static void silu(float[] x, int xo, float[] y, int yo, int n) {
    int i = 0;
    for (int end = F.loopBound(n); i < end; i += F.length()) {
      DoubleVector d = load(x, xo + i);
      DoubleVector e = d.neg().lanewise(VectorOperators.EXP);
      store(d.max(NEG_MAX).div(e.add(1.0)), y, yo + i);
    }
    for (; i < n; i++) y[yo + i] = (float) Formulas.silu(x[xo + i]);
  }

  /**
   * mish(x) = x * m / (m + 2), m = e (e + 2), e = exp(min(x, 40)): beyond 40 the fraction is 1 in
   * double; -inf gives -0 through -MAX * 0.
   */
  static void mish(float[] x, int xo, float[] y, int yo, int n) {
    int i = 0;
    for (int end = F.loopBound(n); i < end; i += F.length()) {
      DoubleVector d = load(x, xo + i);
      DoubleVector e = d.min(40.0).lanewise(VectorOperators.EXP);
      DoubleVector m = e.mul(e.add(2.0));
      store(d.max(NEG_MAX).mul(m.div(m.add(2.0))), y, yo + i);
    }
    for (; i < n; i++) y[yo + i] = (float) Formulas.mish(x[xo + i]);
  }

  /**
   * softplus(x) = log1p(exp(beta x)) / beta, or x where beta x > threshold (NaN takes the first
   * branch and stays NaN). beta x is exact in double for float x and beta, so the scalar
   * definition's correction term is 0 here.
   */
  static void softplus(float[] x, int xo, float[] y, int yo, int n, double beta, double threshold) {
    int i = 0;
    for (int end = F.loopBound(n); i < end; i += F.length()) {
      DoubleVector d = load(x, xo + i);
      DoubleVector bx = d.mul(beta);
      DoubleVector sp = bx.lanewise(VectorOperators.EXP).lanewise(VectorOperators.LOG1P).div(beta);
      store(sp.blend(d, bx.compare(VectorOperators.GT, threshold)), y, yo + i);
    }
    for (; i < n; i++) y[yo + i] = (float) Formulas.softplus(x[xo + i], beta, threshold);
  }

  private static final double INV_SQRT2 = 0.7071067811865476;

  /**
   * gelu(x) = x Phi(x), as {@link VectorLoops#gelu}: h = Phi(-|x|) = exp(-x^2/2) erfcx(|x|/sqrt2) /
   * 2 (x^2 exact in double), Phi = h for x < 0 and 1 - h for x > 0 through p = 0 or 1, with {@link
   * VectorLoops#erfcx}'s polynomial evaluated across lanes.
   */
  static void gelu(float[] x, int xo, float[] y, int yo, int n) {
    int i = 0;
    for (int end = F.loopBound(n); i < end; i += F.length()) {
      DoubleVector d = load(x, xo + i);
      DoubleVector g = d.mul(d).mul(-0.5).lanewise(VectorOperators.EXP);
      DoubleVector h = g.mul(erfcx(d.abs().mul(INV_SQRT2))).mul(0.5);
      DoubleVector p = d.mul(1e300).max(0.0).min(1.0);
      DoubleVector phi = p.mul(h.mul(-2.0).add(1.0)).add(h);
      store(d.max(NEG_MAX).mul(phi), y, yo + i);
    }
    for (; i < n; i++) y[yo + i] = (float) Formulas.gelu(x[xo + i]);
  }

  private static DoubleVector erfcx(DoubleVector z) {
    DoubleVector zc = z.min(30.0);
    DoubleVector zk = zc.add(3.75);
    DoubleVector s = zc.sub(3.75).div(zk).mul(1.125).add(0.125);
    DoubleVector p = DoubleVector.broadcast(D, VectorLoops.ERFCX[0]);
    for (int k = 1; k < VectorLoops.ERFCX.length; k++) p = p.mul(s).add(VectorLoops.ERFCX[k]);
    return p.div(zk);
  }

  // sqrt(2/pi) and 0.044715, for gelu_tanh
  private static final double SQRT_2_OVER_PI = 0.7978845608028654;
  private static final double GELU_K = 0.044715;

  /**
   * gelu_tanh(x) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3), with x clamped to [-30,
   * 30] inside u: beyond, exp(-2u) is 0 (the result is x) or +inf (the result is -0, through -MAX /
   * inf). u's relative error in double (a few 1e-16, |2u| <= 2000) moves exp(-2u) by under 1e-12
   * relative, far inside a float ULP but for values next to a rounding boundary.
   */
  static void geluTanh(float[] x, int xo, float[] y, int yo, int n) {
    int i = 0;
    for (int end = F.loopBound(n); i < end; i += F.length()) {
      DoubleVector d = load(x, xo + i);
      DoubleVector c = d.max(-30.0).min(30.0);
      DoubleVector u = c.mul(c).mul(c).mul(GELU_K).add(c).mul(SQRT_2_OVER_PI);
      DoubleVector e = u.mul(-2.0).lanewise(VectorOperators.EXP);
      store(d.max(NEG_MAX).div(e.add(1.0)), y, yo + i);
    }
    for (; i < n; i++) y[yo + i] = (float) Formulas.geluTanh(x[xo + i]);
  }

  /**
   * {@link Stats}' leaves over {@code leaves} whole leaf records of floats from {@code y[at]}: leaf
   * {@code k}'s sum of {@code |y|} over finite {@code y}, by the halving tree of {@link
   * dev.rectifier.spi.StatsRecords} in float (lane {@code l} takes lane {@code l + d}: the first
   * step adds two vectors loaded {@code LANES / 2} apart, the steps down to the vector's width add
   * vectors, the last few lanes are added one by one), goes to {@code sums[first + k]}; the least
   * and greatest non-NaN value ({@link FloatVector#min} is {@link Math#min}: -0 below +0) go to
   * {@code extremes[0]} and {@code extremes[1]}, and the zeros, NaNs and infinities are added to
   * {@code counts[0..2]}.
   */
  static void statsLeaves(
      float[] y,
      int at,
      int leaves,
      double[] sums,
      int first,
      float[] lanes,
      float[] extremes,
      int[] counts) {
    final int half = dev.rectifier.spi.StatsRecords.LANES / 2;
    final int width = WIDE.length();
    FloatVector lo = FloatVector.broadcast(WIDE, Float.POSITIVE_INFINITY);
    FloatVector hi = FloatVector.broadcast(WIDE, Float.NEGATIVE_INFINITY);
    int zeros = 0;
    int nans = 0;
    int infinities = 0;
    for (int k = 0; k < leaves; k++) {
      int base = at + k * 2 * half;
      for (int l = 0; l < half; l += width) {
        FloatVector a = FloatVector.fromArray(WIDE, y, base + l);
        FloatVector b = FloatVector.fromArray(WIDE, y, base + l + half);
        var nanA = a.test(VectorOperators.IS_NAN);
        var nanB = b.test(VectorOperators.IS_NAN);
        zeros += a.eq(0f).trueCount() + b.eq(0f).trueCount();
        nans += nanA.trueCount() + nanB.trueCount();
        infinities +=
            a.test(VectorOperators.IS_INFINITE).trueCount()
                + b.test(VectorOperators.IS_INFINITE).trueCount();
        lo =
            lo.min(a.blend(Float.POSITIVE_INFINITY, nanA))
                .min(b.blend(Float.POSITIVE_INFINITY, nanB));
        hi =
            hi.max(a.blend(Float.NEGATIVE_INFINITY, nanA))
                .max(b.blend(Float.NEGATIVE_INFINITY, nanB));
        FloatVector fa = a.abs();
        FloatVector fb = b.abs();
        // NaN and infinities count, not sum: |y| < inf is false for both
        fa = fa.blend(0f, fa.lt(Float.POSITIVE_INFINITY).not());
        fb = fb.blend(0f, fb.lt(Float.POSITIVE_INFINITY).not());
        fa.add(fb).intoArray(lanes, l);
      }
      int d = half / 2;
      for (; d >= width; d >>= 1) {
        for (int l = 0; l < d; l += width) {
          FloatVector.fromArray(WIDE, lanes, l)
              .add(FloatVector.fromArray(WIDE, lanes, l + d))
              .intoArray(lanes, l);
        }
      }
      for (; d > 0; d >>= 1) {
        for (int l = 0; l < d; l++) lanes[l] += lanes[l + d];
      }
      sums[first + k] = lanes[0];
    }
    extremes[0] = lo.reduceLanes(VectorOperators.MIN);
    extremes[1] = hi.reduceLanes(VectorOperators.MAX);
    counts[0] += zeros;
    counts[1] += nans;
    counts[2] += infinities;
  }
}
