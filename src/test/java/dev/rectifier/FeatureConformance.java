package dev.rectifier;

import static dev.rectifier.BackendConformanceTest.doubles;
import static dev.rectifier.BackendConformanceTest.floats;
import static dev.rectifier.BackendConformanceTest.gradsD;
import static dev.rectifier.BackendConformanceTest.gradsF;
import static dev.rectifier.BackendConformanceTest.sameBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * The conformance suite's part for the features beyond the plain call: output blending, backward
 * from the output and backward from a 1-bit mask. Every backend's suite runs it ({@link
 * BackendConformanceTest} implements this). The contract is exact: a blended call gives, bit for
 * bit, the blend of what the same backend gives plainly, {@code (alpha*v) + (beta*old)} rounded per
 * operation in the type.
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

  // ------------------------------------------------------------------ 1-bit masks

  static Stream<Activation> masked() {
    return Stream.of(
        Activation.relu(),
        Activation.leakyRelu(),
        Activation.leakyRelu(-0.3),
        Activation.leakyRelu(0),
        Activation.relu6(),
        Activation.hardtanh(),
        Activation.hardtanh(-0.5, 2.5));
  }

  /**
   * The bit the contract gives {@code x}: PyTorch's backward test ({@link Activation#maskAllowed}).
   */
  private static boolean bit(Activation f, double x) {
    return switch (f.function()) {
      case RELU -> !(x <= 0);
      case LEAKY_RELU -> x > 0;
      case RELU6 -> !(x <= 0 || x >= 6);
      default -> !(x <= f.param("min_val") || x >= f.param("max_val"));
    };
  }

  /** {@code x} from {@code seed} with the bounds of every masked function among its elements. */
  private static float[] boundaries(int n, long seed) {
    float[] x = floats(n, seed);
    float[] edges = {0, -0f, 6, -1, 1, -0.5f, 2.5f, Float.NaN, Float.NEGATIVE_INFINITY};
    for (int i = 0; i < edges.length; i++) x[31 + 37 * i] = edges[i];
    return x;
  }

  private static void checkMask(Activation f, double[] x, int[] mask) {
    for (int i = 0; i < mask.length * 32; i++) {
      boolean set = (mask[i >>> 5] >>> (i & 31) & 1) != 0;
      boolean want = i < x.length && bit(f, x[i]);
      if (set != want) fail(f + ": bit " + i + " is " + set + " for x = " + x[i]);
    }
  }

  /**
   * The forward with a mask writes the plain forward's y and the contract's bits (0 past the end);
   * backward from it gives the gradient from x bit for bit, but where x is NaN: g (relu, relu6,
   * hardtanh) or slope * g (leaky_relu), as PyTorch's backward.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("dev.rectifier.FeatureConformance#masked")
  default void aMaskGivesTheGradientFromX(Activation f) throws Throwable {
    Rectifier r = engine();
    float[] x = boundaries(N, 131);
    float[] g = gradsF(N, 132);
    float[] plain = new float[N];
    r.forward(f, x, plain);
    float[] y = new float[N];
    int[] mask = new int[(int) Rectifier.maskWords(N)];
    Arrays.fill(mask, -1);
    r.forward(f, x, y, mask);
    assertBits(plain, y, f + " y beside its mask");
    double[] xd = new double[N];
    for (int i = 0; i < N; i++) xd[i] = x[i];
    checkMask(f, xd, mask);
    float[] inPlace = x.clone();
    int[] mask2 = new int[mask.length];
    r.forward(f, inPlace, inPlace, mask2);
    assertBits(plain, inPlace, f + " in place beside its mask");
    org.junit.jupiter.api.Assertions.assertArrayEquals(mask, mask2, f + " mask in place");

    float[] want = new float[N];
    r.backward(f, x, g, want);
    float slope = f.function() == Function.LEAKY_RELU ? (float) f.param("slope") : 0f;
    for (int i = 0; i < N; i++) {
      if (x[i] != x[i]) want[i] = bit(f, x[i]) ? g[i] : (slope == 0 ? 0f : slope * g[i]);
    }
    float[] dx = new float[N];
    r.backwardFromMask(f, mask, g, dx);
    assertBits(want, dx, f + " from its mask");
    float[] gInPlace = g.clone();
    r.backwardFromMask(f, mask, gInPlace, gInPlace);
    assertBits(want, gInPlace, f + " from its mask, into g");
    Activation fb = f.blend(-2, 0.25);
    float[] old = floats(N, 133);
    float[] blended = old.clone();
    r.backwardFromMask(fb, mask, g, blended);
    assertBits(blend(want, old, -2, 0.25), blended, fb + " from its mask");
    float[] yb = old.clone();
    r.forward(fb, x, yb, new int[mask.length]);
    assertBits(blend(plain, old, -2, 0.25), yb, fb + " forward beside its mask");
    inFloat64(
        () -> {
          int n = 3001;
          double[] xs = doubles(n, 134);
          xs[5] = 6;
          xs[6] = -1;
          xs[7] = 2.5;
          double[] gs = gradsD(n, 135);
          double[] ys = new double[n];
          int[] m = new int[(int) Rectifier.maskWords(n)];
          Arrays.fill(m, -1);
          r.forward(f, xs, ys, m);
          double[] py = new double[n];
          r.forward(f, xs, py);
          assertBits(py, ys, f + " f64 y beside its mask");
          checkMask(f, xs, m);
          double[] w = new double[n];
          r.backward(f, xs, gs, w);
          double s = f.function() == Function.LEAKY_RELU ? f.param("slope") : 0;
          for (int i = 0; i < n; i++) {
            if (xs[i] != xs[i]) w[i] = bit(f, xs[i]) ? gs[i] : (s == 0 ? 0 : s * gs[i]);
          }
          double[] got = new double[n];
          r.backwardFromMask(f, m, gs, got);
          assertBits(w, got, f + " f64 from its mask");
        });
  }

  @Test
  default void masksOnBuffers() {
    Rectifier r = engine();
    int n = 70_001;
    for (Activation f : List.of(Activation.relu6(), Activation.leakyRelu(0.2))) {
      float[] x = boundaries(n, 141);
      float[] g = gradsF(n, 142);
      float[] y = new float[n];
      int[] mask = new int[(int) Rectifier.maskWords(n)];
      r.forward(f, x, y, mask);
      float[] dx = new float[n];
      r.backwardFromMask(f, mask, g, dx);
      try (DeviceBuffer bx = r.upload(x);
          DeviceBuffer by = r.allocate(DType.FLOAT32, n);
          DeviceBuffer bm = r.allocate(DType.INT32, Rectifier.maskWords(n));
          DeviceBuffer bg = r.upload(g);
          DeviceBuffer bdx = r.allocate(DType.FLOAT32, n)) {
        r.forward(f, bx, by, bm);
        assertBits(y, by.toFloatArray(), f + " y on buffers");
        org.junit.jupiter.api.Assertions.assertArrayEquals(mask, bm.toIntArray(), f + " mask");
        r.backwardFromMask(f, bm, bg, bdx);
        assertBits(dx, bdx.toFloatArray(), f + " from its mask on buffers");
        bm.copyFrom(mask);
        r.forward(f, bx, bx, bm);
        assertBits(y, bx.toFloatArray(), f + " in place on buffers");
      }
    }
  }

  /** Functions without a 1-bit derivative, and masks of the wrong size or type, write nothing. */
  @Test
  default void masksAreRefusedWithTheReason() {
    Rectifier r = engine();
    float[] x = {1, -1, 0};
    float[] y = {7, 7, 7};
    int[] mask = {7};
    for (Activation f :
        List.of(
            Activation.gelu(),
            Activation.elu(),
            Activation.threshold(0.5, 0),
            Activation.prelu())) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> r.forward(f, x, y, mask), f + "");
      assertTrue(e.getMessage().startsWith("1-bit mask: " + f + " cannot"), e.getMessage());
      assertTrue(!f.maskAllowed(), f.toString());
      assertThrows(IllegalArgumentException.class, () -> r.backwardFromMask(f, mask, x, y), f + "");
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> r.forward(Activation.relu(), x, y, new int[2]));
    assertTrue(e.getMessage().startsWith("mask has 2 words; 3 elements need 1"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> r.backwardFromMask(Activation.relu(), new int[0], x, y));
    assertTrue(e.getMessage().startsWith("mask has 0 words"), e.getMessage());
    org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {7, 7, 7}, y);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {7}, mask);
    try (DeviceBuffer bx = r.upload(x);
        DeviceBuffer notWords = r.upload(new float[1])) {
      e =
          assertThrows(
              IllegalArgumentException.class, () -> r.forward(Activation.relu(), bx, bx, notWords));
      assertTrue(e.getMessage().startsWith("mask is f32; give int32 words"), e.getMessage());
    }
    try (DeviceBuffer words = r.allocate(DType.INT32, 3);
        DeviceBuffer out = r.allocate(DType.INT32, 3)) {
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> r.forward(Activation.relu(), Shape.vector(3), words, out));
      assertTrue(e.getMessage().startsWith("x is i32 (a mask's words)"), e.getMessage());
    }
  }

  // ------------------------------------------------------------------ statistics

  /** Floats with every class of output among them, and values whose sums overflow a block. */
  private static float[] forStats(int n, long seed) {
    float[] x = floats(n, seed);
    float[] edges = {0, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 6, -6};
    for (int i = 0; i < edges.length && 1000 * i < n; i++) x[1000 * i] = edges[i];
    return x;
  }

  /**
   * Statistics in the same pass: y bit for bit the plain forward's, and the figures those of {@link
   * StatsOracle}, the fixed order included, so every backend gives the same. Sizes cross leaf
   * records and blocks, with partial ones at the end.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("elementwise")
  default void statsAreThoseOfTheOutputInTheFixedOrder(Activation f) throws Throwable {
    Rectifier r = engine();
    for (int n : new int[] {0, 1, 257, 65_536, 200_001}) {
      float[] x = forStats(n, 151 + n);
      float[] plain = new float[n];
      r.forward(f, x, plain);
      float[] y = new float[n];
      ActivationStats got = r.forwardWithStats(f, x, y);
      assertBits(plain, y, f + " y with statistics, n = " + n);
      StatsOracle.of(plain).check(got, true, f + " n = " + n);
    }
    inFloat64(
        () -> {
          int n = 140_001;
          double[] x = doubles(n, 152);
          double[] plain = new double[n];
          r.forward(f, x, plain);
          double[] y = x.clone();
          ActivationStats got = r.forwardWithStats(f, y, y);
          assertBits(plain, y, f + " f64 in place with statistics");
          StatsOracle.of(plain).check(got, false, f + " f64");
        });
  }

  /** PReLU, CReLU (both halves of y), Maxout (its outputs): the statistics of all of y. */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("dev.rectifier.FeatureConformance#channelCases")
  default void channelFunctionsHaveTheStatsOfAllOfY(Activation f, int[] dims) throws Throwable {
    Rectifier r = engine();
    Shape s = Shape.of(dims);
    int n = (int) s.size();
    int m = (int) f.outputShape(s).size();
    float[] x = forStats(n, 161);
    float[] w =
        f.function() == Function.PRELU
            ? Arrays.copyOf(new float[] {0.25f, 0f, -2f, 1e38f}, s.dim(f.channelAxis(s)))
            : null;
    float[] plain = new float[m];
    if (w != null) r.forward(f, s, x, w, plain);
    else r.forward(f, s, x, plain);
    float[] y = new float[m];
    ActivationStats got = r.forwardWithStats(f, s, x, w, y);
    assertBits(plain, y, f + " y with statistics");
    StatsOracle.of(plain).check(got, true, f + " " + s);
    inFloat64(
        () -> {
          double[] xd = doubles(n, 162);
          double[] wd = w == null ? null : new double[w.length];
          if (wd != null) Arrays.fill(wd, -0.5);
          double[] want = new double[m];
          if (wd != null) r.forward(f, s, xd, wd, want);
          else r.forward(f, s, xd, want);
          double[] yd = new double[m];
          StatsOracle.of(want).check(r.forwardWithStats(f, s, xd, wd, yd), false, f + " f64");
          assertBits(want, yd, f + " f64 y with statistics");
        });
  }

  /**
   * Of y as written: blended, and on the backend's buffers (in place too) the same figures as on
   * arrays; parts that start at multiples of BLOCK add up to the whole call's, bit for bit.
   */
  @Test
  default void statsOfBlendsBuffersAndParts() {
    Rectifier r = engine();
    int n = 3 * ActivationStats.BLOCK + 4_321;
    float[] x = forStats(n, 171);
    Activation f = Activation.leakyRelu(0.1).blend(-2, 0.25);
    float[] old = floats(n, 172);
    float[] y = old.clone();
    ActivationStats blended = r.forwardWithStats(f, x, y);
    float[] want = old.clone();
    r.forward(f, x, want);
    assertBits(want, y, "blended y");
    StatsOracle.of(want).check(blended, true, "blended");

    Activation g = Activation.gelu();
    float[] plain = new float[n];
    ActivationStats whole = r.forwardWithStats(g, x, plain);
    try (DeviceBuffer bx = r.upload(x);
        DeviceBuffer by = r.allocate(DType.FLOAT32, n)) {
      assertEquals(whole, r.forwardWithStats(g, Shape.vector(n), bx, null, by), "buffers");
      assertBits(plain, by.toFloatArray(), "y on buffers");
      assertEquals(whole, r.forwardWithStats(g, Shape.vector(n), bx, null, bx), "in place");
      assertBits(plain, bx.toFloatArray(), "in place on buffers");
    }
    float[] parts = new float[n];
    int cut = 2 * ActivationStats.BLOCK;
    ActivationStats first = r.forwardWithStats(g, x, 0, parts, 0, cut);
    ActivationStats rest = r.forwardWithStats(g, x, cut, parts, cut, n - cut);
    assertEquals(whole, first.plus(rest), "parts added");
    assertEquals(whole, ActivationStats.NONE.plus(first).plus(rest), "from NONE");
    assertEquals(whole.toString(), first.plus(rest).toString());
  }

  /** Nothing, all NaN, and sums past float's range: the documented edge values. */
  @Test
  default void statsAtTheEdges() {
    Rectifier r = engine();
    ActivationStats none = r.forwardWithStats(Activation.relu(), new float[0], new float[0]);
    assertEquals(0, none.count());
    assertTrue(Double.isNaN(none.zeroFraction()) && Double.isNaN(none.min()), none.toString());
    assertTrue(Double.isNaN(none.max()) && none.l1() == 0, none.toString());
    assertEquals(ActivationStats.NONE, none, "no outputs are NONE");
    float[] nan = new float[300];
    Arrays.fill(nan, Float.NaN);
    ActivationStats allNaN = r.forwardWithStats(Activation.silu(), nan, new float[300]);
    assertEquals(300, allNaN.nans());
    assertTrue(Double.isNaN(allNaN.min()) && Double.isNaN(allNaN.max()), allNaN.toString());
    float[] big = new float[1000];
    Arrays.fill(big, Float.MAX_VALUE / 4);
    ActivationStats over = r.forwardWithStats(Activation.relu(), big, new float[1000]);
    assertEquals(Double.POSITIVE_INFINITY, over.l1(), "a block's float sum passed MAX_VALUE");
    assertEquals(0, over.infinities(), "though no output is infinite");
    assertThrows(
        IllegalArgumentException.class,
        () -> r.forwardWithStats(Activation.relu(), new float[3], new float[2]));
  }

  // ------------------------------------------------------------------ statistics per channel

  /**
   * Shapes and axes for per-channel statistics: runs long enough for the CPU's fused pass and too
   * short for it (1, 5), channels of several records (80,000 and 70,000 outputs) and of one output,
   * the last axis and a negative one.
   */
  static Stream<Object[]> channelStatsCases() {
    List<Object[]> cases = new ArrayList<>();
    Activation[] fs = {
      Activation.relu(), Activation.gelu().blend(0.5, 0), Activation.selu(), Activation.hardtanh()
    };
    int[][] shapes = {{2, 3, 40_000}, {70_000, 3}, {4, 7, 3, 5}, {1000}, {3, 2, 257}};
    int[] axes = {1, -1, 2, 0, 1};
    for (int i = 0; i < shapes.length; i++) {
      cases.add(new Object[] {fs[i % fs.length], shapes[i], axes[i]});
    }
    cases.add(new Object[] {Activation.prelu(), new int[] {3, 6, 258}, 1});
    cases.add(new Object[] {Activation.crelu(), new int[] {3, 6, 258}, 1});
    cases.add(new Object[] {Activation.maxout(3), new int[] {4, 3, 2, 6}, 1});
    cases.add(new Object[] {Activation.prelu(), new int[] {4, 3, 2, 6}, -1});
    return cases.stream();
  }

  /** Channel {@code c} of {@code y} (of shape {@code out}) along {@code axis}, in memory order. */
  private static double[] channel(double[] y, Shape out, int axis, int c) {
    int a = out.resolveAxis(axis);
    int channels = out.dim(a);
    int inner = (int) out.inner(a);
    int outer = (int) out.outer(a);
    double[] got = new double[outer * inner];
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) got[o * inner + i] = y[(o * channels + c) * inner + i];
    }
    return got;
  }

  private static double[] widened(float[] y) {
    double[] d = new double[y.length];
    for (int i = 0; i < y.length; i++) d[i] = y[i];
    return d;
  }

  /**
   * Per channel: y bit for bit the plain forward's, and each channel's figures those of {@link
   * StatsOracle} over that channel's outputs gathered apart, in float32 and float64; on buffers (in
   * place too) the same as on arrays.
   */
  @ParameterizedTest(name = "{0} {1} axis {2}")
  @MethodSource("dev.rectifier.FeatureConformance#channelStatsCases")
  default void channelStatsAreThoseOfEachChannelsOutputs(Activation f, int[] dims, int axis)
      throws Throwable {
    Rectifier r = engine();
    Shape s = Shape.of(dims);
    Shape out = f.outputShape(s);
    int n = (int) s.size();
    int m = (int) out.size();
    int channels = out.dim(out.resolveAxis(axis));
    float[] x = forStats(n, 181 + n);
    // a dead channel: every input of channel 1 along the axis negative, so relu-like outputs are 0
    Shape in = s;
    int a = in.resolveAxis(axis);
    if (!f.function().channelwise() && channels > 1) {
      int inner = (int) in.inner(a);
      for (int o = 0; o < in.outer(a); o++) {
        for (int i = 0; i < inner; i++) x[(o * channels + 1) * inner + i] = -1 - (i % 7);
      }
    }
    float[] w =
        f.function() == Function.PRELU
            ? Arrays.copyOf(new float[] {0.25f, 0f, -2f, 1e38f}, s.dim(f.channelAxis(s)))
            : null;
    float[] old = floats(m, 182);
    float[] plain = old.clone();
    if (w != null) r.forward(f, s, x, w, plain);
    else r.forward(f, s, x, plain);
    float[] y = old.clone();
    List<ActivationStats> got = r.forwardWithChannelStats(f, s, axis, x, w, y);
    assertBits(plain, y, f + " y with statistics per channel");
    assertEquals(channels, got.size(), "one per channel");
    double[] wide = widened(plain);
    for (int c = 0; c < channels; c++) {
      double[] yc = channel(wide, out, axis, c);
      StatsOracle.of(yc, true).check(got.get(c), true, f + " " + out + " channel " + c);
      float[] narrow = new float[yc.length];
      for (int i = 0; i < yc.length; i++) narrow[i] = (float) yc[i];
      // leaky_relu(1) is the identity, so this is the whole-array statistics of the channel's copy
      assertEquals(
          r.forwardWithStats(Activation.leakyRelu(1), narrow, narrow.clone()),
          got.get(c),
          "channel " + c + " as an array of its own");
    }
    if (f.function() == Function.RELU && channels > 1) {
      assertEquals(1.0, got.get(1).zeroFraction(), "channel 1 is dead");
    }
    try (DeviceBuffer bx = r.upload(x);
        DeviceBuffer bw = w == null ? null : r.upload(w);
        DeviceBuffer by = r.upload(old)) {
      assertEquals(got, r.forwardWithChannelStats(f, s, axis, bx, bw, by), "buffers");
      assertBits(plain, by.toFloatArray(), "y on buffers");
      if (n == m && !f.blends()) {
        assertEquals(got, r.forwardWithChannelStats(f, s, axis, bx, bw, bx), "in place");
        assertBits(plain, bx.toFloatArray(), "in place on buffers");
      }
    }
    inFloat64(
        () -> {
          double[] xd = doubles(n, 183);
          double[] wd = w == null ? null : new double[w.length];
          if (wd != null) Arrays.fill(wd, -0.5);
          double[] want = new double[m];
          if (wd != null) r.forward(f, s, xd, wd, want);
          else r.forward(f, s, xd, want);
          double[] yd = new double[m];
          List<ActivationStats> gd = r.forwardWithChannelStats(f, s, axis, xd, wd, yd);
          assertBits(want, yd, f + " f64 y with statistics per channel");
          for (int c = 0; c < channels; c++) {
            StatsOracle.of(channel(want, out, axis, c), false)
                .check(gd.get(c), false, f + " f64 channel " + c);
          }
        });
  }

  /** No channels, channels of nothing, and bad calls: nothing written, the argument named. */
  @Test
  default void channelStatsAtTheEdges() {
    Rectifier r = engine();
    assertEquals(
        List.of(),
        r.forwardWithChannelStats(
            Activation.relu(), Shape.of(2, 0, 3), 1, new float[0], null, new float[0]));
    List<ActivationStats> empty =
        r.forwardWithChannelStats(
            Activation.relu(), Shape.of(0, 3), 1, new float[0], null, new float[0]);
    assertEquals(List.of(ActivationStats.NONE, ActivationStats.NONE, ActivationStats.NONE), empty);
    float[] y = {7, 7, 7, 7, 7, 7};
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                r.forwardWithChannelStats(
                    Activation.relu(), Shape.of(2, 3), 2, new float[6], null, y));
    assertTrue(e.getMessage().contains("axis 2 is out of range for shape [2, 3]"), e.getMessage());
    assertBits(new float[] {7, 7, 7, 7, 7, 7}, y, "nothing written on a bad axis");
    assertThrows(
        IllegalArgumentException.class,
        () ->
            r.forwardWithChannelStats(
                Activation.relu(), Shape.of(2, 3), 1, new float[6], null, new float[5]));
    assertThrows(
        UnsupportedOperationException.class,
        () ->
            r.forwardWithChannelStats(
                    Activation.relu(), Shape.of(2, 3), 1, new float[6], null, new float[6])
                .clear());
  }
}
