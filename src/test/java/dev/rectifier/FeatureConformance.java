package dev.rectifier;

import static dev.rectifier.BackendConformanceTest.doubles;
import static dev.rectifier.BackendConformanceTest.floats;
import static dev.rectifier.BackendConformanceTest.gradsD;
import static dev.rectifier.BackendConformanceTest.gradsF;
import static dev.rectifier.BackendConformanceTest.sameBits;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.Activation.Function;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The conformance suite's part for the features beyond the plain call: output blending and backward
 * from the output. Every backend's suite runs it ({@link BackendConformanceTest} implements this).
 * The contract is exact: a blended call gives, bit for bit, the blend of what the same backend
 * gives plainly, {@code (alpha*v) + (beta*old)} rounded per operation in the type.
 */
interface FeatureConformance {
  /** The engine of the backend under test. */
  Rectifier engine();

  /** Runs {@code body}, or checks that the backend refuses float64 as it should. */
  void inFloat64(Executable body) throws Throwable;

  /** More than two OpenCL staging chunks, so blending crosses chunk boundaries and both slots. */
  int N = 600_001;

  /** (alpha, beta): scale only (the output not read), accumulate, both, and a pure copy of y. */
  double[][] BLENDS = {{0.5, 0}, {1, 1}, {-2, 0.25}, {0, 1}};

  static Stream<Activation> elementwise() {
    return BackendConformanceTest.elementwise().stream();
  }

  /** What the output held before a blended call: NaN where beta is 0 (it must not be read). */
  private static float[] before(int n, double beta, long seed) {
    float[] y = floats(n, seed);
    if (beta == 0) Arrays.fill(y, Float.NaN);
    return y;
  }

  private static double[] beforeD(int n, double beta, long seed) {
    double[] y = doubles(n, seed);
    if (beta == 0) Arrays.fill(y, Double.NaN);
    return y;
  }

  private static float[] blend(float[] v, float[] old, double alpha, double beta) {
    float a = (float) alpha;
    float b = (float) beta;
    float[] r = new float[v.length];
    for (int i = 0; i < v.length; i++) r[i] = b == 0 ? a * v[i] : a * v[i] + b * old[i];
    return r;
  }

  private static double[] blend(double[] v, double[] old, double a, double b) {
    double[] r = new double[v.length];
    for (int i = 0; i < v.length; i++) r[i] = b == 0 ? a * v[i] : a * v[i] + b * old[i];
    return r;
  }

  private static void assertBits(float[] want, float[] got, String what) {
    for (int i = 0; i < want.length; i++) {
      if (!sameBits(want[i], got[i])) fail(what + " at " + i + ": " + got[i] + " != " + want[i]);
    }
  }

  private static void assertBits(double[] want, double[] got, String what) {
    for (int i = 0; i < want.length; i++) {
      if (!sameBits(want[i], got[i])) fail(what + " at " + i + ": " + got[i] + " != " + want[i]);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("dev.rectifier.FeatureConformance#elementwise")
  default void aBlendedCallIsTheBlendOfThePlainOne(Activation f) throws Throwable {
    Rectifier r = engine();
    float[] x = floats(N, 71);
    float[] g = gradsF(N, 72);
    float[] y = new float[N];
    float[] dx = new float[N];
    r.forward(f, x, y);
    r.backward(f, x, g, dx);
    for (double[] ab : BLENDS) {
      Activation fb = f.blend(ab[0], ab[1]);
      float[] old = before(N, ab[1], 73);
      float[] got = old.clone();
      r.forward(fb, x, got);
      assertBits(blend(y, old, ab[0], ab[1]), got, fb + " forward");
      got = old.clone();
      r.backward(fb, x, g, got);
      assertBits(blend(dx, old, ab[0], ab[1]), got, fb + " backward");
      // in place: the old output is x itself (forward), or g (backward into g)
      got = x.clone();
      r.forward(fb, got, got);
      assertBits(blend(y, x, ab[0], ab[1]), got, fb + " forward in place");
      got = g.clone();
      r.backward(fb, x, got, got);
      assertBits(blend(dx, g, ab[0], ab[1]), got, fb + " backward into grad_output");
    }
    inFloat64(
        () -> {
          int n = 3001;
          double[] xd = doubles(n, 74);
          double[] gd = gradsD(n, 75);
          double[] yd = new double[n];
          double[] dxd = new double[n];
          r.forward(f, xd, yd);
          r.backward(f, xd, gd, dxd);
          for (double[] ab : BLENDS) {
            Activation fb = f.blend(ab[0], ab[1]);
            double[] old = beforeD(n, ab[1], 76);
            double[] got = old.clone();
            r.forward(fb, xd, got);
            assertBits(blend(yd, old, ab[0], ab[1]), got, fb + " f64 forward");
            got = old.clone();
            r.backward(fb, xd, gd, got);
            assertBits(blend(dxd, old, ab[0], ab[1]), got, fb + " f64 backward");
          }
        });
  }

  static Stream<Object[]> channelCases() {
    List<Object[]> cases = new ArrayList<>();
    for (int[] s : new int[][] {{3, 6, 258}, {4, 3, 2, 6}}) {
      cases.add(new Object[] {Activation.prelu(), s});
      cases.add(new Object[] {Activation.crelu(), s});
      cases.add(new Object[] {Activation.maxout(3), s});
      cases.add(new Object[] {Activation.maxout(2, -1), s});
    }
    return cases.stream();
  }

  /** PReLU, CReLU, Maxout: y and grad_input blended; PReLU's grad_weight written as before. */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("dev.rectifier.FeatureConformance#channelCases")
  default void channelFunctionsBlendTheirOutputs(Activation f, int[] dims) throws Throwable {
    Rectifier r = engine();
    Shape s = Shape.of(dims);
    Shape out = f.outputShape(s);
    int n = (int) s.size();
    int m = (int) out.size();
    boolean prelu = f.function() == Function.PRELU;
    int channels = s.dim(f.channelAxis(s));
    float[] x = floats(n, 81);
    float[] g = gradsF(m, 82);
    float[] w = {0.25f, -0.5f, 0f, 2f, 0.125f, -1f};
    w = Arrays.copyOf(w, channels);
    float[] y = new float[m];
    float[] dx = new float[n];
    float[] gw = new float[channels];
    if (prelu) {
      r.forward(f, s, x, w, y);
      r.backward(f, s, x, w, g, dx, gw);
    } else {
      r.forward(f, s, x, y);
      r.backward(f, s, x, g, dx);
    }
    for (double[] ab : BLENDS) {
      Activation fb = f.blend(ab[0], ab[1]);
      float[] oldY = before(m, ab[1], 83);
      float[] oldDx = before(n, ab[1], 84);
      float[] gotY = oldY.clone();
      float[] gotDx = oldDx.clone();
      float[] gotGw = new float[channels];
      if (prelu) {
        r.forward(fb, s, x, w, gotY);
        r.backward(fb, s, x, w, g, gotDx, gotGw);
        assertBits(gw, gotGw, fb + " grad_weight (not blended)");
      } else {
        r.forward(fb, s, x, gotY);
        r.backward(fb, s, x, g, gotDx);
      }
      assertBits(blend(y, oldY, ab[0], ab[1]), gotY, fb + " forward");
      assertBits(blend(dx, oldDx, ab[0], ab[1]), gotDx, fb + " backward");
    }
  }

  /** On the backend's own buffers (the whole-call kernel path, not host streaming). */
  @Test
  default void buffersBlendToo() {
    Rectifier r = engine();
    Activation f = Activation.silu();
    Activation fb = f.blend(-2, 0.25);
    int n = 70_001;
    float[] x = floats(n, 91);
    float[] old = floats(n, 92);
    float[] plain = new float[n];
    r.forward(f, x, plain);
    try (DeviceBuffer bx = r.upload(x);
        DeviceBuffer by = r.upload(old)) {
      r.forward(fb, Shape.vector(n), bx, by);
      float[] got = new float[n];
      by.copyTo(got);
      assertBits(blend(plain, old, -2, 0.25), got, fb + " on buffers");
      r.backward(fb, Shape.vector(n), bx, bx, by);
      float[] dx = new float[n];
      r.backward(f, x, x, dx);
      by.copyTo(got);
      float[] prev = blend(plain, old, -2, 0.25);
      assertBits(blend(dx, prev, -2, 0.25), got, fb + " backward on buffers");
    }
  }

  @Test
  default void aBlendMustBeFinite() {
    for (double bad : new double[] {Double.NaN, Double.POSITIVE_INFINITY}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> Activation.relu().blend(bad, 0));
      assertTrue(e.getMessage().startsWith("blend: alpha is"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> Activation.relu().blend(1, bad));
    }
    assertTrue(!Activation.relu().blend(1, 0).blends());
    assertTrue(Activation.relu().blend(1, -0.0).equals(Activation.relu()));
  }

  // ------------------------------------------------------------------ backward from the output

  static Stream<Activation> fromOutputExact() {
    return elementwise().filter(f -> f.backwardFromOutputAllowed() && f.function() != Function.ELU);
  }

  /** The functions whose gradient from y uses the same comparisons: the bits of the x path. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("dev.rectifier.FeatureConformance#fromOutputExact")
  default void backwardFromTheOutputGivesTheGradientFromX(Activation f) throws Throwable {
    Rectifier r = engine();
    float[] x = floats(N, 101);
    float[] g = gradsF(N, 102);
    float[] y = new float[N];
    r.forward(f, x, y);
    float[] fromX = new float[N];
    r.backward(f, x, g, fromX);
    // slope 0 at x = -inf: y = 0 * -inf is NaN, and the gradient from that y is NaN too
    for (int i = 0; i < N; i++)
      if (x[i] == Float.NEGATIVE_INFINITY && y[i] != y[i]) fromX[i] = y[i];
    float[] fromY = new float[N];
    r.backwardFromOutput(f, y, g, fromY);
    assertBits(fromX, fromY, f + " from y");
    float[] inPlace = y.clone();
    r.backwardFromOutput(f, inPlace, g, inPlace);
    assertBits(fromX, inPlace, f + " from y, into y");
    Activation fb = f.blend(-2, 0.25);
    float[] old = floats(N, 103);
    float[] blended = old.clone();
    r.backwardFromOutput(fb, y, g, blended);
    assertBits(blend(fromX, old, -2, 0.25), blended, fb + " from y");
    inFloat64(
        () -> {
          int n = 3001;
          double[] xd = doubles(n, 104);
          double[] gd = gradsD(n, 105);
          double[] yd = new double[n];
          double[] want = new double[n];
          double[] got = new double[n];
          r.forward(f, xd, yd);
          r.backward(f, xd, gd, want);
          for (int i = 0; i < n; i++)
            if (xd[i] == Double.NEGATIVE_INFINITY && yd[i] != yd[i]) want[i] = yd[i];
          r.backwardFromOutput(f, yd, gd, got);
          assertBits(want, got, f + " f64 from y");
        });
  }

  static Stream<Activation> elus() {
    return Stream.of(Activation.elu(), Activation.elu(0.5), Activation.elu(0), Activation.elu(3));
  }

  /**
   * ELU from y: {@code g * (y + alpha)} for {@code y <= 0}, within 1 ULP of its exact value (+0
   * where {@code y + alpha} is 0); {@code g} where {@code y > 0}; NaN where y is.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("dev.rectifier.FeatureConformance#elus")
  default void eluFromTheOutputIsGradTimesYPlusAlpha(Activation f) throws Throwable {
    Rectifier r = engine();
    float[] x = floats(N, 111);
    float[] g = gradsF(N, 112);
    float[] y = new float[N];
    r.forward(f, x, y);
    float[] got = new float[N];
    r.backwardFromOutput(f, y, g, got);
    float alpha = (float) f.param("alpha");
    for (int i = 0; i < N; i++) {
      checkEluFromOutput(f, i, g[i], y[i], alpha, got[i], Math.ulp(got[i]));
    }
    inFloat64(
        () -> {
          int n = 3001;
          double[] xd = doubles(n, 113);
          double[] gd = gradsD(n, 114);
          double[] yd = new double[n];
          double[] dxd = new double[n];
          r.forward(f, xd, yd);
          r.backwardFromOutput(f, yd, gd, dxd);
          for (int i = 0; i < n; i++) {
            // float64: the sum and the product each rounded: within 2 ULP of exact
            checkEluFromOutput(f, i, gd[i], yd[i], f.param("alpha"), dxd[i], 2 * Math.ulp(dxd[i]));
          }
        });
  }

  private static void checkEluFromOutput(
      Activation f, int i, double g, double y, double alpha, double got, double tolerance) {
    String at = f + " from y at " + i + ": g=" + g + " y=" + y + " got " + got;
    if (y > 0) {
      assertTrue(sameBits(g, got), at);
    } else if (Double.isNaN(y)) {
      assertTrue(Double.isNaN(got), at);
    } else if (y + alpha == 0) {
      assertTrue(sameBits(0.0, got), at + ": want +0");
    } else if (!Double.isFinite(g) || !Double.isFinite(got)) {
      assertTrue(sameBits(g * (y + alpha), got) || Double.isInfinite(got), at);
    } else {
      BigDecimal exact = new BigDecimal(g).multiply(new BigDecimal(y).add(new BigDecimal(alpha)));
      BigDecimal err = new BigDecimal(got).subtract(exact).abs();
      assertTrue(err.compareTo(new BigDecimal(tolerance)) <= 0, at + " want " + exact);
    }
  }

  /** The others are refused with the reason, before anything is written. */
  @Test
  default void backwardFromTheOutputIsRefusedWhereFPrimeIsNotAFunctionOfY() {
    Rectifier r = engine();
    for (Activation f :
        List.of(
            Activation.leakyRelu(-0.3),
            Activation.elu(-0.5),
            Activation.threshold(0.5, 2),
            Activation.selu(),
            Activation.celu(),
            Activation.gelu(),
            Activation.silu(),
            Activation.mish(),
            Activation.softplus(),
            Activation.crelu())) {
      float[] y = {1, -1, 0};
      float[] dx = {7, 7, 7};
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> r.backwardFromOutput(f, y, new float[3], dx),
              f.toString());
      assertTrue(e.getMessage().startsWith("backward from the output: " + f), e.getMessage());
      assertTrue(e.getMessage().endsWith("run backward from x"), e.getMessage());
      assertTrue(!f.backwardFromOutputAllowed(), f.toString());
      org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {7, 7, 7}, dx);
    }
  }

  @Test
  default void backwardFromTheOutputOnBuffers() {
    Rectifier r = engine();
    int n = 70_001;
    for (Activation f : List.of(Activation.relu6(), Activation.elu(0.5))) {
      float[] x = floats(n, 121);
      float[] g = gradsF(n, 122);
      float[] y = new float[n];
      r.forward(f, x, y);
      float[] want = new float[n];
      r.backwardFromOutput(f, y, g, want);
      try (DeviceBuffer by = r.upload(y);
          DeviceBuffer bg = r.upload(g);
          DeviceBuffer bdx = r.allocate(DType.FLOAT32, n)) {
        r.backwardFromOutput(f, by, bg, bdx);
        assertBits(want, bdx.toFloatArray(), f + " on buffers");
      }
    }
  }
}
