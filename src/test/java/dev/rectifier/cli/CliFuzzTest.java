package dev.rectifier.cli;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.rectifier.Rectifier;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing (Jazzer) of the command line, run in this process through {@link
 * Main#run(Main.Engines, PrintWriter, PrintWriter, String...)} on the real backends and real files:
 * every command line ends with exit 0, 1 (a backend failure) or 2 (bad usage or input), never 70
 * (an error inside the tool) or a crash; a failure says so in at most one line on stderr; no input
 * file changes; and a failed run leaves the folder as it was (no partial output, no temporary file,
 * an existing output untouched). The arguments are drawn from the tool's own words (commands,
 * functions, options, parameter names and values, the paths of good, bad, missing and existing
 * files) and from free text. {@code bench} is left out: a good bench line measures for seconds, and
 * its options are checked by {@code CliIT}. {@code mvn test} replays the corpus under {@code
 * src/test/resources/dev/rectifier/cli/CliFuzzTestInputs}; {@code JAZZER_FUZZ=1 mvn test
 * -Dtest=CliFuzzTest} fuzzes, as CI does for a bounded time.
 */
class CliFuzzTest {
  private static Path dir;

  /** The files every run starts from, by name, with their bytes. */
  private static final Map<String, byte[]> START = new TreeMap<>();

  /** Placeholders in {@link #WORDS}, by the path each stands for. */
  private static final Map<String, String> PATHS = new LinkedHashMap<>();

  private static final String[] COMMANDS = {
    "info", "forward", "backward", "--help", "-h", "--version", "-V", "", "forwards"
  };

  private static final String[] FUNCTIONS = {
    "relu", "leaky_relu", "prelu", "rrelu", "elu", "selu", "celu", "relu6", "hardtanh", "threshold",
    "crelu", "maxout", "gelu", "gelu_tanh", "silu", "mish", "softplus", "RELU", "relu7", "--input"
  };

  private static final String[] FILES = {
    "{X32}",
    "{X64}",
    "{W32}",
    "{W64}",
    "{G32}",
    "{G64}",
    "{INT}",
    "{GARBAGE}",
    "{EMPTY}",
    "{EXISTING}",
    "{MISSING}",
    "{DIR}",
    "{OUT}",
    "{OUT2}",
    "{NODIR}",
    "-"
  };

  /** Each option with the values the fuzzer draws for it (and free text). */
  private static final Map<String, String[]> OPTIONS = new LinkedHashMap<>();

  static {
    OPTIONS.put("--input", FILES);
    OPTIONS.put("--output", FILES);
    OPTIONS.put("--weight", FILES);
    OPTIONS.put("--grad-output", FILES);
    OPTIONS.put("--grad-input", FILES);
    OPTIONS.put("--grad-weight", FILES);
    OPTIONS.put(
        "--param",
        new String[] {
          "slope=0.1",
          "slope=-2",
          "alpha=0.5",
          "alpha=nan",
          "alpha=-inf",
          "min_val=2",
          "max_val=1",
          "max_val=6",
          "threshold=0.5",
          "threshold=inf",
          "value=1e308",
          "beta=0",
          "beta=2",
          "lower=0.3",
          "upper=0.1",
          "upper=0.5",
          "pieces=2",
          "pieces=0",
          "pieces=3",
          "slope",
          "=",
          "slope=0x1p-3",
          "slope=1e-400",
          "pieces=2.5",
          "pieces=1e10",
          "alpha=--1",
          "Slope=1"
        });
    OPTIONS.put(
        "--channel-axis", new String[] {"0", "1", "-1", "2", "3", "-4", "-2147483648", "x", ""});
    OPTIONS.put("--seed", new String[] {"42", "-1", "9223372036854775807", "1.5", ""});
    OPTIONS.put(
        "--chunk-elements", new String[] {"1", "3", "0", "-5", "2147483647", "2147483648", "a"});
    OPTIONS.put("--backend", new String[] {"cpu", "opencl", "cuda", "auto", "none", "CPU", ""});
    OPTIONS.put(
        "--blend",
        new String[] {
          "1,1", "2,0", "0.5,-1", "0,1", "1", "nan,0", "1,inf", "a,b", ",", "1,1,1", ""
        });
    OPTIONS.put("--from-output", new String[] {});
    OPTIONS.put("--from-mask", new String[] {});
    // outputs only: a mask written over an input file would be a change the checks below refuse
    OPTIONS.put(
        "--mask-out", new String[] {"{OUT}", "{OUT2}", "{EXISTING}", "{DIR}", "{NODIR}", ""});
    OPTIONS.put("--stats", new String[] {});
    OPTIONS.put("--training", new String[] {});
    OPTIONS.put("--json", new String[] {});
    OPTIONS.put("--help", new String[] {});
    OPTIONS.put("--", FILES);
  }

  @BeforeAll
  static void makeFiles() throws IOException {
    dir = Files.createTempDirectory("cli-fuzz");
    int[] shape = {2, 4, 3}; // channel axis 1: 4 channels, 2 maxout pieces of 2
    float[] x32 = new float[24];
    double[] x64 = new double[24];
    for (int i = 0; i < 24; i++) {
      x64[i] = (i - 12) * 0.37;
      x32[i] = (float) x64[i];
    }
    x32[3] = Float.NaN;
    x64[5] = Double.NEGATIVE_INFINITY;
    Npy.writeAtomically(dir.resolve("x32.npy"), shape, x32);
    Npy.writeAtomically(dir.resolve("x64.npy"), shape, x64);
    Npy.writeAtomically(dir.resolve("g32.npy"), shape, x32.clone());
    Npy.writeAtomically(dir.resolve("g64.npy"), shape, x64.clone());
    Npy.writeAtomically(dir.resolve("w32.npy"), new int[] {4}, new float[] {0.1f, 0.2f, 0.3f, 4f});
    Npy.writeAtomically(dir.resolve("w64.npy"), new int[] {1}, new double[] {0.25});
    Npy.writeAtomically(dir.resolve("empty.npy"), new int[] {0}, new float[0]);
    Npy.writeAtomically(dir.resolve("existing.npy"), new int[] {2}, new float[] {7, 8});
    Path integers = dir.resolve("int.npy"); // a well-formed int32 file, which the tool refuses
    Npy.writeAtomically(integers, new int[] {1}, new float[] {1});
    Files.write(
        integers,
        Files.readString(integers, ISO_8859_1).replace("<f4", "<i4").getBytes(ISO_8859_1));
    Files.write(dir.resolve("garbage.npy"), "not a numpy file".getBytes());
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        START.put(p.getFileName().toString(), Files.readAllBytes(p));
      }
    }
    for (String f : new String[] {"x32", "x64", "w32", "w64", "g32", "g64", "int"}) {
      PATHS.put("{" + f.toUpperCase() + "}", dir.resolve(f + ".npy").toString());
    }
    PATHS.put("{GARBAGE}", dir.resolve("garbage.npy").toString());
    PATHS.put("{EMPTY}", dir.resolve("empty.npy").toString());
    PATHS.put("{EXISTING}", dir.resolve("existing.npy").toString());
    PATHS.put("{MISSING}", dir.resolve("missing.npy").toString());
    PATHS.put("{DIR}", dir.toString());
    PATHS.put("{OUT}", dir.resolve("out.npy").toString());
    PATHS.put("{OUT2}", dir.resolve("out2.npy").toString());
    PATHS.put("{NODIR}", dir.resolve("no-such-dir").resolve("y.npy").toString());
  }

  /** Runs by exit code, printed at the end: how much of the fuzzing got past the checks. */
  private static final Map<Integer, Integer> CODES = new TreeMap<>();

  @AfterAll
  static void removeFiles() throws IOException {
    System.out.println("CliFuzzTest: runs by exit code " + CODES);
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) Files.delete(p);
    }
    Files.delete(dir);
  }

  /** One of {@code words} (its path when it names a file), or now and then free text. */
  private static String word(FuzzedDataProvider data, String[] words) {
    String w = data.consumeInt(0, 15) < 15 ? data.pickValue(words) : data.consumeString(24);
    return PATHS.getOrDefault(w, w);
  }

  @FuzzTest(maxDuration = "30s")
  void everyCommandLineEndsInAnAnswerOrOneLine(FuzzedDataProvider data) throws IOException {
    // A command line in the tool's shape, its words mostly the tool's own, some free text
    List<String> args = new ArrayList<>();
    if (data.consumeInt(0, 15) < 15) args.add(word(data, COMMANDS));
    if (data.consumeInt(0, 15) < 15) args.add(word(data, FUNCTIONS));
    int options = data.consumeInt(0, 8);
    List<String> names = List.copyOf(OPTIONS.keySet());
    for (int i = 0; i < options; i++) {
      String name = data.consumeInt(0, 15) < 15 ? data.pickValue(names) : data.consumeString(12);
      String[] values = OPTIONS.getOrDefault(name, FILES);
      boolean glued = data.consumeInt(0, 7) == 7; // --name=value
      String value = values.length == 0 || data.consumeInt(0, 15) == 15 ? null : word(data, values);
      if (glued && value != null) {
        args.add(name + "=" + value);
      } else {
        args.add(name);
        if (value != null) args.add(value);
      }
    }
    if (args.contains("bench")) return; // see the class comment
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        Main.run(
            backend -> Rectifier.builder().backend(backend).build(),
            new PrintWriter(out),
            new PrintWriter(err),
            args.toArray(String[]::new));
    CODES.merge(code, 1, Integer::sum);
    String what = args + " exited " + code + ", stderr: " + err;

    assertTrue(code == 0 || code == Main.BACKEND_FAILURE || code == Main.BAD_INPUT, what);
    if (code != 0) {
      String e = err.toString();
      assertTrue(e.isEmpty() || e.startsWith("rectifier: "), what);
      assertFalse(e.stripTrailing().contains("\n"), "one line: " + what);
      assertFalse(e.isEmpty() && out.toString().isEmpty(), "a failure says why: " + what);
    }
    // no input changed; a failure leaves the folder as it was; a success leaves whole files only
    List<String> made = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        String name = p.getFileName().toString();
        byte[] before = START.get(name);
        if (before == null) {
          made.add(name);
        } else if (!(code == 0 && name.equals("existing.npy"))) {
          assertArrayEquals(before, Files.readAllBytes(p), name + " changed: " + what);
        }
      }
    }
    if (code != 0) assertEquals(List.of(), made, "a failed run wrote: " + what);
    for (String name : made) {
      assertTrue(name.equals("out.npy") || name.equals("out2.npy"), name + ": " + what);
      Npy.read(dir.resolve(name)); // whole: its header and its data agree
      Files.delete(dir.resolve(name));
    }
    Files.write(dir.resolve("existing.npy"), START.get("existing.npy"));
  }
}
