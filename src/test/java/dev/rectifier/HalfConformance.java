package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.Activation.Function;
import dev.rectifier.cli.Npy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The conformance suite's part for float16 and bfloat16 storage ({@link
 * Rectifier#forward(Activation, DType, short[], short[])}): every one of the 65,536 inputs of each
 * type, for every elementwise function, forward and backward, must be the backend's float64 result
 * rounded once to the type, and no float64 result may lie within 16 of its ULPs of a midpoint
 * between two values of the type (where its few ULPs of error could pick the wrong side): together,
 * the results are the correctly rounded ones, on every backend alike. The golden vectors' 50-digit
 * values, rounded to the type, check the same at the inputs the type holds exactly. Every backend's
 * suite runs it ({@link BackendConformanceTest} implements this).
 */
interface HalfConformance {
  /** The engine of the backend under test. */
  Rectifier engine();

  /** Runs {@code body}, or checks that the backend refuses {@code t}, as it should without fp64. */
  void inHalf(DType t, Executable body) throws Throwable;

  /**
   * Worst error seen, in ULPs of the type, per backend, type and direction (printed at the end).
   */
  Map<String, Double> WORST_HALF = new ConcurrentSkipListMap<>();

  /** The name the worst-ULP report gives this suite's results. */
  String label();

  static Stream<Object[]> elementwiseByType() {
    List<Object[]> cases = new ArrayList<>();
    for (DType t : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
      for (Activation f : BackendConformanceTest.elementwise()) cases.add(new Object[] {f, t});
    }
    return cases.stream();
  }

  /** Every bit pattern, in order. */
  static short[] everyPattern() {
    short[] x = new short[1 << 16];
    for (int i = 0; i < x.length; i++) x[i] = (short) i;
    return x;
  }

  /** Random patterns: mostly numbers of moderate size, now and then NaN, infinity, zero. */
  static short[] patterns(DType t, int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    short[] a = new short[n];
    for (int i = 0; i < n; i++) {
      int k = r.nextInt(40);
      a[i] =
          k == 0
              ? t.encode(Double.NaN)
              : k == 1
                  ? t.encode(Double.NEGATIVE_INFINITY)
                  : k == 2 ? t.encode(-0.0) : t.encode(r.nextGaussian() * 4);
    }
    return a;
  }

  static double[] widen(DType t, short[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) d[i] = t.decode(a[i]);
    return d;
  }

  /**
   * Checks that {@code got} is {@code wide} rounded once, and that no element of {@code wide} is
   * near a midpoint but on one (allowed for the piecewise-linear functions, whose float64 results
   * are exact products); records the worst error in ULPs of the type.
   */
  static void assertRounded(
      String label, DType t, Activation f, String what, double[] x, double[] wide, short[] got) {
    double worst = 0;
    int near = 0;
    String nearAt = "";
    for (int i = 0; i < wide.length; i++) {
      double w = wide[i];
      double a = Math.abs(w);
      short want = t.encode(w);
      boolean finite = !Double.isNaN(a) && !Double.isInfinite(a) && a != 0;
      short p = finite ? t.encode(a) : 0;
      double v = t.decode(p);
      double lo = v <= a ? v : t.decode((short) (p - 1));
      double hi = v <= a ? t.decode((short) (p + 1)) : v;
      finite &= !Double.isInfinite(hi) && !Double.isInfinite(lo); // past the largest finite: none
      double ulps = finite ? Math.abs(a - (lo + hi) / 2) / Math.ulp(a) : Double.NaN;
      int side = what.equals("forward") ? curvatureAtZero(f) : 0;
      if (ulps == 0 && side != 0 && x[i] != 0 && Math.abs(x[i]) < 0x1p-64) {
        // f(x) = c x + d x^2 with d x^2 lost in float64: the exact value is past the midpoint on
        // the side of d, the sign of f''(0)
        want = t.encode(side > 0 ? Math.nextUp(w) : Math.nextDown(w));
      } else if (ulps <= 16 && (ulps > 0 || !f.function().piecewiseLinear())) {
        near++;
        nearAt = "x index " + i + ", float64 " + w;
      }
      float g = t.decode(got[i]);
      if (Double.isNaN(w) ? !Float.isNaN(g) : want != got[i]) {
        fail(
            f
                + " "
                + t
                + " "
                + what
                + " at "
                + i
                + ": got "
                + g
                + " want "
                + t.decode(want)
                + " (float64 "
                + w
                + ")");
      }
      if (finite) worst = Math.max(worst, Math.abs(Math.abs(g) - a) / (hi - lo));
    }
    assertEquals(0, near, f + " " + t + " " + what + ": results near a midpoint, e.g. " + nearAt);
    WORST_HALF.merge(label + " " + t.shortName() + " " + what, worst, Math::max);
  }

  /**
   * The sign of f''(0) for the smooth functions through 0 (from their Taylor series: gelu x/2 +
   * x^2/sqrt(2 pi), silu x/2 + x^2/4, elu and selu alpha (x + x^2/2) below 0, celu x + x^2/(2
   * alpha)); 0 where f is not smooth at 0 or f(0) is not 0.
   */
  private static int curvatureAtZero(Activation f) {
    switch (f.function()) {
      case GELU, GELU_TANH, SILU, MISH, SELU:
        return 1;
      case ELU, CELU:
        return (int) Math.signum(f.param("alpha"));
      default:
        return 0;
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("dev.rectifier.HalfConformance#elementwiseByType")
  default void everyInputIsCorrectlyRounded(Activation f, DType t) throws Throwable {
    Rectifier r = engine();
    inHalf(
        t,
        () -> {
          short[] x = everyPattern();
          double[] xd = widen(t, x);
          short[] y = new short[x.length];
          double[] yd = new double[x.length];
          r.forward(f, t, x, y);
          r.forward(f, xd, yd);
          assertRounded(label(), t, f, "forward", xd, yd, y);
          short[] g = patterns(t, x.length, 5);
          short[] dx = new short[x.length];
          double[] dxd = new double[x.length];
          r.backward(f, t, x, g, dx);
          r.backward(f, xd, widen(t, g), dxd);
          assertRounded(label(), t, f, "backward", xd, dxd, dx);
        });
  }

  /**
   * The 50-digit golden values rounded to the type, where the golden input is one of its values.
   */
  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT16", "BFLOAT16"})
  default void goldenVectorsRoundedToTheType(DType t) throws Throwable {
    Rectifier r = engine();
    inHalf(
        t,
        () -> {
          int checked = 0;
          for (BackendConformanceTest.GoldenCase c : BackendConformanceTest.goldenCases()) {
            Activation f = c.activation();
            if (c.f32() || !f.splittable()) continue;
            if (Stream.of("x", "grad_output", "y_exact", "grad_input_exact")
                .anyMatch(k -> c.file(k) == null)) {
              continue; // the extra cases around f''s roots have no gradient
            }
            double[] x = (double[]) Npy.read(BackendConformanceTest.resource(c.file("x"))).data();
            double[] g =
                (double[]) Npy.read(BackendConformanceTest.resource(c.file("grad_output"))).data();
            double[] y =
                (double[]) Npy.read(BackendConformanceTest.resource(c.file("y_exact"))).data();
            double[] dx =
                (double[])
                    Npy.read(BackendConformanceTest.resource(c.file("grad_input_exact"))).data();
            List<Integer> at = new ArrayList<>();
            for (int i = 0; i < x.length; i++) {
              if (held(t, x[i])) at.add(i);
            }
            short[] xs = new short[at.size()];
            short[] gs = new short[at.size()];
            for (int k = 0; k < xs.length; k++) {
              xs[k] = t.encode(x[at.get(k)]);
              gs[k] = t.encode(g[at.get(k)]);
            }
            short[] ys = new short[xs.length];
            short[] dxs = new short[xs.length];
            r.forward(f, t, xs, ys);
            r.backward(f, t, xs, gs, dxs);
            for (int k = 0; k < xs.length; k++) {
              int i = at.get(k);
              assertSame(t, y[i], ys[k], c.name() + " y at x = " + x[i]);
              if (held(t, g[i])) { // else the call's gradient is not the golden one
                assertSame(
                    t, dx[i], dxs[k], c.name() + " grad_input at x = " + x[i] + ", g = " + g[i]);
              }
            }
            checked += xs.length;
          }
          assertTrue(checked > 100, "only " + checked + " golden inputs are " + t + " values");
        });
  }

  private static boolean held(DType t, double v) {
    return Double.isNaN(v) || t.decode(t.encode(v)) == v;
  }

  private static void assertSame(DType t, double exact, short got, String what) {
    short want = t.encode(exact);
    boolean ok = Double.isNaN(exact) ? Float.isNaN(t.decode(got)) : want == got;
    if (!ok) fail(t + " " + what + ": got " + t.decode(got) + " want " + t.decode(want));
  }

  /**
   * PReLU, CReLU, Maxout: the float64 path's results (and PReLU's grad_weight) rounded once, on
   * {@code short[]} and on 16-bit buffers.
   */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("dev.rectifier.FeatureConformance#channelCases")
  default void channelFunctionsRoundTheFloat64Results(Activation f, int[] dims) throws Throwable {
    Rectifier r = engine();
    for (DType t : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
      inHalf(
          t,
          () -> {
            Shape s = Shape.of(dims);
            int n = (int) s.size();
            int m = (int) f.outputShape(s).size();
            int channels = s.dim(f.channelAxis(s));
            boolean prelu = f.function() == Function.PRELU;
            short[] x = patterns(t, n, 91);
            short[] g = patterns(t, m, 92);
            short[] w = Arrays.copyOf(patterns(t, 8, 93), channels);
            short[] y = new short[m];
            short[] dx = new short[n];
            short[] gw = new short[channels];
            double[] yd = new double[m];
            double[] dxd = new double[n];
            double[] gwd = new double[channels];
            if (prelu) {
              r.forward(f, t, s, x, w, y);
              r.backward(f, t, s, x, w, g, dx, gw);
              r.forward(f, s, widen(t, x), widen(t, w), yd);
              r.backward(f, s, widen(t, x), widen(t, w), widen(t, g), dxd, gwd);
              for (int c = 0; c < channels; c++) {
                assertSame(t, gwd[c], gw[c], f + " grad_weight[" + c + "]");
              }
            } else {
              r.forward(f, t, s, x, y);
              r.backward(f, t, s, x, g, dx);
              r.forward(f, s, widen(t, x), yd);
              r.backward(f, s, widen(t, x), widen(t, g), dxd);
            }
            for (int i = 0; i < m; i++) assertSame(t, yd[i], y[i], f + " y[" + i + "]");
            for (int i = 0; i < n; i++) assertSame(t, dxd[i], dx[i], f + " grad_input[" + i + "]");
            // and on 16-bit buffers, whole, the same bits
            try (DeviceBuffer bx = r.upload(t, x);
                DeviceBuffer bg = r.upload(t, g);
                DeviceBuffer bw = r.upload(t, w);
                DeviceBuffer by = r.allocate(t, m);
                DeviceBuffer bdx = r.allocate(t, n);
                DeviceBuffer bgw = r.allocate(t, channels)) {
              r.forward(f, s, bx, prelu ? bw : null, by);
              r.backward(f, s, bx, prelu ? bw : null, bg, bdx, prelu ? bgw : null);
              assertBits(t, y, by.toShortArray(), f + " forward on buffers");
              assertBits(t, dx, bdx.toShortArray(), f + " backward on buffers");
              if (prelu) assertBits(t, gw, bgw.toShortArray(), f + " grad_weight on buffers");
            }
          });
    }
  }

  /**
   * Blending in float64 before the one rounding; offsets; calls longer than the widening chunk (so
   * split in parts); in place.
   */
  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT16", "BFLOAT16"})
  default void blendsOffsetsSplitCallsAndInPlace(DType t) throws Throwable {
    Rectifier r = engine();
    inHalf(
        t,
        () -> {
          int n = (1 << 21) + 5; // two widening chunks and a part
          for (Activation f : List.of(Activation.gelu(), Activation.leakyRelu(0.2))) {
            for (double[] ab : FeatureConformance.BLENDS) {
              Activation fb = f.blend(ab[0], ab[1]);
              short[] x = patterns(t, n + 3, 101);
              short[] g = patterns(t, n + 2, 102);
              short[] old = patterns(t, n + 7, 103);
              if (ab[1] == 0) Arrays.fill(old, t.encode(Double.NaN)); // must not be read
              short[] y = old.clone();
              r.forward(fb, t, x, 3, y, 7, n);
              double[] xd = widen(t, Arrays.copyOfRange(x, 3, n + 3));
              double[] yd = widen(t, Arrays.copyOfRange(old, 7, n + 7));
              r.forward(fb, xd, 0, yd, 0, n);
              for (int i = 0; i < 7; i++) assertEquals(old[i], y[i], "outside the range");
              for (int i = 0; i < n; i++) assertSame(t, yd[i], y[i + 7], fb + " y[" + i + "]");
              short[] dx = old.clone();
              r.backward(fb, t, x, 3, g, 2, dx, 7, n);
              double[] dxd = widen(t, Arrays.copyOfRange(old, 7, n + 7));
              r.backward(fb, xd, 0, widen(t, Arrays.copyOfRange(g, 2, n + 2)), 0, dxd, 0, n);
              for (int i = 0; i < n; i++) assertSame(t, dxd[i], dx[i + 7], fb + " dx[" + i + "]");
            }
          }
          short[] x = patterns(t, 5000, 104);
          short[] y = new short[x.length];
          r.forward(Activation.silu(), t, x, y);
          short[] inPlace = x.clone();
          r.forward(Activation.silu(), t, inPlace, inPlace);
          assertTrue(Arrays.equals(y, inPlace), "in place");
        });
  }

  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT16", "BFLOAT16"})
  default void badCallsAreRefusedBeforeAnythingIsWritten(DType t) throws Throwable {
    Rectifier r = engine();
    short[] x = patterns(t, 100, 111);
    short[] y = new short[100];
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> r.forward(Activation.relu(), DType.FLOAT32, x, y));
    assertTrue(e.getMessage().startsWith("storage is FLOAT32"), e.getMessage());
    try (DeviceBuffer b = r.allocate(t, 100);
        DeviceBuffer other = r.allocate(t == DType.FLOAT16 ? DType.BFLOAT16 : DType.FLOAT16, 100);
        DeviceBuffer mask = r.allocate(DType.INT32, Rectifier.maskWords(100));
        DeviceBuffer floats = r.allocate(DType.FLOAT32, 100)) {
      e = assertThrows(IllegalArgumentException.class, () -> b.copyFrom(new float[100]));
      assertTrue(e.getMessage().contains("buffer holds " + t), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> floats.copyFrom(x));
      assertTrue(e.getMessage().contains("short[] arrays are the bit patterns"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> r.forward(Activation.relu(), Shape.vector(100), b, other));
      assertTrue(e.getMessage().startsWith("y is "), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> r.forwardWithStats(Activation.relu(), Shape.vector(100), b, null, b));
      assertTrue(
          e.getMessage().startsWith("statistics: not there yet for " + t.shortName()),
          e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class, () -> r.forward(Activation.relu(), b, b, mask));
      assertTrue(e.getMessage().startsWith("1-bit masks: not there yet"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> r.backwardFromOutput(Activation.relu(), b, b, b));
      assertTrue(e.getMessage().startsWith("backward from the output: not"), e.getMessage());
    }
    IllegalArgumentException o =
        assertThrows(
            IllegalArgumentException.class, () -> r.forward(Activation.relu(), t, x, 0, x, 1, 99));
    assertTrue(o.getMessage().contains("overlaps"), o.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> r.forward(Activation.relu(), t, x, 0, y, 50, 60));
    assertThrows(
        IllegalArgumentException.class,
        () -> r.forward(Activation.crelu(), t, Shape.of(2, 50), x, x));
    inHalf(
        t,
        () -> {
          // called directly: where the type is refused, that refusal must come out of here
          boolean refused = false;
          try {
            r.forward(Activation.relu(), t, Shape.of(2, 50), x, new short[2], y);
          } catch (IllegalArgumentException expected) {
            refused = true;
          }
          assertTrue(refused, "a weight for relu");
          assertTrue(Arrays.equals(new short[100], y), "nothing written");
        });
  }

  /** Bit for bit, a NaN for a NaN (their signs and payloads are the platform's). */
  private static void assertBits(DType t, short[] want, short[] got, String what) {
    assertEquals(want.length, got.length, what + ": length");
    for (int i = 0; i < want.length; i++) {
      boolean ok =
          Float.isNaN(t.decode(want[i])) ? Float.isNaN(t.decode(got[i])) : want[i] == got[i];
      if (!ok) {
        fail(what + " at " + i + ": got " + t.decode(got[i]) + " want " + t.decode(want[i]));
      }
    }
  }

  /**
   * 16-bit buffers give the short[] calls' results bit for bit: every input of the type through
   * every elementwise function, forward and backward, widened, computed and rounded back on the
   * backend (the device's own conversion kernels, and their tie rule).
   */
  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT16", "BFLOAT16"})
  default void buffersGiveTheArraysResultsForEveryInput(DType t) throws Throwable {
    Rectifier r = engine();
    inHalf(
        t,
        () -> {
          short[] x = everyPattern();
          short[] g = patterns(t, x.length, 7);
          Shape s = Shape.vector(x.length);
          try (DeviceBuffer bx = r.upload(t, x);
              DeviceBuffer bg = r.upload(t, g);
              DeviceBuffer by = r.allocate(t, x.length);
              DeviceBuffer bdx = r.allocate(t, x.length)) {
            assertTrue(Arrays.equals(x, bx.toShortArray()), "the bits go in and out unchanged");
            for (Activation f : BackendConformanceTest.elementwise()) {
              short[] y = new short[x.length];
              short[] dx = new short[x.length];
              r.forward(f, t, x, y);
              r.backward(f, t, x, g, dx);
              r.forward(f, s, bx, by);
              r.backward(f, s, bx, bg, bdx);
              assertBits(t, y, by.toShortArray(), f + " " + t + " forward on buffers");
              assertBits(t, dx, bdx.toShortArray(), f + " " + t + " backward on buffers");
            }
          }
        });
  }

  /**
   * 16-bit buffers as the short[] calls: blending (beta 0 never reads the NaNs in y), calls longer
   * than the widening part, in place, and the channel functions (PReLU's weights and their gradient
   * too), whole.
   */
  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"FLOAT16", "BFLOAT16"})
  default void buffersBlendSplitAndRunInPlace(DType t) throws Throwable {
    Rectifier r = engine();
    inHalf(
        t,
        () -> {
          int n = (1 << 21) + 5; // two widening parts and a piece
          Shape s = Shape.vector(n);
          short[] x = patterns(t, n, 121);
          short[] g = patterns(t, n, 122);
          for (Activation f : List.of(Activation.gelu(), Activation.leakyRelu(0.2))) {
            for (double[] ab : FeatureConformance.BLENDS) {
              Activation fb = f.blend(ab[0], ab[1]);
              short[] old = patterns(t, n, 123);
              if (ab[1] == 0) Arrays.fill(old, t.encode(Double.NaN)); // must not be read
              short[] y = old.clone();
              short[] dx = old.clone();
              r.forward(fb, t, x, y);
              r.backward(fb, t, x, g, dx);
              try (DeviceBuffer bx = r.upload(t, x);
                  DeviceBuffer bg = r.upload(t, g);
                  DeviceBuffer by = r.upload(t, old);
                  DeviceBuffer bdx = r.upload(t, old)) {
                r.forward(fb, s, bx, by);
                r.backward(fb, s, bx, bg, bdx);
                assertBits(t, y, by.toShortArray(), fb + " forward on buffers");
                assertBits(t, dx, bdx.toShortArray(), fb + " backward on buffers");
              }
            }
          }
          short[] y = new short[n];
          r.forward(Activation.silu(), t, x, y);
          try (DeviceBuffer b = r.upload(t, x)) {
            r.forward(Activation.silu(), s, b, b);
            assertBits(t, y, b.toShortArray(), "silu in place on a buffer");
          }
        });
  }
}
