package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.Activation.Function;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Properties of the public API over generated inputs (jqwik, which shrinks a failure to a smallest
 * case and prints its seed): every activation and shape is made or refused in one line; a call
 * gives the same bits whole, in two ranges and in place; OpenCL gives the CPU's answer (bit for bit
 * for the piecewise-linear functions, within twice the contract's 4 ULP for the others, each being
 * within 4 of exact); a range outside an array, or a buffer, is refused with one line and writes
 * nothing. Values are drawn from ordinary numbers, every float bit pattern (NaNs, subnormals,
 * infinities) and the edge values; parameters from ordinary and extreme values.
 */
class ApiPropertiesTest {
  private static Rectifier cpu;
  private static Rectifier opencl; // null where OpenCL does not run (never in CI)

  @BeforeContainer
  static void open() {
    cpu = Rectifier.create("cpu");
    boolean here = ExpectOpenCl.present("ApiPropertiesTest's OpenCL properties");
    opencl = here ? Rectifier.create("opencl") : null;
  }

  @AfterContainer
  static void close() {
    cpu.close();
    if (opencl != null) opencl.close();
  }

  private static List<Rectifier> engines() {
    return opencl == null ? List.of(cpu) : List.of(cpu, opencl);
  }

  // ------------------------------------------------------------------ generators

  @Provide
  Arbitrary<float[]> floats() {
    Arbitrary<Float> any =
        Arbitraries.frequencyOf(
            Tuple.of(6, Arbitraries.floats().between(-20, 20)),
            Tuple.of(
                3,
                Arbitraries.integers()
                    .between(Integer.MIN_VALUE, Integer.MAX_VALUE)
                    .map(Float::intBitsToFloat)),
            Tuple.of(
                1,
                Arbitraries.of(
                    0f,
                    -0f,
                    Float.NaN,
                    Float.POSITIVE_INFINITY,
                    Float.NEGATIVE_INFINITY,
                    Float.MIN_VALUE,
                    -Float.MIN_VALUE,
                    Float.MIN_NORMAL,
                    Float.MAX_VALUE,
                    -Float.MAX_VALUE,
                    6f,
                    -1f,
                    1f)));
    return any.array(float[].class).ofMaxSize(300);
  }

  @Provide
  Arbitrary<double[]> doubles() {
    Arbitrary<Double> any =
        Arbitraries.frequencyOf(
            Tuple.of(6, Arbitraries.doubles().between(-40, 40)),
            Tuple.of(3, Arbitraries.longs().map(Double::longBitsToDouble)),
            Tuple.of(
                1,
                Arbitraries.of(
                    0d,
                    -0d,
                    Double.NaN,
                    Double.POSITIVE_INFINITY,
                    Double.NEGATIVE_INFINITY,
                    Double.MIN_VALUE,
                    -Double.MIN_VALUE,
                    Double.MIN_NORMAL,
                    Double.MAX_VALUE,
                    -Double.MAX_VALUE,
                    6d,
                    -1d,
                    1d)));
    return any.array(double[].class).ofMaxSize(300);
  }

  private static Arbitrary<Double> parameter() {
    return Arbitraries.frequencyOf(
        Tuple.of(6, Arbitraries.doubles().between(-5, 5)),
        Tuple.of(
            1,
            Arbitraries.of(
                0d,
                -0d,
                1e-300,
                1e300,
                Double.MAX_VALUE,
                Double.NaN,
                Double.POSITIVE_INFINITY,
                Double.NEGATIVE_INFINITY,
                0.01,
                6d)));
  }

  /** The parameters of {@code f}, each present or left to its default. */
  private static Arbitrary<Map<String, Double>> parametersOf(Function f) {
    Arbitrary<Map<String, Double>> params = Arbitraries.just(new LinkedHashMap<>());
    for (String name : f.paramNames()) {
      params =
          Combinators.combine(params, parameter(), Arbitraries.integers().between(0, 3))
              .as(
                  (m, v, keep) -> {
                    Map<String, Double> next = new LinkedHashMap<>(m);
                    if (keep > 0) next.put(name, v);
                    return next;
                  });
    }
    return params;
  }

  private static Optional<Activation> made(Function f, Map<String, Double> params) {
    try {
      return Optional.of(Activation.of(f.id(), params, null));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** An elementwise activation with valid generated parameters (RReLU evaluation mode). */
  @Provide
  Arbitrary<Activation> elementwise() {
    return Arbitraries.of(Function.values())
        .filter(f -> !f.channelwise())
        .flatMap(f -> parametersOf(f).map(p -> made(f, p)))
        .filter(Optional::isPresent)
        .map(Optional::get);
  }

  /** As {@link #elementwise}, and RReLU in training mode with a generated seed. */
  @Provide
  Arbitrary<Activation> elementwiseOrTraining() {
    return Arbitraries.frequencyOf(
        Tuple.of(8, elementwise()),
        Tuple.of(1, Arbitraries.longs().map(s -> Activation.rrelu().training(s))));
  }

  // ------------------------------------------------------------------ made or refused

  private static void oneLine(IllegalArgumentException e) {
    String m = e.getMessage();
    assertTrue(m != null && !m.isBlank() && !m.contains("\n"), "one line: " + m);
  }

  @Property(tries = 2000)
  void everyActivationIsMadeOrRefusedInOneLine(
      @ForAll("names") String name,
      @ForAll("anyParameters") Map<String, Double> params,
      @ForAll("axes") Integer axis) {
    Activation a;
    try {
      a = Activation.of(name, params, axis);
    } catch (IllegalArgumentException e) {
      oneLine(e);
      return;
    }
    assertEquals(name, a.function().id());
    for (Map.Entry<String, Double> p : params.entrySet()) {
      assertEquals(p.getValue(), a.param(p.getKey()), p.getKey());
    }
  }

  @Provide
  Arbitrary<String> names() {
    List<String> ids = new ArrayList<>();
    for (Function f : Function.values()) ids.add(f.id());
    return Arbitraries.oneOf(
        Arbitraries.of(ids),
        Arbitraries.of("", "RELU", "relu ", "swish", "elu\n"),
        Arbitraries.strings().ofMaxLength(12));
  }

  @Provide
  Arbitrary<Map<String, Double>> anyParameters() {
    Arbitrary<String> names =
        Arbitraries.of(
            "slope",
            "alpha",
            "min_val",
            "max_val",
            "threshold",
            "value",
            "beta",
            "lower",
            "upper",
            "pieces",
            "Slope",
            "");
    return Arbitraries.maps(names, parameter()).ofMaxSize(3);
  }

  @Provide
  Arbitrary<Integer> axes() {
    return Arbitraries.oneOf(
        Arbitraries.just(null),
        Arbitraries.integers().between(-4, 4),
        Arbitraries.of(Integer.MIN_VALUE, Integer.MAX_VALUE));
  }

  @Property(tries = 2000)
  void everyShapeIsMadeOrRefusedInOneLine(@ForAll("dims") int[] dims) {
    Shape s;
    try {
      s = Shape.of(dims);
    } catch (IllegalArgumentException e) {
      oneLine(e);
      return;
    }
    long product = 1;
    for (int d : dims) product *= d;
    assertTrue(product >= 0);
    assertEquals(product, s.size());
    assertArrayEquals(dims, s.dims());
  }

  @Provide
  Arbitrary<int[]> dims() {
    return Arbitraries.oneOf(
            Arbitraries.integers().between(-2, 8),
            Arbitraries.integers(),
            Arbitraries.of(Integer.MAX_VALUE, 1 << 16, 1 << 20))
        .array(int[].class)
        .ofMaxSize(6);
  }

  // ------------------------------------------------------------------ same answers

  /** Whole, in two ranges, and in place, forward and backward: the same bits on every backend. */
  @Property(tries = 300)
  void aCallGivesTheSameBitsWholeInTwoRangesAndInPlace(
      @ForAll("elementwise") Activation f,
      @ForAll("floats") float[] x,
      @ForAll("floats") float[] g,
      @ForAll @IntRange(min = 0, max = 300) int cut) {
    int n = Math.min(x.length, g.length);
    int c = Math.min(cut, n);
    x = Arrays.copyOf(x, n);
    g = Arrays.copyOf(g, n);
    for (Rectifier r : engines()) {
      float[] whole = new float[n];
      r.forward(f, x, whole);
      float[] parts = new float[n];
      r.forward(f, x, 0, parts, 0, c);
      r.forward(f, x, c, parts, c, n - c);
      float[] inPlace = x.clone();
      r.forward(f, inPlace, inPlace);
      sameBits(whole, parts, r.backend() + " " + f + " forward in two ranges at " + c);
      sameBits(whole, inPlace, r.backend() + " " + f + " forward in place");

      float[] dx = new float[n];
      r.backward(f, x, g, dx);
      float[] dxParts = new float[n];
      r.backward(f, x, 0, g, 0, dxParts, 0, c);
      r.backward(f, x, c, g, c, dxParts, c, n - c);
      float[] dxInPlace = g.clone();
      r.backward(f, x, dxInPlace, dxInPlace);
      sameBits(dx, dxParts, r.backend() + " " + f + " backward in two ranges at " + c);
      sameBits(dx, dxInPlace, r.backend() + " " + f + " backward in place");
    }
  }

  /** OpenCL gives the CPU's answer, float32: see the class comment for the bound. */
  @Property(tries = 400)
  void openClGivesTheCpusAnswerInFloat32(
      @ForAll("elementwiseOrTraining") Activation f,
      @ForAll("floats") float[] x,
      @ForAll("floats") float[] g) {
    if (opencl == null) return;
    int n = Math.min(x.length, g.length);
    float[] want = new float[x.length];
    float[] got = new float[x.length];
    cpu.forward(f, x, want);
    opencl.forward(f, x, got);
    agree(f, x, want, got, "forward");
    float[] dwant = new float[n];
    float[] dgot = new float[n];
    cpu.backward(f, x, 0, g, 0, dwant, 0, n);
    opencl.backward(f, x, 0, g, 0, dgot, 0, n);
    agree(f, x, dwant, dgot, "backward");
  }

  /** The same in float64. */
  @Property(tries = 400)
  void openClGivesTheCpusAnswerInFloat64(
      @ForAll("elementwiseOrTraining") Activation f,
      @ForAll("doubles") double[] x,
      @ForAll("doubles") double[] g) {
    if (opencl == null) return;
    int n = Math.min(x.length, g.length);
    double[] want = new double[x.length];
    double[] got = new double[x.length];
    cpu.forward(f, x, want);
    opencl.forward(f, x, got);
    agree(f, x, want, got, "forward");
    double[] dwant = new double[n];
    double[] dgot = new double[n];
    cpu.backward(f, x, 0, g, 0, dwant, 0, n);
    opencl.backward(f, x, 0, g, 0, dgot, 0, n);
    agree(f, x, dwant, dgot, "backward");
  }

  private static long bound(Activation f) {
    return f.function().piecewiseLinear() ? 0 : 2 * BackendConformanceTest.MAX_ULP;
  }

  private static void agree(Activation f, float[] x, float[] want, float[] got, String what) {
    for (int i = 0; i < want.length; i++) {
      long d = Ulp.distance(got[i], want[i]);
      if (d > bound(f) && !BackendConformanceTest.sameBits(got[i], want[i])) {
        fail(f + " " + what + " f32 at x = " + x[i] + ": opencl " + got[i] + ", cpu " + want[i]);
      }
    }
  }

  private static void agree(Activation f, double[] x, double[] want, double[] got, String what) {
    for (int i = 0; i < want.length; i++) {
      long d = Ulp.distance(got[i], want[i]);
      if (d > bound(f) && !BackendConformanceTest.sameBits(got[i], want[i])) {
        fail(f + " " + what + " f64 at x = " + x[i] + ": opencl " + got[i] + ", cpu " + want[i]);
      }
    }
  }

  private static void sameBits(float[] want, float[] got, String what) {
    for (int i = 0; i < want.length; i++) {
      if (!BackendConformanceTest.sameBits(want[i], got[i])) {
        fail(what + ": at " + i + " " + got[i] + ", want " + want[i]);
      }
    }
  }

  // ------------------------------------------------------------------ refused, nothing written

  @Property(tries = 1000)
  void aRangeOutsideItsArrayIsRefusedInOneLineAndWritesNothing(
      @ForAll @IntRange(min = 0, max = 40) int xLength,
      @ForAll @IntRange(min = 0, max = 40) int yLength,
      @ForAll("offsets") int xOffset,
      @ForAll("offsets") int yOffset,
      @ForAll("offsets") int length) {
    boolean fits =
        xOffset >= 0
            && yOffset >= 0
            && length >= 0
            && (long) xOffset + length <= xLength
            && (long) yOffset + length <= yLength;
    float[] x = new float[xLength];
    for (int i = 0; i < xLength; i++) x[i] = i - 20.5f;
    for (Rectifier r : engines()) {
      float[] y = new float[yLength];
      Arrays.fill(y, 99f);
      try {
        r.forward(Activation.relu(), x, xOffset, y, yOffset, length);
      } catch (IllegalArgumentException e) {
        oneLine(e);
        assertFalse(fits, r.backend() + " refused a range that fits: " + e.getMessage());
        for (float v : y) assertEquals(99f, v, "written despite the error");
        continue;
      }
      assertTrue(fits, r.backend() + " took a range outside its arrays");
      for (int i = 0; i < yLength; i++) {
        boolean inside = i >= yOffset && i < yOffset + length;
        assertEquals(inside ? Math.max(x[xOffset + i - yOffset], 0f) : 99f, y[i]);
      }
    }
  }

  @Provide
  Arbitrary<Integer> offsets() {
    return Arbitraries.oneOf(
        Arbitraries.integers().between(-2, 42),
        Arbitraries.of(Integer.MIN_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE - 5));
  }

  /** A buffer copy in range round-trips; one out of range is refused in one line; nothing leaks. */
  @Property(tries = 500)
  void bufferCopiesRoundTripOrAreRefusedInOneLine(
      @ForAll @IntRange(min = 0, max = 40) int bufferLength,
      @ForAll @Size(max = 40) float[] src,
      @ForAll("offsets") int srcOffset,
      @ForAll("offsets") int dstOffset,
      @ForAll("offsets") int length) {
    boolean fits =
        srcOffset >= 0
            && dstOffset >= 0
            && length >= 0
            && (long) srcOffset + length <= src.length
            && (long) dstOffset + length <= bufferLength;
    for (Rectifier r : engines()) {
      try (DeviceBuffer b = r.allocate(DType.FLOAT32, bufferLength)) {
        try {
          b.copyFrom(src, srcOffset, dstOffset, length);
        } catch (IllegalArgumentException e) {
          oneLine(e);
          assertFalse(fits, r.backend() + " refused a copy that fits: " + e.getMessage());
          continue;
        }
        assertTrue(fits, r.backend() + " took a copy outside its arrays");
        float[] back = new float[length];
        b.copyTo(dstOffset, back, 0, length);
        assertArrayEquals(
            Arrays.copyOfRange(src, srcOffset, srcOffset + length), back, r.backend());
      }
      assertEquals(0, r.liveBuffers());
    }
  }
}
