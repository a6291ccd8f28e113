package dev.rectifier.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rectifier.Activation;
import dev.rectifier.ActivationStats;
import dev.rectifier.DType;
import dev.rectifier.Rectifier;
import dev.rectifier.Shape;
import dev.rectifier.Ulp;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The packaged tool, {@code target/rectifier.jar}, run in real processes on real {@code .npy}
 * files: its answers are the API's bit for bit (and the golden vectors'), and every bad input exits
 * 2 with one line on stderr and leaves the output untouched.
 */
class CliIT {
  /** The packaged tool: usable from other tests' processes too, without this class's setup. */
  private static final Path jar =
      Path.of(System.getProperty("rectifier.jar", "target/rectifier.jar"));

  private static Path golden;

  @TempDir Path dir;

  record Result(int code, String out, String err) {}

  @BeforeAll
  static void locate() throws URISyntaxException {
    assertTrue(Files.isRegularFile(jar), "no " + jar + ": run mvn package first");
    golden = Path.of(CliIT.class.getResource("/golden/manifest.json").toURI()).getParent();
  }

  static Result run(Map<String, String> env, Object... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-jar");
    cmd.add(jar.toString());
    for (Object a : args) cmd.add(a.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().remove("RECTIFIER_BACKEND");
    pb.environment().putAll(env);
    Path out = Files.createTempFile("cli", ".out");
    Path err = Files.createTempFile("cli", ".err");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the tool did not finish: " + cmd);
    Result r = new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    Files.delete(out);
    Files.delete(err);
    return r;
  }

  static Result run(Object... args) throws Exception {
    return run(Map.of(), args);
  }

  private static Path g(String file) {
    return golden.resolve(file);
  }

  // ------------------------------------------------------------------ answers

  static Stream<String> goldenCases() throws IOException {
    JsonObject m =
        JsonParser.parseString(
                Files.readString(
                    Path.of(System.getProperty("rectifier.golden", "src/test/resources/golden"))
                        .resolve("manifest.json")))
            .getAsJsonObject();
    List<String> names = new ArrayList<>();
    for (var e : m.getAsJsonArray("cases"))
      names.add(e.getAsJsonObject().get("case").getAsString());
    return names.stream();
  }

  /**
   * Every golden case through {@code forward} and {@code backward} in real processes: the files the
   * tool writes hold the API's results bit for bit (which the conformance suite holds to the golden
   * vectors), and the piecewise-linear ones equal the 50-digit reference bit for bit.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("goldenCases")
  void forwardAndBackwardGiveTheApisAndTheGoldenAnswers(String base) throws Exception {
    goldenThroughTheTool(base, "cpu");
  }

  /**
   * The same on the OpenCL backend: bit for bit the CPU backend's answers, but for the smooth
   * functions in float64, within twice the contract's 4 ULP of them (each is within 4 of exact).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("goldenCases")
  void openClGivesTheCpusAnswers(String base) throws Exception {
    requireOpenCl();
    goldenThroughTheTool(base, "opencl");
  }

  private void goldenThroughTheTool(String base, String backend) throws Exception {
    JsonObject m = manifestCase(base);
    String fn = m.get("function").getAsString();
    List<Object> options = new ArrayList<>();
    java.util.Map<String, Double> params = new java.util.HashMap<>();
    Integer axis = null;
    for (var e : m.getAsJsonObject("params").entrySet()) {
      if (e.getKey().equals("channel_axis")) {
        axis = e.getValue().getAsInt();
        options.addAll(List.of("--channel-axis", axis));
      } else {
        options.addAll(List.of("--param", e.getKey() + "=" + e.getValue().getAsString()));
        params.put(e.getKey(), e.getValue().getAsDouble());
      }
    }
    boolean prelu = fn.equals("prelu");
    if (prelu) options.addAll(List.of("--weight", g(base + ".w.npy")));
    options.addAll(List.of("--backend", backend));
    Path y = dir.resolve("y.npy");
    Path dx = dir.resolve("dx.npy");
    Path dw = dir.resolve("dw.npy");
    List<Object> fwd =
        new ArrayList<>(List.of("forward", fn, "--input", g(base + ".x.npy"), "--output", y));
    fwd.addAll(options);
    Result r = run(fwd.toArray());
    assertEquals(0, r.code(), r.err());
    List<Object> bwd =
        new ArrayList<>(
            List.of(
                "backward",
                fn,
                "--input",
                g(base + ".x.npy"),
                "--grad-output",
                g(base + ".g.npy"),
                "--grad-input",
                dx));
    if (prelu) bwd.addAll(List.of("--grad-weight", dw));
    bwd.addAll(options);
    r = run(bwd.toArray());
    assertEquals(0, r.code(), r.err());

    Activation f = Activation.of(fn, params, axis);
    Npy.Array x = Npy.read(g(base + ".x.npy"));
    Object gr = Npy.read(g(base + ".g.npy")).data();
    Object w = prelu ? Npy.read(g(base + ".w.npy")).data() : null;
    Shape shape = Shape.of(x.shape());
    Npy.Array gotY = Npy.read(y);
    assertArrayEquals(f.outputShape(shape).dims(), gotY.shape());
    assertEquals(x.dtype(), gotY.dtype());
    Object wantY =
        java.lang.reflect.Array.newInstance(
            x.data().getClass().getComponentType(), (int) f.outputShape(shape).size());
    Object wantDx =
        java.lang.reflect.Array.newInstance(
            x.data().getClass().getComponentType(), (int) shape.size());
    Object wantDw =
        prelu
            ? java.lang.reflect.Array.newInstance(
                x.data().getClass().getComponentType(), java.lang.reflect.Array.getLength(w))
            : null;
    try (Rectifier api = Rectifier.create("cpu")) {
      if (x.data() instanceof float[] xs) {
        if (prelu) {
          api.forward(f, shape, xs, (float[]) w, (float[]) wantY);
          api.backward(f, shape, xs, (float[]) w, (float[]) gr, (float[]) wantDx, (float[]) wantDw);
        } else {
          api.forward(f, shape, xs, (float[]) wantY);
          api.backward(f, shape, xs, (float[]) gr, (float[]) wantDx);
        }
      } else {
        double[] xs = (double[]) x.data();
        if (prelu) {
          api.forward(f, shape, xs, (double[]) w, (double[]) wantY);
          api.backward(
              f, shape, xs, (double[]) w, (double[]) gr, (double[]) wantDx, (double[]) wantDw);
        } else {
          api.forward(f, shape, xs, (double[]) wantY);
          api.backward(f, shape, xs, (double[]) gr, (double[]) wantDx);
        }
      }
    }
    // float32 is computed in double and rounded once on both: bit for bit; float64 smooth
    // results use each device's libm, within 4 ULP of exact each, so within 8 of each other.
    boolean exactMatch =
        backend.equals("cpu") || f.function().piecewiseLinear() || x.data() instanceof float[];
    long tolerance = exactMatch ? 0 : 8;
    assertClose(wantY, gotY.data(), tolerance, base + " forward on " + backend);
    assertClose(wantDx, Npy.read(dx).data(), tolerance, base + " backward on " + backend);
    if (prelu) assertEquals(bits(wantDw), bits(Npy.read(dw).data()), base + " grad_weight");

    if (f.function().piecewiseLinear() && m.has("y_exact")) {
      assertEquals(
          bits(Npy.read(g(base + ".y_exact.npy")).data()), bits(gotY.data()), base + " vs y_exact");
      assertEquals(
          bits(Npy.read(g(base + ".dx_exact.npy")).data()),
          bits(Npy.read(dx).data()),
          base + " vs dx_exact");
    }
  }

  private static JsonObject manifestCase(String name) throws IOException {
    JsonObject m =
        JsonParser.parseString(Files.readString(golden.resolve("manifest.json"))).getAsJsonObject();
    for (var e : m.getAsJsonArray("cases")) {
      if (e.getAsJsonObject().get("case").getAsString().equals(name)) return e.getAsJsonObject();
    }
    throw new IllegalArgumentException(name);
  }

  /**
   * Equal bit for bit when {@code ulps} is 0; else within {@code ulps} by {@link Ulp#distance} (NaN
   * for NaN, zeros of the same sign).
   */
  private static void assertClose(Object want, Object got, long ulps, String what) {
    if (ulps == 0) {
      assertEquals(bits(want), bits(got), what + ": differs from the API on the cpu backend");
      return;
    }
    int n = java.lang.reflect.Array.getLength(want);
    for (int i = 0; i < n; i++) {
      double w = java.lang.reflect.Array.getDouble(want, i);
      double v = java.lang.reflect.Array.getDouble(got, i);
      long d = want instanceof float[] ? Ulp.distance((float) v, (float) w) : Ulp.distance(v, w);
      assertTrue(d <= ulps, what + " at " + i + ": " + v + " vs " + w + " (" + d + " ULP)");
    }
  }

  private static String bits(Object a) {
    StringBuilder s = new StringBuilder();
    if (a instanceof float[] f)
      for (float v : f)
        s.append(Float.isNaN(v) ? "NaN" : Integer.toHexString(Float.floatToRawIntBits(v)))
            .append(',');
    else
      for (double v : (double[]) a)
        s.append(Double.isNaN(v) ? "NaN" : Long.toHexString(Double.doubleToRawLongBits(v)))
            .append(',');
    return s.toString();
  }

  @Test
  void preluCreluMaxoutAndRreluTrainingRunThroughTheTool() throws Exception {
    Path dx = dir.resolve("dx.npy");
    Path dw = dir.resolve("dw.npy");
    Result r =
        run(
            "backward",
            "prelu",
            "--weight",
            g("prelu_0_f32.w.npy"),
            "--input",
            g("prelu_0_f32.x.npy"),
            "--grad-output",
            g("prelu_0_f32.g.npy"),
            "--grad-input",
            dx,
            "--grad-weight",
            dw);
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(new int[] {6}, Npy.read(dw).shape());
    Path y = dir.resolve("y.npy");
    r =
        run(
            "forward",
            "crelu",
            "--channel-axis",
            "1",
            "--input",
            g("crelu_0_f64.x.npy"),
            "--output",
            y);
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(new int[] {2, 12, 5, 7}, Npy.read(y).shape());
    r =
        run(
            "forward",
            "maxout",
            "--param",
            "pieces=3",
            "--input",
            g("maxout_0_f32.x.npy"),
            "--output",
            y);
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(new int[] {2, 2, 5, 7}, Npy.read(y).shape());
    assertEquals(bits(Npy.read(g("maxout_0_f32.y_torch.npy")).data()), bits(Npy.read(y).data()));
    Path y2 = dir.resolve("y2.npy");
    r =
        run(
            "forward",
            "rrelu",
            "--training",
            "--seed",
            "7",
            "--input",
            g("rrelu_0_f32.x.npy"),
            "--output",
            y);
    assertEquals(0, r.code(), r.err());
    r =
        run(
            "forward",
            "rrelu",
            "--training",
            "--seed",
            "7",
            "--input",
            g("rrelu_0_f32.x.npy"),
            "--output",
            y2);
    assertEquals(bits(Npy.read(y).data()), bits(Npy.read(y2).data()), "same seed, same slopes");
  }

  @Test
  void everyCommandHasHelp() throws Exception {
    for (String c : List.of("info", "forward", "backward")) {
      Result r = run(c, "--help");
      assertEquals(0, r.code(), c + ": " + r.err());
      assertTrue(r.out().contains("Usage: rectifier " + c), r.out());
      // a stray % in a description makes picocli warn and print it unformatted
      assertTrue(!r.err().contains("picocli WARN"), c + " --help: " + r.err());
    }
    Result r = run("forward", "--help");
    assertTrue(r.out().contains("--param") && r.out().contains("--channel-axis"), r.out());
  }

  @Test
  void infoReportsEveryBackendAsTextAndJson() throws Exception {
    Result r = run("info");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("cpu") && r.out().contains("usable"), r.out());
    r = run("info", "--json");
    assertEquals(0, r.code(), r.err());
    JsonObject j = JsonParser.parseString(r.out()).getAsJsonObject();
    assertEquals("cpu", j.get("selected").getAsString());
    var cpu =
        j.getAsJsonArray("backends").get(j.getAsJsonArray("backends").size() - 1).getAsJsonObject();
    assertEquals("cpu", cpu.get("name").getAsString());
    assertTrue(cpu.get("usable").getAsBoolean());
  }

  /**
   * The CPU backend says which float32 loops it runs: the scalar ones for a plain {@code java -jar}
   * on JDK 17, with the fix named; the Vector API's when the module is added (here through {@code
   * JDK_JAVA_OPTIONS}, as a user of the jar would). Both give the golden ELU within the contract.
   */
  @Test
  void infoNamesTheFloat32LoopsAndTheVectorApiModuleTurnsThemOn() throws Exception {
    Map<String, String> vector = Map.of("JDK_JAVA_OPTIONS", "--add-modules jdk.incubator.vector");
    for (Map<String, String> env : List.of(Map.<String, String>of(), vector)) {
      Result r = run(env, "info", "--json");
      assertEquals(0, r.code(), r.err());
      var backends = JsonParser.parseString(r.out()).getAsJsonObject().getAsJsonArray("backends");
      var cpu = backends.get(backends.size() - 1).getAsJsonObject();
      String loops = cpu.getAsJsonObject("details").get("float32_loops").getAsString();
      String device = cpu.getAsJsonArray("devices").get(0).getAsString();
      if (env.isEmpty()) {
        if (Runtime.version().feature() < 25) assertEquals("scalar", loops, device);
        assertTrue(device.contains("--add-modules jdk.incubator.vector"), device);
      } else {
        assertEquals("vector_api", loops, device);
        assertTrue(device.contains("Vector API"), device);
      }
      Path y = dir.resolve("elu" + env.size() + ".npy");
      r =
          run(
              env,
              "forward",
              "elu",
              "--param",
              "alpha=1",
              "--input",
              g("elu_0_f32.x.npy"),
              "--output",
              y);
      assertEquals(0, r.code(), r.err());
      float[] got = (float[]) Npy.read(y).data();
      float[] want = (float[]) Npy.read(g("elu_0_f32.y_exact.npy")).data();
      for (int i = 0; i < want.length; i++) {
        assertTrue(
            dev.rectifier.Ulp.distance(got[i], want[i]) <= 4,
            "elu at " + i + ": " + got[i] + " want " + want[i] + " (" + loops + ")");
      }
    }
  }

  @Test
  void theEnvironmentVariableForcesABackend() throws Exception {
    Result r = run(Map.of("RECTIFIER_BACKEND", "cpu"), "info", "--json");
    assertEquals(0, r.code(), r.err());
    assertEquals(
        "cpu", JsonParser.parseString(r.out()).getAsJsonObject().get("requested").getAsString());
    Path y = dir.resolve("y.npy");
    r =
        run(
            Map.of("RECTIFIER_BACKEND", "tpu"),
            "forward",
            "relu",
            "--input",
            g("relu_0_f32.x.npy"),
            "--output",
            y);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("RECTIFIER_BACKEND") && r.err().contains("cpu"), r.err());
    assertFalse(Files.exists(y));
    r = run("info", "--backend", "tpu");
    assertEquals(2, r.code(), r.out());
    assertTrue(r.out().contains("unknown backend 'tpu'"), r.out());
  }

  /** The entry of {@code info --json} for one backend. */
  static JsonObject backend(JsonObject info, String name) {
    for (var b : info.getAsJsonArray("backends")) {
      if (b.getAsJsonObject().get("name").getAsString().equals(name)) return b.getAsJsonObject();
    }
    throw new AssertionError("info lists no backend " + name + ": " + info);
  }

  // ------------------------------------------------------------------ streaming

  /**
   * A file streamed through memory maps in chunks (here 7 elements, so every golden file takes
   * several, with a ragged last one) gives the same bytes as the file read whole.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("streamedCases")
  void aStreamedFileGivesTheBytesOfAWholeOne(String name, String backend) throws Exception {
    String function = name.substring(0, name.lastIndexOf("_0_"));
    Path x = g(name + ".x.npy");
    Path gr = g(name + ".g.npy");
    Path whole = dir.resolve("whole.npy");
    Path streamed = dir.resolve("streamed.npy");
    Result r = run("forward", function, "--backend", backend, "--input", x, "--output", whole);
    assertEquals(0, r.code(), r.err());
    r =
        run(
            "forward",
            function,
            "--backend",
            backend,
            "--input",
            x,
            "--output",
            streamed,
            "--chunk-elements",
            7);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("streamed in chunks of 7"), r.err());
    assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(streamed), name + " forward");
    r =
        run(
            "backward",
            function,
            "--backend",
            backend,
            "--input",
            x,
            "--grad-output",
            gr,
            "--grad-input",
            whole);
    assertEquals(0, r.code(), r.err());
    r =
        run(
            "backward",
            function,
            "--backend",
            backend,
            "--input",
            x,
            "--grad-output",
            gr,
            "--grad-input",
            streamed,
            "--chunk-elements",
            7);
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(streamed), name + " backward");
  }

  /**
   * {@code --blend ALPHA,BETA} adds to what the output file holds, read whole or streamed in
   * chunks, forward and backward: the file equals the API's blended call on the same arrays.
   */
  @Test
  void blendAddsToTheOutputFileWholeAndStreamed() throws Exception {
    Path x = g("gelu_0_f32.x.npy");
    Path gr = g("gelu_0_f32.g.npy");
    float[] xs = (float[]) Npy.read(x).data();
    float[] gs = (float[]) Npy.read(gr).data();
    float[] old = new float[xs.length];
    for (int i = 0; i < old.length; i++) old[i] = i * 0.25f - 3;
    Activation f = Activation.gelu().blend(2, 0.5);
    float[] wantY = old.clone();
    float[] wantDx = old.clone();
    try (Rectifier r = Rectifier.create("cpu")) {
      r.forward(f, xs, wantY);
      r.backward(f, xs, gs, wantDx);
    }
    for (String chunk : List.of("", "7")) {
      List<Object> more = chunk.isEmpty() ? List.of() : List.of("--chunk-elements", chunk);
      Path y = dir.resolve("y" + chunk + ".npy");
      Npy.write(y, new int[] {old.length}, old);
      List<Object> args =
          new ArrayList<>(
              List.of("forward", "gelu", "--blend", "2,0.5", "--input", x, "--output", y));
      args.addAll(more);
      Result r = run(args.toArray());
      assertEquals(0, r.code(), r.err());
      assertTrue(r.err().contains(".blend(2, 0.5)"), r.err());
      assertArrayEquals(wantY, (float[]) Npy.read(y).data(), "forward " + more);
      Path dx = dir.resolve("dx" + chunk + ".npy");
      Npy.write(dx, new int[] {old.length}, old);
      args =
          new ArrayList<>(
              List.of(
                  "backward",
                  "gelu",
                  "--blend",
                  "2,0.5",
                  "--input",
                  x,
                  "--grad-output",
                  gr,
                  "--grad-input",
                  dx));
      args.addAll(more);
      r = run(args.toArray());
      assertEquals(0, r.code(), r.err());
      assertArrayEquals(wantDx, (float[]) Npy.read(dx).data(), "backward " + more);
    }
    // beta 0 does not read the file: it need not exist
    Path fresh = dir.resolve("fresh.npy");
    Result r = run("forward", "gelu", "--blend", "2,0", "--input", x, "--output", fresh);
    assertEquals(0, r.code(), r.err());
    float[] scaled = (float[]) Npy.read(fresh).data();
    try (Rectifier e = Rectifier.create("cpu")) {
      float[] want = new float[xs.length];
      e.forward(Activation.gelu().blend(2, 0), xs, want);
      assertArrayEquals(want, scaled);
    }
  }

  /**
   * {@code backward --from-output} takes y where x was, whole and streamed: the file equals the
   * API's backward from the output (for relu6, the gradient from x).
   */
  @Test
  void backwardFromTheOutputFileWholeAndStreamed() throws Exception {
    Path x = g("elu_0_f32.x.npy");
    Path gr = g("elu_0_f32.g.npy");
    float[] xs = (float[]) Npy.read(x).data();
    float[] gs = (float[]) Npy.read(gr).data();
    for (String function : List.of("elu", "relu6")) {
      Activation f = Activation.of(function, Map.of(), null);
      float[] ys = new float[xs.length];
      float[] want = new float[xs.length];
      float[] fromX = new float[xs.length];
      try (Rectifier r = Rectifier.create("cpu")) {
        r.forward(f, xs, ys);
        r.backwardFromOutput(f, ys, gs, want);
        r.backward(f, xs, gs, fromX);
      }
      if (function.equals("relu6")) assertArrayEquals(fromX, want);
      Path y = dir.resolve(function + ".y.npy");
      Npy.write(y, new int[] {ys.length}, ys);
      for (List<Object> more : List.<List<Object>>of(List.of(), List.of("--chunk-elements", 5))) {
        Path dx = dir.resolve(function + more.size() + ".dx.npy");
        List<Object> args =
            new ArrayList<>(
                List.of(
                    "backward",
                    function,
                    "--from-output",
                    "--input",
                    y,
                    "--grad-output",
                    gr,
                    "--grad-input",
                    dx));
        args.addAll(more);
        Result r = run(args.toArray());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().startsWith("backward from the output " + function), r.err());
        assertArrayEquals(want, (float[]) Npy.read(dx).data(), function + " " + more);
      }
    }
  }

  /** forward --mask-out writes the API's mask; backward --from-mask gives the API's gradient. */
  @Test
  void aMaskFileCarriesTheBackward() throws Exception {
    Path x = g("relu_0_f32.x.npy");
    Path gr = g("relu_0_f32.g.npy");
    float[] xs = (float[]) Npy.read(x).data();
    float[] gs = (float[]) Npy.read(gr).data();
    for (List<String> fn :
        List.of(List.of("relu6"), List.of("leaky_relu", "--param", "slope=-0.25"))) {
      String function = fn.get(0);
      Activation f =
          fn.size() == 1
              ? Activation.of(function, Map.of(), null)
              : Activation.of(function, Map.of("slope", -0.25), null);
      float[] ys = new float[xs.length];
      int[] mask = new int[(int) Rectifier.maskWords(xs.length)];
      float[] dx = new float[xs.length];
      try (Rectifier r = Rectifier.create("cpu")) {
        r.forward(f, xs, ys, mask);
        r.backwardFromMask(f, mask, gs, dx);
      }
      Path y = dir.resolve(function + ".y.npy");
      Path m = dir.resolve(function + ".mask.npy");
      List<Object> args =
          new ArrayList<>(
              List.of("forward", function, "--input", x, "--output", y, "--mask-out", m));
      args.addAll(fn.subList(1, fn.size()));
      Result r = run(args.toArray());
      assertEquals(0, r.code(), r.err());
      assertTrue(r.err().contains(" with a mask of " + mask.length + " words"), r.err());
      assertArrayEquals(ys, (float[]) Npy.read(y).data(), function);
      Npy.Array written = Npy.read(m);
      assertEquals(DType.INT32, written.dtype());
      assertArrayEquals(new int[] {mask.length}, written.shape());
      assertArrayEquals(mask, (int[]) written.data(), function + " mask");
      Path d = dir.resolve(function + ".dx.npy");
      args =
          new ArrayList<>(
              List.of(
                  "backward",
                  function,
                  "--from-mask",
                  "--input",
                  m,
                  "--grad-output",
                  gr,
                  "--grad-input",
                  d));
      args.addAll(fn.subList(1, fn.size()));
      r = run(args.toArray());
      assertEquals(0, r.code(), r.err());
      assertTrue(r.err().startsWith("backward from a mask " + function), r.err());
      assertArrayEquals(dx, (float[]) Npy.read(d).data(), function + " from its mask");
    }
  }

  /**
   * {@code --stats} prints the API's statistics as one JSON line, read whole and streamed in chunks
   * (whose size it rounds up to whole blocks), on the CPU and on OpenCL where it is here.
   */
  @Test
  void statsArePrintedAsTheApiGivesThem() throws Exception {
    int n = 3 * 65_536 + 77;
    float[] xs = new float[n];
    java.util.Random random = new java.util.Random(5);
    for (int i = 0; i < n; i++) xs[i] = (float) random.nextGaussian();
    xs[3] = Float.NaN;
    xs[4] = Float.NEGATIVE_INFINITY;
    xs[5] = -0f;
    Path x = dir.resolve("stats.x.npy");
    Npy.writeAtomically(x, new int[] {n}, xs);
    ActivationStats want;
    try (Rectifier r = Rectifier.create("cpu")) {
      want = r.forwardWithStats(Activation.leakyRelu(0.5), xs, new float[n]);
    }
    List<List<String>> runs = new ArrayList<>();
    runs.add(List.of("--backend", "cpu"));
    runs.add(List.of("--backend", "cpu", "--chunk-elements", "1000"));
    if (openClHere()) runs.add(List.of("--backend", "opencl", "--chunk-elements", "70000"));
    for (List<String> extra : runs) {
      Path y = dir.resolve("stats.y.npy");
      List<Object> args =
          new ArrayList<>(
              List.of(
                  "forward",
                  "leaky_relu",
                  "--param",
                  "slope=0.5",
                  "--input",
                  x,
                  "--output",
                  y,
                  "--stats"));
      args.addAll(extra);
      Result r = run(args.toArray());
      assertEquals(0, r.code(), r.err());
      JsonObject j = JsonParser.parseString(r.out().strip()).getAsJsonObject();
      assertEquals(want.count(), j.get("count").getAsLong(), extra.toString());
      assertEquals(want.zeros(), j.get("zeros").getAsLong(), extra.toString());
      assertEquals(want.zeroFraction(), j.get("zero_fraction").getAsDouble(), extra.toString());
      assertEquals(want.l1(), j.get("l1").getAsDouble(), extra.toString());
      assertEquals(1, j.get("nans").getAsLong(), extra.toString());
      assertEquals(1, j.get("infinities").getAsLong(), extra.toString());
      assertEquals(Double.NEGATIVE_INFINITY, j.get("min").getAsDouble(), extra.toString());
      assertEquals(want.max(), j.get("max").getAsDouble(), extra.toString());
      if (extra.contains("--chunk-elements")) {
        int asked = Integer.parseInt(extra.get(extra.size() - 1));
        int chunk = (asked + 65_535) / 65_536 * 65_536;
        assertTrue(r.err().contains("streamed in chunks of " + chunk + " "), r.err());
      }
      float[] plain = new float[n];
      try (Rectifier e = Rectifier.create("cpu")) {
        e.forward(Activation.leakyRelu(0.5), xs, plain);
      }
      assertArrayEquals(plain, (float[]) Npy.read(y).data(), extra + " y");
    }
  }

  /**
   * {@code --channel-stats} prints the API's statistics of each channel as one JSON line, with the
   * dead channels named, on the CPU and on OpenCL where it is here; y is the plain forward's.
   */
  @Test
  void channelStatsArePrintedAsTheApiGivesThem() throws Exception {
    int[] dims = {4, 3, 50};
    int n = 4 * 3 * 50;
    float[] xs = new float[n];
    java.util.Random random = new java.util.Random(6);
    for (int i = 0; i < n; i++) {
      boolean channelTwo = (i / 50) % 3 == 2;
      xs[i] = channelTwo ? -1 - random.nextFloat() : (float) random.nextGaussian();
    }
    xs[7] = Float.NaN;
    Path x = dir.resolve("channels.x.npy");
    Npy.writeAtomically(x, dims, xs);
    List<ActivationStats> want;
    float[] plain = new float[n];
    try (Rectifier r = Rectifier.create("cpu")) {
      want = r.forwardWithChannelStats(Activation.relu(), Shape.of(dims), 1, xs, null, plain);
    }
    List<String> backends = new ArrayList<>(List.of("cpu"));
    if (openClHere()) backends.add("opencl");
    for (String backend : backends) {
      Path y = dir.resolve("channels.y.npy");
      Result r =
          run(
              "forward",
              "relu",
              "--input",
              x,
              "--output",
              y,
              "--channel-stats",
              "-2",
              "--backend",
              backend);
      assertEquals(0, r.code(), r.err());
      JsonObject j = JsonParser.parseString(r.out().strip()).getAsJsonObject();
      assertEquals(1, j.get("axis").getAsInt(), backend);
      assertEquals(3, j.get("channels").getAsInt(), backend);
      assertEquals("[2]", j.get("dead_channels").toString(), backend);
      com.google.gson.JsonArray each = j.getAsJsonArray("per_channel");
      assertEquals(3, each.size(), backend);
      for (int c = 0; c < 3; c++) {
        JsonObject o = each.get(c).getAsJsonObject();
        ActivationStats s = want.get(c);
        String what = backend + " channel " + c;
        assertEquals(s.count(), o.get("count").getAsLong(), what);
        assertEquals(s.zeros(), o.get("zeros").getAsLong(), what);
        assertEquals(s.nans(), o.get("nans").getAsLong(), what);
        assertEquals(s.l1(), o.get("l1").getAsDouble(), what);
        assertEquals(s.min(), o.get("min").getAsDouble(), what);
        assertEquals(s.max(), o.get("max").getAsDouble(), what);
      }
      assertEquals(1, each.get(0).getAsJsonObject().get("nans").getAsLong(), backend);
      assertEquals(200, each.get(2).getAsJsonObject().get("zeros").getAsLong(), backend);
      assertArrayEquals(plain, (float[]) Npy.read(y).data(), backend + " y");
    }
  }

  /**
   * float16 ('<f2') and bfloat16 ('<u2' bits with --bfloat16) files, read whole and streamed, on
   * the CPU and on OpenCL where it is here: the output file holds the API's results in the input's
   * type; a '<u2' file without --bfloat16, --bfloat16 on a float32 file and --stats on float16 are
   * refused in one line, writing nothing.
   */
  @Test
  void float16AndBfloat16FilesGiveTheApisResults() throws Exception {
    int n = 70_001;
    java.util.Random random = new java.util.Random(9);
    for (DType t : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
      short[] xs = new short[n];
      short[] gs = new short[n];
      for (int i = 0; i < n; i++) {
        xs[i] = t.encode(random.nextGaussian() * 3);
        gs[i] = t.encode(random.nextGaussian());
      }
      Path x = dir.resolve("half.x.npy");
      Path g = dir.resolve("half.g.npy");
      Npy.writeAtomically(x, new int[] {n}, t, xs);
      Npy.writeAtomically(g, new int[] {n}, t, gs);
      short[] wantY = new short[n];
      short[] wantDx = new short[n];
      try (Rectifier r = Rectifier.create("cpu")) {
        r.forward(Activation.gelu(), t, xs, wantY);
        r.backward(Activation.gelu(), t, xs, gs, wantDx);
      }
      List<String> storage = t == DType.BFLOAT16 ? List.of("--bfloat16") : List.of();
      List<List<String>> runs = new ArrayList<>();
      runs.add(List.of("--backend", "cpu"));
      runs.add(List.of("--backend", "cpu", "--chunk-elements", "1000"));
      if (openClHere()) runs.add(List.of("--backend", "opencl", "--chunk-elements", "30000"));
      for (List<String> extra : runs) {
        Path y = dir.resolve("half.y.npy");
        Path dx = dir.resolve("half.dx.npy");
        List<Object> fw = new ArrayList<>(List.of("forward", "gelu", "--input", x, "--output", y));
        fw.addAll(storage);
        fw.addAll(extra);
        Result r = run(fw.toArray());
        assertEquals(0, r.code(), r.err());
        Npy.Array got = Npy.read(y);
        assertEquals(t, got.dtype(), extra.toString());
        assertArrayEquals(wantY, (short[]) got.data(), t + " " + extra + " y");
        List<Object> bw =
            new ArrayList<>(
                List.of("backward", "gelu", "--input", x, "--grad-output", g, "--grad-input", dx));
        bw.addAll(storage);
        bw.addAll(extra);
        r = run(bw.toArray());
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(wantDx, (short[]) Npy.read(dx).data(), t + " " + extra + " dx");
        String header = new String(Files.readAllBytes(y), 0, 60, StandardCharsets.ISO_8859_1);
        assertTrue(header.contains(t == DType.FLOAT16 ? "'<f2'" : "'<u2'"), header);
      }
    }
    Path bits = dir.resolve("half.x.npy"); // bfloat16 bits, from the last round
    Path out = dir.resolve("refused.npy");
    Result r = run("forward", "relu", "--input", bits, "--output", out);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("add --bfloat16"), r.err());
    Path floats = dir.resolve("half.f32.npy");
    Npy.writeAtomically(floats, new int[] {2}, new float[] {1, -1});
    r = run("forward", "relu", "--input", floats, "--output", out, "--bfloat16");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--bfloat16: --input holds float32"), r.err());
    r = run("forward", "relu", "--input", bits, "--output", out, "--bfloat16", "--stats");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--stats is not computed on bfloat16"), r.err());
    assertFalse(Files.exists(out), "nothing written");
  }

  static Stream<Arguments> streamedCases() throws Exception {
    List<Arguments> cases = new ArrayList<>();
    for (String n : List.of("relu_0_f32", "elu_0_f64", "gelu_0_f32", "mish_0_f64", "silu_0_f32")) {
      cases.add(Arguments.of(n, "cpu"));
    }
    if (openClHere()) cases.add(Arguments.of("gelu_0_f32", "opencl"));
    return cases.stream();
  }

  @Test
  void onlyElementwiseFunctionsStreamAndAWrongGradientIsRefusedFirst() throws Exception {
    Path y = dir.resolve("y.npy");
    Result r =
        run(
            "forward",
            "crelu",
            "--input",
            g("relu_0_f32.x.npy"),
            "--output",
            y,
            "--chunk-elements",
            100);
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("--chunk-elements") && r.err().contains("whole tensor"), r.err());
    assertFalse(Files.exists(y));
    r =
        run(
            "backward",
            "relu",
            "--input",
            g("relu_0_f32.x.npy"),
            "--grad-output",
            g("relu_0_f64.g.npy"),
            "--grad-input",
            y,
            "--chunk-elements",
            100);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--grad-output is float64"), r.err());
    assertFalse(Files.exists(y));
    r =
        run(
            "forward",
            "relu",
            "--input",
            g("relu_0_f32.x.npy"),
            "--output",
            y,
            "--chunk-elements",
            0);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--chunk-elements is 0"), r.err());
    try (Stream<Path> left = Files.list(dir)) {
      assertTrue(left.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temp file");
    }
  }

  // ------------------------------------------------------------------ bench

  @Test
  void benchMeasuresEveryBackendAgainstTheCopyAndDrawsThePlot() throws Exception {
    Path png = dir.resolve("bench.png");
    Result r =
        run(
            "bench",
            "--functions",
            "relu,gelu",
            "--sizes",
            "4096,65536",
            "--time",
            "0.05",
            "--plot",
            png,
            "--json");
    assertEquals(0, r.code(), r.err());
    var rows = JsonParser.parseString(r.out()).getAsJsonArray();
    List<String> seen = new ArrayList<>();
    for (var e : rows) {
      JsonObject row = e.getAsJsonObject();
      seen.add(row.get("backend").getAsString() + "/" + row.get("memory").getAsString());
      assertTrue(row.get("gbPerSecond").getAsDouble() > 0, row.toString());
      assertTrue(row.get("ratioToCopy").getAsDouble() > 0, row.toString());
    }
    assertTrue(seen.contains("copy/host") && seen.contains("cpu/host"), seen.toString());
    assertTrue(seen.contains("cpu/device"), seen.toString());
    if (openClHere()) assertTrue(seen.contains("opencl/host"), seen.toString());
    long backends =
        seen.stream().map(k -> k.split("/")[0]).filter(k -> !k.equals("copy")).distinct().count();
    assertEquals(
        2 + backends * 2 * 2 * 2, rows.size(), "copies, then sizes x functions x memories");
    byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
    assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head);
    r = run("bench", "--sizes", "0", "--plot", "-");
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("--sizes"), r.err());
  }

  // ------------------------------------------------------------------ CUDA faults

  /**
   * A stand-in {@code libcuda.so.1}, built here with gcc: a fake driver, named as such, for the two
   * faults a real one cannot be made to show on a machine without a GPU. With {@code version} below
   * 12000 it has nothing but {@code cuDriverGetVersion}, as an old driver lacks newer symbols: a
   * call to any other would end the process ("symbol lookup error"), so the probe must stop at the
   * version. From 12000 it also has {@code cuInit} and a {@code cuDeviceGetCount} that finds none.
   */
  private Path standInDriver(int version) throws Exception {
    Path src = dir.resolve("standin_libcuda.c");
    Files.writeString(
        src,
        "/* stand-in libcuda.so.1 for Rectifier's tests: not a driver */\n"
            + "int cuDriverGetVersion(int* v) { *v = VERSION; return 0; }\n"
            + "#if VERSION >= 12000\n"
            + "int cuInit(unsigned int flags) { return 0; }\n"
            + "int cuDeviceGetCount(int* n) { *n = 0; return 0; }\n"
            + "#endif\n");
    Path lib = Files.createDirectories(dir.resolve("standin-" + version));
    Process gcc;
    try {
      gcc =
          new ProcessBuilder(
                  "gcc",
                  "-shared",
                  "-fPIC",
                  "-DVERSION=" + version,
                  "-Wl,-soname,libcuda.so.1",
                  "-o",
                  lib.resolve("libcuda.so.1").toString(),
                  src.toString())
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      if ("true".equalsIgnoreCase(System.getenv("CI"))) fail("gcc is expected in CI: " + e);
      System.out.println("SKIPPED: no gcc to build the stand-in libcuda.so.1: " + e.getMessage());
      org.junit.jupiter.api.Assumptions.abort("no gcc: " + e.getMessage());
      throw e;
    }
    String log = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, gcc.waitFor(), "gcc: " + log);
    return lib;
  }

  /** info, auto mode and a forced CUDA with the stand-in driver of {@code version}. */
  private void cudaFaultIsAReason(int version, String reason) throws Exception {
    Map<String, String> env = Map.of("LD_LIBRARY_PATH", standInDriver(version).toString());
    Result r = run(env, "info", "--json");
    assertEquals(0, r.code(), r.err());
    JsonObject info = JsonParser.parseString(r.out()).getAsJsonObject();
    JsonObject cuda = backend(info, "cuda");
    assertFalse(cuda.get("usable").getAsBoolean(), r.out());
    assertTrue(cuda.get("reason").getAsString().contains(reason), r.out());
    assertTrue(cuda.get("reason").getAsString().contains("driver"), "names the fix: " + r.out());
    assertEquals("cpu", info.get("selected").getAsString());

    Path y = dir.resolve("y-" + version + ".npy");
    r = run(env, "forward", "gelu", "--input", g("gelu_0_f32.x.npy"), "--output", y);
    assertEquals(0, r.code(), r.err());
    Path want = dir.resolve("want-" + version + ".npy");
    assertEquals(
        0,
        run(
                "forward",
                "gelu",
                "--backend",
                "cpu",
                "--input",
                g("gelu_0_f32.x.npy"),
                "--output",
                want)
            .code());
    assertArrayEquals(Files.readAllBytes(want), Files.readAllBytes(y), "the CPU's answer");

    Path forced = dir.resolve("forced-" + version + ".npy");
    r =
        run(
            env,
            "forward",
            "relu",
            "--backend",
            "cuda",
            "--input",
            g("relu_0_f32.x.npy"),
            "--output",
            forced);
    assertEquals(1, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("forced") && r.err().contains(reason), r.err());
    assertFalse(Files.exists(forced));
  }

  @Test
  void aCudaDriverOlderThan12IsAReasonNotACrash() throws Exception {
    cudaFaultIsAReason(11040, "supports CUDA 11.4, older than the 12.0");
  }

  @Test
  void aCudaDriverWithoutADeviceIsAReason() throws Exception {
    cudaFaultIsAReason(12020, "reports no CUDA device");
  }

  @Test
  void noCudaDriverIsAReason() throws Exception {
    Result r = run(Map.of("LD_LIBRARY_PATH", dir.toString()), "info", "--json");
    JsonObject cuda = backend(JsonParser.parseString(r.out()).getAsJsonObject(), "cuda");
    if (cuda.get("usable").getAsBoolean()) {
      System.out.println("SKIPPED noCudaDriverIsAReason: this machine has a working CUDA driver");
      org.junit.jupiter.api.Assumptions.abort("a CUDA driver is installed here");
    }
    assertTrue(cuda.get("reason").getAsString().contains("libcuda.so.1"), r.out());
    assertTrue(cuda.get("reason").getAsString().contains("install the NVIDIA driver"), r.out());
  }

  // ------------------------------------------------------------------ OpenCL faults

  /** Whether this machine's OpenCL backend runs; in CI it must (PoCL). */
  static boolean openClHere() throws Exception {
    Result r = run("info", "--json");
    var backends = JsonParser.parseString(r.out()).getAsJsonObject().getAsJsonArray("backends");
    for (var b : backends) {
      var o = b.getAsJsonObject();
      if (o.get("name").getAsString().equals("opencl")) return o.get("usable").getAsBoolean();
    }
    return false;
  }

  static void requireOpenCl() throws Exception {
    if (openClHere()) return;
    if ("true".equalsIgnoreCase(System.getenv("CI"))) fail("OpenCL (PoCL) is expected in CI");
    System.out.println("SKIPPED: OpenCL does not run here");
    org.junit.jupiter.api.Assumptions.abort("OpenCL does not run here");
  }

  @Test
  void noPlatformIsAReasonAndAForcedOpenClNamesTheFix() throws Exception {
    Map<String, String> noPlatform =
        Map.of("OCL_ICD_VENDORS", dir.resolve("no-vendors").toString());
    Result r = run(noPlatform, "info", "--json");
    assertEquals(0, r.code(), r.err());
    JsonObject j = JsonParser.parseString(r.out()).getAsJsonObject();
    assertEquals("cpu", j.get("selected").getAsString());
    JsonObject cl = backend(j, "opencl");
    assertEquals("opencl", cl.get("name").getAsString());
    assertFalse(cl.get("usable").getAsBoolean());
    assertTrue(cl.get("reason").getAsString().contains("CL_PLATFORM_NOT_FOUND_KHR"), r.out());
    Path y = dir.resolve("y.npy");
    r =
        run(
            noPlatform,
            "forward",
            "relu",
            "--backend",
            "opencl",
            "--input",
            g("relu_0_f32.x.npy"),
            "--output",
            y);
    assertEquals(1, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("install a driver") && r.err().contains("forced"), r.err());
    assertFalse(Files.exists(y));
  }

  /**
   * No OpenCL library at all, for real: the loader is hidden in a private mount namespace (needs
   * root and unshare, as CI has). Where that cannot be made, the test says why and is skipped.
   */
  @Test
  void noOpenClLibraryIsAReason() throws Exception {
    Path lib = Path.of("/usr/lib/x86_64-linux-gnu");
    List<String> hide = new ArrayList<>();
    try (Stream<Path> s = Files.list(lib)) {
      s.filter(p -> p.getFileName().toString().startsWith("libOpenCL.so"))
          .forEach(p -> hide.add("mount --bind /dev/null " + p));
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String script =
        String.join(" && ", hide)
            + (hide.isEmpty() ? "" : " && ")
            + java
            + " -jar "
            + jar
            + " info --json";
    Process p =
        new ProcessBuilder("unshare", "--mount", "sh", "-c", script)
            .redirectErrorStream(false)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0 && out.isEmpty()) {
      System.out.println(
          "SKIPPED noOpenClLibraryIsAReason: cannot hide the library here: " + err.strip());
      org.junit.jupiter.api.Assumptions.abort("unshare --mount is not permitted: " + err.strip());
    }
    JsonObject cl = backend(JsonParser.parseString(out).getAsJsonObject(), "opencl");
    assertFalse(cl.get("usable").getAsBoolean(), out);
    assertTrue(cl.get("reason").getAsString().contains("cannot be loaded"), out);
    assertTrue(out.strip().endsWith("}"), "stdout holds the JSON alone: " + out);
    assertTrue(
        cl.get("reason").getAsString().contains("ocl-icd-libopencl1"), "names the fix: " + out);
    assertEquals(
        "cpu", JsonParser.parseString(out).getAsJsonObject().get("selected").getAsString());
  }

  // ------------------------------------------------------------------ bad input

  private static Path copyOf(Path from, Path to) throws IOException {
    return Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  static Path write(Path dir, String name, byte[] bytes) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  static byte[] npyBytes(String descr, String shape, boolean fortran, int dataBytes) {
    String dict =
        "{'descr': '"
            + descr
            + "', 'fortran_order': "
            + (fortran ? "True" : "False")
            + ", 'shape': "
            + shape
            + ", }";
    int total = ((10 + dict.length() + 1 + 63) / 64) * 64;
    String header = dict + " ".repeat(total - 10 - dict.length() - 1) + "\n";
    ByteBuffer b =
        ByteBuffer.allocate(10 + header.length() + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    b.putShort((short) header.length());
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    return b.array();
  }

  static Stream<Arguments> badInputs() {
    return Stream.of(
        Arguments.of(
            "unknown function",
            List.of("forward", "swish", "--input", "X", "--output", "OUT"),
            "unknown function"),
        Arguments.of(
            "unknown parameter",
            List.of("forward", "elu", "--param", "beta=2", "--input", "X", "--output", "OUT"),
            "unknown parameter 'beta'"),
        Arguments.of(
            "parameter not a number",
            List.of(
                "forward", "leaky_relu", "--param", "slope=abc", "--input", "X", "--output", "OUT"),
            "not a number"),
        Arguments.of(
            "NaN parameter",
            List.of(
                "forward", "leaky_relu", "--param", "slope=nan", "--input", "X", "--output", "OUT"),
            "NaN"),
        Arguments.of(
            "celu alpha 0",
            List.of("forward", "celu", "--param", "alpha=0", "--input", "X", "--output", "OUT"),
            "alpha is 0"),
        Arguments.of(
            "hardtanh min > max",
            List.of(
                "forward",
                "hardtanh",
                "--param",
                "min_val=2",
                "--param",
                "max_val=1",
                "--input",
                "X",
                "--output",
                "OUT"),
            "min_val"),
        Arguments.of(
            "threshold without value",
            List.of(
                "forward",
                "threshold",
                "--param",
                "threshold=1",
                "--input",
                "X",
                "--output",
                "OUT"),
            "needs the parameter 'value'"),
        Arguments.of(
            "missing input",
            List.of("forward", "relu", "--input", "MISSING", "--output", "OUT"),
            "does not exist"),
        Arguments.of(
            "malformed npy",
            List.of("forward", "relu", "--input", "GARBAGE", "--output", "OUT"),
            "not a .npy file"),
        Arguments.of(
            "truncated npy",
            List.of("forward", "relu", "--input", "TRUNCATED", "--output", "OUT"),
            "truncated"),
        Arguments.of(
            "lying header",
            List.of("forward", "relu", "--input", "LIAR", "--output", "OUT"),
            "truncated"),
        Arguments.of(
            "integer npy",
            List.of("forward", "relu", "--input", "INT16", "--output", "OUT"),
            "'<i2'"),
        Arguments.of(
            "mask words as x",
            List.of("forward", "relu", "--input", "INT", "--output", "OUT"),
            "holds int32 (a 1-bit mask's words"),
        Arguments.of(
            "mask of gelu",
            List.of("forward", "gelu", "--mask-out", "MASK", "--input", "X", "--output", "OUT"),
            "--mask-out: gelu() has no 1-bit mask"),
        Arguments.of(
            "stats with a mask",
            List.of(
                "forward",
                "relu",
                "--stats",
                "--mask-out",
                "MASK",
                "--input",
                "X",
                "--output",
                "OUT"),
            "--stats and --mask-out are separate passes"),
        Arguments.of(
            "channel statistics on an axis y lacks",
            List.of("forward", "relu", "--channel-stats", "3", "--input", "X", "--output", "OUT"),
            "--channel-stats: channel axis 3 is out of range for shape"),
        Arguments.of(
            "both statistics",
            List.of(
                "forward",
                "relu",
                "--stats",
                "--channel-stats",
                "0",
                "--input",
                "X",
                "--output",
                "OUT"),
            "--stats and --channel-stats are separate passes"),
        Arguments.of(
            "channel statistics streamed",
            List.of(
                "forward",
                "relu",
                "--channel-stats",
                "0",
                "--chunk-elements",
                "10",
                "--input",
                "X",
                "--output",
                "OUT"),
            "--channel-stats reads the files whole; drop --chunk-elements"),
        Arguments.of(
            "mask with a weight",
            List.of(
                "forward",
                "relu",
                "--mask-out",
                "MASK",
                "--weight",
                "X",
                "--input",
                "X",
                "--output",
                "OUT"),
            "--weight is only for prelu"),
        Arguments.of(
            "mask with chunks",
            List.of(
                "forward",
                "relu",
                "--mask-out",
                "MASK",
                "--chunk-elements",
                "64",
                "--input",
                "X",
                "--output",
                "OUT"),
            "drop --chunk-elements"),
        Arguments.of(
            "a float file as the mask",
            List.of(
                "backward",
                "relu",
                "--from-mask",
                "--input",
                "X",
                "--grad-output",
                "X",
                "--grad-input",
                "OUT"),
            "not a mask's words"),
        Arguments.of(
            "a mask of another length",
            List.of(
                "backward",
                "relu6",
                "--from-mask",
                "--input",
                "INT",
                "--grad-output",
                "X",
                "--grad-input",
                "OUT"),
            "the mask has shape [4] but the 2085 elements of --grad-output need [66]"),
        Arguments.of(
            "from a mask and from the output",
            List.of(
                "backward",
                "relu",
                "--from-mask",
                "--from-output",
                "--input",
                "INT",
                "--grad-output",
                "X",
                "--grad-input",
                "OUT"),
            "give one"),
        Arguments.of(
            "fortran order",
            List.of("forward", "relu", "--input", "FORTRAN", "--output", "OUT"),
            "Fortran order"),
        Arguments.of(
            "shapes differ",
            List.of(
                "backward",
                "relu",
                "--input",
                "X",
                "--grad-output",
                "G_SHORT",
                "--grad-input",
                "OUT"),
            "shape"),
        Arguments.of(
            "dtypes differ",
            List.of(
                "backward", "relu", "--input", "X", "--grad-output", "G64", "--grad-input", "OUT"),
            "float64"),
        Arguments.of(
            "channel axis out of range",
            List.of("forward", "crelu", "--channel-axis", "4", "--input", "X4D", "--output", "OUT"),
            "channel axis 4"),
        Arguments.of(
            "maxout pieces do not divide",
            List.of(
                "forward", "maxout", "--param", "pieces=4", "--input", "X4D", "--output", "OUT"),
            "does not divide"),
        Arguments.of(
            "prelu without weight",
            List.of("forward", "prelu", "--input", "X4D", "--output", "OUT"),
            "--weight"),
        Arguments.of(
            "prelu weight count",
            List.of("forward", "prelu", "--weight", "X", "--input", "X4D", "--output", "OUT"),
            "needs 6"),
        Arguments.of(
            "output directory missing",
            List.of("forward", "relu", "--input", "X", "--output", "NODIR"),
            "does not exist"),
        Arguments.of(
            "output is the input",
            List.of("forward", "relu", "--input", "OUT", "--output", "OUT"),
            "also an input"),
        Arguments.of(
            "unknown option",
            List.of("forward", "relu", "--inptu", "X", "--input", "X", "--output", "OUT"),
            "Unknown option"),
        Arguments.of("missing option", List.of("forward", "relu", "--output", "OUT"), "--input"),
        Arguments.of(
            "seed without training",
            List.of("forward", "rrelu", "--seed", "3", "--input", "X", "--output", "OUT"),
            "--training"),
        Arguments.of(
            "blend of one number",
            List.of("forward", "relu", "--blend", "2", "--input", "X", "--output", "OUT"),
            "ALPHA,BETA"),
        Arguments.of(
            "blend into a file that is not npy",
            List.of("forward", "relu", "--blend", "1,1", "--input", "X", "--output", "OUT"),
            "--output"),
        Arguments.of(
            "blend into a streamed file that is not npy",
            List.of(
                "forward",
                "relu",
                "--blend",
                "1,1",
                "--chunk-elements",
                "3",
                "--input",
                "X",
                "--output",
                "OUT"),
            "--output"),
        Arguments.of(
            "blend of another shape",
            List.of(
                "backward",
                "relu",
                "--blend",
                "1,1",
                "--input",
                "X",
                "--grad-output",
                "X",
                "--grad-input",
                "X4D_COPY"),
            "shape"),
        Arguments.of(
            "backward from the output of gelu",
            List.of(
                "backward",
                "gelu",
                "--from-output",
                "--input",
                "X",
                "--grad-output",
                "X",
                "--grad-input",
                "OUT"),
            "--from-output: gelu() cannot"),
        Arguments.of(
            "unknown backend",
            List.of("forward", "relu", "--backend", "tpu", "--input", "X", "--output", "OUT"),
            "unknown backend 'tpu'"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badInputs")
  void badInputExitsTwoWithOneLineAndLeavesTheOutputUntouched(
      String what, List<String> args, String expected) throws Exception {
    Path out = dir.resolve("out.npy");
    byte[] sentinel = "untouched".getBytes(StandardCharsets.US_ASCII);
    Files.write(out, sentinel);
    Map<String, Path> files =
        Map.ofEntries(
            Map.entry("X", g("relu_0_f32.x.npy")),
            Map.entry("X4D", g("prelu_0_f32.x.npy")),
            Map.entry("G_SHORT", g("prelu_0_f32.g.npy")),
            Map.entry("G64", g("relu_0_f64.g.npy")),
            Map.entry("MISSING", dir.resolve("missing.npy")),
            Map.entry(
                "GARBAGE",
                write(dir, "garbage.npy", "hello, not numpy".getBytes(StandardCharsets.US_ASCII))),
            Map.entry(
                "TRUNCATED",
                write(
                    dir,
                    "trunc.npy",
                    Arrays.copyOf(Files.readAllBytes(g("relu_0_f32.x.npy")), 500))),
            Map.entry(
                "LIAR", write(dir, "liar.npy", npyBytes("<f4", "(1099511627776,)", false, 16))),
            Map.entry("INT", write(dir, "int.npy", npyBytes("<i4", "(4,)", false, 16))),
            Map.entry("INT16", write(dir, "int16.npy", npyBytes("<i2", "(4,)", false, 8))),
            Map.entry("MASK", dir.resolve("mask.npy")),
            Map.entry("FORTRAN", write(dir, "fortran.npy", npyBytes("<f4", "(2, 2)", true, 16))),
            Map.entry("NODIR", dir.resolve("no/such/dir/y.npy")),
            Map.entry("OUT", out),
            Map.entry("X4D_COPY", copyOf(g("prelu_0_f32.x.npy"), dir.resolve("x4d.npy"))));
    List<Object> resolved = new ArrayList<>();
    for (String a : args) resolved.add(files.containsKey(a) ? files.get(a) : a);
    Result r = run(resolved.toArray());
    assertEquals(2, r.code(), what + ": " + r.err());
    String err = r.err().strip();
    assertFalse(err.isEmpty(), what + ": says nothing");
    assertEquals(1, err.lines().count(), what + ": more than one line:\n" + err);
    assertTrue(err.contains(expected), what + ": '" + err + "' lacks '" + expected + "'");
    assertFalse(
        err.matches(".*(Exception|\\bat [a-z]+\\.).*"),
        what + ": a stack trace or class name: " + err);
    assertArrayEquals(sentinel, Files.readAllBytes(out), what + ": the output was written");
    try (Stream<Path> left = Files.list(dir)) {
      left.filter(p -> p.getFileName().toString().endsWith(".tmp"))
          .findAny()
          .ifPresent(p -> fail(what + ": left a temporary file " + p));
    }
  }
}
