package dev.rectifier.cli;

import com.google.gson.GsonBuilder;
import dev.rectifier.Activation;
import dev.rectifier.Activation.Function;
import dev.rectifier.ActivationStats;
import dev.rectifier.BackendStatus;
import dev.rectifier.DType;
import dev.rectifier.Rectifier;
import dev.rectifier.RectifierException;
import dev.rectifier.Shape;
import dev.rectifier.spi.StatsRecords;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * The command-line tool: {@code info}, {@code forward}, {@code backward}, {@code bench}. Exit
 * codes: 0 done, 2 bad usage or bad input (one line on stderr, nothing written), 1 a backend
 * failure, 70 an error inside the tool itself (a bug: one line naming it, nothing written).
 */
@Command(
    name = "rectifier",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description =
        "The ReLU family of activations, forward and backward, on CUDA, OpenCL or the CPU.",
    subcommands = {Main.Info.class, Main.Forward.class, Main.Backward.class, Bench.class})
public final class Main implements Callable<Integer> {
  /** Exit code for bad usage or bad input. */
  static final int BAD_INPUT = 2;

  /** Exit code for a backend failure. */
  static final int BACKEND_FAILURE = 1;

  /**
   * Exit code for an error inside the tool (sysexits' EX_SOFTWARE): apart from the backends' so
   * that a script, or the fuzzer, can tell a bug from a device that failed.
   */
  static final int INTERNAL_ERROR = 70;

  /** Opens the engine a command computes on. */
  interface Engines {
    Rectifier open(String backend);
  }

  final Engines engines;

  private Main(Engines engines) {
    this.engines = engines;
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the tool and returns its exit code. */
  static int run(String... args) {
    return run(
        backend -> Rectifier.builder().backend(backend, "--backend").build(),
        new PrintWriter(System.out, true),
        new PrintWriter(System.err, true),
        args);
  }

  /**
   * Runs the tool in this process on engines from {@code engines}, writing to {@code out} and
   * {@code err}, and returns its exit code: how the tests drive it in process (the fuzzer, and a
   * backend that fails on purpose).
   */
  static int run(Engines engines, PrintWriter out, PrintWriter err, String... args) {
    CommandLine cl = new CommandLine(new Main(engines));
    cl.setOut(out);
    cl.setErr(err);
    cl.setParameterExceptionHandler(
        (e, a) -> {
          e.getCommandLine()
              .getErr()
              .println("rectifier: " + oneLine(e.getMessage()) + " (see --help)");
          return BAD_INPUT;
        });
    cl.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          PrintWriter stderr = commandLine.getErr();
          if (Outputs.stopping()) return INTERNAL_ERROR; // the JVM exits 130 or 143, said once
          if (e instanceof IllegalArgumentException || e instanceof IOException) {
            stderr.println("rectifier: " + oneLine(e.getMessage()));
            return BAD_INPUT;
          }
          if (e instanceof RectifierException) {
            stderr.println("rectifier: " + oneLine(e.getMessage()));
            return BACKEND_FAILURE;
          }
          stderr.println(
              "rectifier: internal error: " + oneLine(String.valueOf(e)) + "; please report it");
          return INTERNAL_ERROR;
        });
    try {
      return cl.execute(args);
    } finally {
      out.flush();
      err.flush();
    }
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
  }

  @Spec CommandSpec spec;

  /** No command: one line, as for any other bad usage; {@code --help} gives the usage. */
  @Override
  public Integer call() {
    spec.commandLine()
        .getErr()
        .println("rectifier: give a command: info, forward, backward or bench (see --help)");
    return BAD_INPUT;
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"rectifier " + (v == null ? "(development build)" : v)};
    }
  }

  // ---------------------------------------------------------------- info

  @Command(
      name = "info",
      mixinStandardHelpOptions = true,
      description = "Every backend, its devices, or the exact reason it cannot run here.")
  static final class Info implements Callable<Integer> {
    @ParentCommand Main main;
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "The same report as JSON, for machines.")
    boolean json;

    @Option(names = "--backend", description = "Report what forcing this backend would do.")
    String backend;

    @Override
    public Integer call() {
      PrintWriter stdout = spec.commandLine().getOut();
      List<BackendStatus> all = Rectifier.probeAll();
      String selected = null;
      String selectionError = null;
      String requested;
      boolean badName = false;
      List<BackendStatus> selection = List.of();
      String dispatch = null;
      try (Rectifier r = main.engines.open(backend)) {
        selected = r.backend();
        requested = r.requested();
        selection = r.selection();
        dispatch = r.dispatchRule();
      } catch (RuntimeException e) {
        selectionError = oneLine(e.getMessage());
        requested = backend != null ? backend : "?";
        badName = e instanceof IllegalArgumentException;
      }
      if (json) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("requested", requested);
        out.put("selected", selected);
        if (selectionError != null) out.put("selection_error", selectionError);
        out.put(
            "rule",
            "auto takes the first usable backend in this order: " + Rectifier.backendNames());
        List<Map<String, Object>> list = new ArrayList<>();
        for (BackendStatus s : all) {
          Map<String, Object> b = new LinkedHashMap<>();
          b.put("name", s.name());
          b.put("usable", s.usable());
          b.put("reason", s.reason());
          b.put("devices", s.devices());
          b.put("details", s.details());
          list.add(b);
        }
        out.put("backends", list);
        List<Map<String, Object>> passed = new ArrayList<>();
        List<Map<String, Object>> beside = new ArrayList<>();
        for (BackendStatus s : selection) {
          if (s.reason() == null) continue;
          Map<String, Object> b = new LinkedHashMap<>();
          b.put("name", s.name());
          b.put("why", s.reason());
          (s.details().containsKey(Rectifier.COMPANION) ? beside : passed).add(b);
        }
        out.put("skipped_by_selection", passed);
        out.put("also_used", beside);
        out.put("dispatch", dispatch);
        stdout.println(new GsonBuilder().serializeNulls().setPrettyPrinting().create().toJson(out));
      } else {
        for (BackendStatus s : all) {
          stdout.printf(
              Locale.ROOT,
              "%-7s %s%n",
              s.name(),
              s.usable() ? "usable" : "unusable: " + s.reason());
          for (String d : s.devices()) stdout.println("        device: " + d);
        }
        for (BackendStatus s : selection) {
          if (s.reason() == null) continue;
          String role = s.details().containsKey(Rectifier.COMPANION) ? "also " : "skipped ";
          stdout.println(role + s.name() + ": " + s.reason());
        }
        stdout.println(
            selected != null
                ? "selected: " + selected + " (requested: " + requested + ")"
                : "selected: none: " + selectionError);
        if (dispatch != null) stdout.println("dispatch: " + dispatch);
      }
      return selected != null ? 0 : badName ? BAD_INPUT : BACKEND_FAILURE;
    }
  }

  // ---------------------------------------------------------------- forward / backward

  /** What forward and backward share: the function, its parameters, the backend. */
  static final class FunctionOptions {
    @Parameters(
        index = "0",
        paramLabel = "FUNCTION",
        description =
            "relu, leaky_relu, prelu, rrelu, elu, selu, celu, relu6, hardtanh, threshold,"
                + " crelu, maxout, gelu, gelu_tanh, silu, mish, softplus")
    String function;

    @Option(
        names = "--input",
        required = true,
        paramLabel = "X.npy",
        description = "The input x: float32 or float64, C order.")
    Path input;

    @Option(
        names = "--param",
        paramLabel = "NAME=VALUE",
        description =
            "A parameter, by PyTorch's name: slope, alpha, min_val, max_val, threshold,"
                + " value, beta, lower, upper, pieces; once each.")
    List<String> params = new ArrayList<>();

    @Option(
        names = "--channel-axis",
        paramLabel = "N",
        description =
            "prelu, crelu, maxout: the channel axis (default 1; negative counts from the end).")
    Integer channelAxis;

    @Option(
        names = "--weight",
        paramLabel = "W.npy",
        description = "prelu: one weight per channel, or one.")
    Path weight;

    @Option(names = "--training", description = "rrelu: random slopes per element (needs --seed).")
    boolean training;

    @Option(
        names = "--seed",
        paramLabel = "N",
        description = "rrelu --training: the generator's seed.")
    Long seed;

    @Option(
        names = "--backend",
        paramLabel = "B",
        description = "auto (default), cpu ... (see info).")
    String backend;

    @Option(
        names = "--blend",
        paramLabel = "ALPHA,BETA",
        description =
            "Write alpha * result + beta * (what the output file holds), as cuDNN's alpha and"
                + " beta; with beta not 0 the output file must exist, of the result's shape and"
                + " type (default 1,0: the output is replaced).")
    String blend;

    @Option(
        names = "--chunk-elements",
        paramLabel = "N",
        description =
            "Stream the files N elements at a time (automatic for inputs over"
                + " 256 MiB, with any number of elements; elementwise functions only).")
    Integer chunkElements;

    @Option(
        names = "--bfloat16",
        description =
            "The .npy files hold bfloat16 bit patterns as '<u2' (NumPy has no bfloat16:"
                + " a.view(np.uint16) from ml_dtypes, t.view(torch.uint16) from PyTorch); the"
                + " output is written the same way. float16 ('<f2') needs no option.")
    boolean bfloat16;

    /** Refuses a bfloat16 input without --bfloat16 (it might be integers), and the reverse. */
    /**
     * Refuses a parameter that is finite as given but not in the input's type (float32 computes
     * with its parameters rounded to float32, where 1e39 is infinite), naming the type's range.
     */
    void checkParams(Activation f, DType input) {
      if (input != DType.FLOAT32) return;
      for (Map.Entry<String, Double> e : f.params().entrySet()) {
        double v = e.getValue();
        if (Double.isFinite(v) && Float.isInfinite((float) v) && !e.getKey().equals("pieces")) {
          throw new IllegalArgumentException(
              "--param "
                  + e.getKey()
                  + "="
                  + v
                  + " is not finite in float32, the input's type; give a value within +-"
                  + Float.MAX_VALUE);
        }
      }
    }

    void checkStorage(DType input) {
      if (input == DType.BFLOAT16 && !bfloat16) {
        throw new IllegalArgumentException(
            "--input holds 2-byte unsigned integers ('<u2'); if they are bfloat16 bit patterns,"
                + " add --bfloat16");
      }
      if (bfloat16 && input != DType.BFLOAT16) {
        throw new IllegalArgumentException(
            "--bfloat16: --input holds "
                + name(input)
                + "; give bfloat16 bit patterns as '<u2', or drop --bfloat16");
      }
    }

    /**
     * The chunk size when {@code f} on an input of {@code layout} streams, or 0 when it is read
     * whole.
     */
    int chunk(Activation f, Npy.Layout layout) {
      if (chunkElements != null && chunkElements < 1) {
        throw new IllegalArgumentException(
            "--chunk-elements is " + chunkElements + "; give 1 or more");
      }
      boolean wanted = chunkElements != null || layout.bytes() > NpyStream.STREAM_ABOVE;
      if (!wanted) return 0;
      if (!NpyStream.streams(f)) {
        if (chunkElements == null) return 0; // read whole, as far as memory allows
        throw new IllegalArgumentException(
            "--chunk-elements: "
                + f.function().id()
                + (f.training() ? " --training" : "")
                + " needs the whole tensor (channels, or slopes numbered from the start); drop"
                + " the option");
      }
      return chunkElements != null ? chunkElements : NpyStream.DEFAULT_CHUNK;
    }

    Activation activation() {
      Map<String, Double> values = new LinkedHashMap<>();
      for (String given : params) {
        int eq = given.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException(
              "--param " + given + ": give NAME=VALUE, as --param slope=0.1");
        }
        String name = given.substring(0, eq).trim();
        String value = given.substring(eq + 1);
        if (values.containsKey(name)) {
          throw new IllegalArgumentException(
              "--param " + name + " is given twice; give each parameter once");
        }
        try {
          values.put(name, parseNumber(value));
        } catch (NumberFormatException ex) {
          throw new IllegalArgumentException(
              "--param " + name + "=" + value + ": '" + value + "' is not a number");
        }
      }
      Activation f = Activation.of(function, values, channelAxis);
      if (training || seed != null) {
        if (f.function() != Function.RRELU) {
          throw new IllegalArgumentException("--training and --seed are only for rrelu");
        }
        if (!training || seed == null) {
          throw new IllegalArgumentException("rrelu training needs both --training and --seed N");
        }
        f = f.training(seed);
      }
      if (blend != null) f = blended(f, blend);
      if (f.function() == Function.PRELU && weight == null) {
        throw new IllegalArgumentException("prelu needs --weight W.npy (one weight per channel)");
      }
      if (f.function() != Function.PRELU && weight != null) {
        throw new IllegalArgumentException("--weight is only for prelu, not " + f.function().id());
      }
      return f;
    }
  }

  private static Activation blended(Activation f, String text) {
    String[] parts = text.split(",", -1);
    if (parts.length != 2) {
      throw new IllegalArgumentException(
          "--blend " + text + ": give ALPHA,BETA, two numbers (1,1 adds the result to the output)");
    }
    try {
      return f.blend(parseNumber(parts[0]), parseNumber(parts[1]));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "--blend " + text + ": '" + e.getMessage() + "' is not a number");
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--blend " + text + ": " + e.getMessage());
    }
  }

  /**
   * The layout of the file a call blends into (beta not 0), checked to exist and to hold the
   * result's type and shape before anything is computed; null when the call does not read its
   * output. Whole and streamed runs share it.
   */
  private static Npy.Layout blendTarget(
      Activation f, String option, Path file, DType t, long[] shape) throws IOException {
    if (!f.readsOutput()) return null;
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          option
              + ": "
              + file
              + " is not a regular file, but --blend with beta not 0 reads it; give beta 0"
              + " or a file");
    }
    if (!Files.exists(file)) {
      throw new IllegalArgumentException(
          option
              + ": "
              + file
              + " does not exist, but --blend with beta not 0 adds to it; create"
              + " it or give beta 0");
    }
    Npy.Layout old = layout(option, file);
    sameType(option, old.dtype(), t);
    if (!Arrays.equals(old.shape(), shape)) {
      throw new IllegalArgumentException(
          option
              + " has shape "
              + Arrays.toString(old.shape())
              + " but the result has "
              + Arrays.toString(shape)
              + "; --blend with beta not 0 needs the result's shape");
    }
    return old;
  }

  /** What the output file holds, for a call that blends into it; null when none does. */
  private static Object oldOutput(Activation f, String option, Path file, DType t, int[] shape)
      throws IOException {
    long[] dims = Arrays.stream(shape).asLongStream().toArray();
    return blendTarget(f, option, file, t, dims) == null ? null : read(option, file).data();
  }

  /** A number as Java reads it, and also nan, inf, -inf in any case (as NumPy prints them). */
  static double parseNumber(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    switch (t) {
      case "nan":
        return Double.NaN;
      case "inf", "+inf", "infinity", "+infinity":
        return Double.POSITIVE_INFINITY;
      case "-inf", "-infinity":
        return Double.NEGATIVE_INFINITY;
      default:
        if (!t.matches("[+-]?[0-9._e+-]+")) throw new NumberFormatException(text);
        return Double.parseDouble(t);
    }
  }

  /**
   * Writes one output of a run to {@code file} (its temporary file, or the device it names); an I/O
   * error names the option, the file the user gave, and the operating system's cause.
   */
  private static void write(
      String option, Path given, Path file, int[] shape, DType dtype, Object data)
      throws IOException {
    try {
      Npy.writeExisting(file, shape, dtype, data);
    } catch (IOException e) {
      throw new IOException(option + ": writing " + given + ": " + Outputs.describe(e), e);
    }
  }

  private static void checkOutput(String option, Path out, Path... inputs) throws IOException {
    Path abs = out.toAbsolutePath().normalize();
    Path dir = abs.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new IllegalArgumentException(
          option + ": the directory " + dir + " does not exist; create it first");
    }
    if (Files.isDirectory(abs)) {
      throw new IllegalArgumentException(option + ": " + out + " is a directory; give a file name");
    }
    for (Path in : inputs) {
      if (in != null
          && (in.toAbsolutePath().normalize().equals(abs)
              || (Files.exists(abs) && Files.exists(in) && Files.isSameFile(in, abs)))) {
        throw new IllegalArgumentException(
            option + ": " + out + " is also an input; write the result to another file");
      }
    }
  }

  /**
   * Refuses a mask option for a function without a 1-bit mask, and the options a masked run would
   * otherwise ignore.
   */
  private static void requireMask(String option, Activation f, FunctionOptions o, String fix) {
    if (!f.maskAllowed()) {
      throw new IllegalArgumentException(
          option + ": " + f + " has no 1-bit mask: " + f.whyNoMask() + "; " + fix);
    }
    if (o.weight != null) throw new IllegalArgumentException("--weight is only for prelu");
  }

  /** Mask runs read their files whole; refuses --chunk-elements with them. */
  private static void wholeForMask(String option, FunctionOptions o) {
    if (o.chunkElements != null) {
      throw new IllegalArgumentException(option + " reads the files whole; drop --chunk-elements");
    }
  }

  private static Npy.Layout layout(String option, Path file) throws IOException {
    Npy.Layout l;
    try {
      l = Npy.layout(file);
    } catch (IOException e) {
      throw new Npy.NpyException(option + ": " + e.getMessage());
    }
    requireFloat(option, file, l.dtype());
    return l;
  }

  /** Refuses a file of mask words where a tensor is expected. */
  private static void requireFloat(String option, Path file, DType t) {
    if (!t.isFloat()) {
      throw new IllegalArgumentException(
          option
              + ": "
              + file
              + " holds int32 (a 1-bit mask's words, from forward --mask-out); give a float32 or"
              + " float64 tensor, or pass the mask to backward --from-mask");
    }
  }

  /**
   * Computes {@code f} over the file {@code x} (and, backward, {@code g}) into {@code target} a
   * chunk at a time ({@link NpyStream}), then says so on stderr; with {@code stats}, a forward that
   * returns its statistics (else null).
   */
  private ActivationStats streamed(
      CommandSpec spec,
      String what,
      Activation f,
      FunctionOptions o,
      Npy.Layout x,
      Npy.Layout g,
      Path gFile,
      Path target,
      int chunk,
      boolean fromOutput,
      boolean stats)
      throws IOException {
    Npy.Layout old =
        blendTarget(f, g == null ? "--output" : "--grad-input", target, x.dtype(), x.shape());
    long start = System.nanoTime();
    try (Rectifier r = engines.open(o.backend);
        Outputs outs = new Outputs()) {
      long opened = System.nanoTime();
      Path written = outs.add(g == null ? "--output" : "--grad-input", target);
      ActivationStats s =
          NpyStream.run(
              r,
              f,
              x,
              o.input,
              g,
              gFile,
              old,
              target,
              written,
              chunk,
              fromOutput,
              stats,
              what + " " + f);
      outs.commit();
      ran(
          spec.commandLine().getErr(),
          what,
          f,
          x.dtype(),
          Arrays.toString(x.shape()),
          " streamed in chunks of " + chunk,
          r,
          target,
          start,
          opened,
          -1);
      return s;
    }
  }

  /**
   * The line on stderr that says what ran, on which backend, where it wrote, and how long it took:
   * the compute apart from the engine's start (a JVM's first engine takes hundreds of milliseconds
   * to open, more than most files take to compute).
   *
   * @param computed when the compute ended and the writing began; -1 when they interleave (a
   *     streamed run)
   */
  private static void ran(
      PrintWriter err,
      String what,
      Activation f,
      DType t,
      String shape,
      String how,
      Rectifier r,
      Path output,
      long start,
      long opened,
      long computed) {
    long end = System.nanoTime();
    String work =
        computed < 0
            ? String.format(Locale.ROOT, "%.1f ms computing and writing", (end - opened) / 1e6)
            : String.format(
                Locale.ROOT,
                "%.1f ms computing, %.1f ms writing",
                (computed - opened) / 1e6,
                (end - computed) / 1e6);
    err.printf(
        Locale.ROOT,
        "%s %s %s%s%s on %s into %s: %s (%.1f ms with the engine's start)%n",
        what,
        f,
        name(t),
        shape,
        how,
        r.backend(),
        output,
        work,
        (end - start) / 1e6);
  }

  private static Npy.Array read(String option, Path file) throws IOException {
    Npy.Array a = readAny(option, file);
    requireFloat(option, file, a.dtype());
    return a;
  }

  private static Npy.Array readAny(String option, Path file) throws IOException {
    try {
      return Npy.read(file);
    } catch (IOException e) {
      throw new Npy.NpyException(option + ": " + e.getMessage());
    }
  }

  private static void sameType(String option, DType a, DType x) {
    if (a != x) {
      throw new IllegalArgumentException(
          option + " is " + name(a) + " but --input is " + name(x) + "; give both the same type");
    }
  }

  private static String name(DType t) {
    return switch (t) {
      case FLOAT32 -> "float32";
      case FLOAT64 -> "float64";
      case INT32 -> "int32";
      case FLOAT16 -> "float16";
      case BFLOAT16 -> "bfloat16";
    };
  }

  private static Object newArray(DType t, long n) {
    if (t.isHalf()) return new short[(int) n];
    return t == DType.FLOAT32 ? new float[(int) n] : new double[(int) n];
  }

  @Command(
      name = "forward",
      mixinStandardHelpOptions = true,
      description = "y = f(x) on a .npy file.")
  static final class Forward implements Callable<Integer> {
    @ParentCommand Main main;
    @Spec CommandSpec spec;
    @Mixin FunctionOptions options;

    @Option(
        names = "--output",
        required = true,
        paramLabel = "Y.npy",
        description = "Where y goes (replaced whole, or left as it was on an error).")
    Path output;

    @Option(
        names = "--mask-out",
        paramLabel = "M.npy",
        description =
            "Also write f's 1-bit mask, for backward --from-mask (relu, leaky_relu, relu6,"
                + " hardtanh): int32 words, element i's bit is bit i %% 32 of word i / 32 (numpy:"
                + " np.unpackbits(m.view(np.uint8), bitorder='little')[:n]), 32 times smaller"
                + " than float32 x. The input is read whole.")
    Path maskOut;

    @Option(
        names = "--stats",
        description =
            "Also print y's statistics, taken in the same pass, as one JSON line on stdout:"
                + " count, zeros and zero_fraction (dead units), l1 (sum of |y| over finite y),"
                + " nans, infinities, min and max (over y that is not NaN; null when none). The"
                + " same on every backend; a streamed run's chunks are rounded up to multiples"
                + " of 65,536 elements so that it gives the whole run's figures.")
    boolean stats;

    @Option(
        names = "--channel-stats",
        paramLabel = "AXIS",
        description =
            "Also print the statistics of each channel of y along AXIS of y's shape (-1 is the"
                + " last), as one JSON line on stdout: axis, channels, dead_channels (the"
                + " channels whose outputs are all zero) and per_channel, a list of what --stats"
                + " prints, each channel's outputs measured as an array of their own. The input"
                + " is read whole.")
    Integer channelStats;

    @Override
    public Integer call() throws IOException {
      FunctionOptions o = options;
      Activation f = o.activation();
      checkOutput("--output", output, o.input, o.weight);
      Npy.Layout lx = layout("--input", o.input);
      o.checkStorage(lx.dtype());
      o.checkParams(f, lx.dtype());
      String measured = stats ? "--stats" : channelStats != null ? "--channel-stats" : null;
      if (lx.dtype().isHalf() && (maskOut != null || measured != null)) {
        throw new IllegalArgumentException(
            (measured != null ? measured : "--mask-out")
                + " is not computed on "
                + name(lx.dtype())
                + " yet; convert the input to float32, or drop the option");
      }
      if (channelStats != null) {
        wholeForMask("--channel-stats", o);
        if (stats) {
          throw new IllegalArgumentException(
              "--stats and --channel-stats are separate passes; run forward twice or drop one");
        }
      }
      if (maskOut != null) {
        requireMask("--mask-out", f, o, "keep x for backward");
        checkOutput("--mask-out", maskOut, o.input, o.weight, output);
        wholeForMask("--mask-out", o);
        if (measured != null) {
          throw new IllegalArgumentException(
              measured + " and --mask-out are separate passes; run forward twice or drop one");
        }
      }
      int chunk = maskOut != null || channelStats != null ? 0 : o.chunk(f, lx);
      if (chunk > 0) {
        if (stats) {
          // whole blocks, so the chunks' statistics add up to the whole run's
          long up = StatsRecords.records(chunk) * ActivationStats.BLOCK;
          chunk =
              (int) Math.min(up, Integer.MAX_VALUE / ActivationStats.BLOCK * ActivationStats.BLOCK);
        }
        ActivationStats s =
            main.streamed(spec, "forward", f, o, lx, null, null, output, chunk, false, stats);
        if (s != null) printStats(spec, s);
        return 0;
      }
      Npy.Array x = read("--input", o.input);
      Shape shape = Shape.of(x.shape());
      Shape out = f.outputShape(shape);
      if (channelStats != null) {
        try { // against y's shape, before anything runs or is written
          out.resolveAxis(channelStats);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("--channel-stats: " + e.getMessage());
        }
      }
      Npy.Array w = o.weight == null ? null : read("--weight", o.weight);
      if (w != null) sameType("--weight", w.dtype(), x.dtype());
      Object old = oldOutput(f, "--output", output, x.dtype(), out.dims());
      Object y = old != null ? old : newArray(x.dtype(), out.size());
      int[] mask = maskOut == null ? null : new int[(int) Rectifier.maskWords(shape.size())];
      ActivationStats s = null;
      List<ActivationStats> perChannel = null;
      long start = System.nanoTime();
      try (Rectifier r = main.engines.open(o.backend)) {
        long opened = System.nanoTime();
        if (channelStats != null) {
          perChannel =
              x.dtype() == DType.FLOAT32
                  ? r.forwardWithChannelStats(
                      f,
                      shape,
                      channelStats,
                      (float[]) x.data(),
                      w == null ? null : (float[]) w.data(),
                      (float[]) y)
                  : r.forwardWithChannelStats(
                      f,
                      shape,
                      channelStats,
                      (double[]) x.data(),
                      w == null ? null : (double[]) w.data(),
                      (double[]) y);
        } else if (mask != null) {
          if (x.dtype() == DType.FLOAT32) r.forward(f, (float[]) x.data(), (float[]) y, mask);
          else r.forward(f, (double[]) x.data(), (double[]) y, mask);
        } else if (stats) {
          s =
              x.dtype() == DType.FLOAT32
                  ? r.forwardWithStats(
                      f,
                      shape,
                      (float[]) x.data(),
                      w == null ? null : (float[]) w.data(),
                      (float[]) y)
                  : r.forwardWithStats(
                      f,
                      shape,
                      (double[]) x.data(),
                      w == null ? null : (double[]) w.data(),
                      (double[]) y);
        } else if (x.dtype().isHalf()) {
          short[] xs = (short[]) x.data();
          if (w != null) r.forward(f, x.dtype(), shape, xs, (short[]) w.data(), (short[]) y);
          else r.forward(f, x.dtype(), shape, xs, (short[]) y);
        } else if (x.dtype() == DType.FLOAT32) {
          if (w != null) r.forward(f, shape, (float[]) x.data(), (float[]) w.data(), (float[]) y);
          else r.forward(f, shape, (float[]) x.data(), (float[]) y);
        } else {
          if (w != null) {
            r.forward(f, shape, (double[]) x.data(), (double[]) w.data(), (double[]) y);
          } else {
            r.forward(f, shape, (double[]) x.data(), (double[]) y);
          }
        }
        long computed = System.nanoTime();
        try (Outputs outs = new Outputs()) {
          Path yFile = outs.add("--output", output);
          Path mFile = mask == null ? null : outs.add("--mask-out", maskOut);
          write("--output", output, yFile, out.dims(), x.dtype(), y);
          if (mFile != null)
            write("--mask-out", maskOut, mFile, new int[] {mask.length}, DType.INT32, mask);
          outs.commit();
        }
        String how = mask == null ? "" : " with a mask of " + mask.length + " words";
        ran(
            spec.commandLine().getErr(),
            "forward",
            f,
            x.dtype(),
            shape.toString(),
            how,
            r,
            output,
            start,
            opened,
            computed);
      }
      if (s != null) printStats(spec, s);
      if (perChannel != null) printChannelStats(spec, out.resolveAxis(channelStats), perChannel);
      return 0;
    }

    /** {@code s} as one JSON line on stdout; see {@link #fields}. */
    private static void printStats(CommandSpec spec, ActivationStats s) {
      spec.commandLine().getOut().println(json().toJson(fields(s)));
    }

    /**
     * The statistics of each channel along {@code axis} as one JSON line: the axis, the number of
     * channels, the dead ones (every output zero), and each channel's {@link #fields}.
     */
    private static void printChannelStats(
        CommandSpec spec, int axis, List<ActivationStats> perChannel) {
      List<Integer> dead = new ArrayList<>();
      List<Map<String, Object>> each = new ArrayList<>();
      for (int c = 0; c < perChannel.size(); c++) {
        ActivationStats s = perChannel.get(c);
        if (s.count() > 0 && s.zeros() == s.count()) dead.add(c);
        each.add(fields(s));
      }
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("axis", axis);
      j.put("channels", perChannel.size());
      j.put("dead_channels", dead);
      j.put("per_channel", each);
      spec.commandLine().getOut().println(json().toJson(j));
    }

    /** NaN and infinities as JavaScript writes them (Python's json reads them), nulls kept. */
    private static com.google.gson.Gson json() {
      return new GsonBuilder().serializeNulls().serializeSpecialFloatingPointValues().create();
    }

    /**
     * The figures of {@code s} by name: count, zeros, zero_fraction, l1, nans, infinities, min and
     * max; min and max null when no output is a number, zero_fraction when there are no outputs.
     */
    private static Map<String, Object> fields(ActivationStats s) {
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("count", s.count());
      j.put("zeros", s.zeros());
      j.put("zero_fraction", s.count() == 0 ? null : s.zeroFraction());
      j.put("l1", s.l1());
      j.put("nans", s.nans());
      j.put("infinities", s.infinities());
      j.put("min", Double.isNaN(s.min()) ? null : s.min());
      j.put("max", Double.isNaN(s.max()) ? null : s.max());
      return j;
    }
  }

  @Command(
      name = "backward",
      mixinStandardHelpOptions = true,
      description = "grad_input = grad_output * f'(x) on .npy files.")
  static final class Backward implements Callable<Integer> {
    @ParentCommand Main main;
    @Spec CommandSpec spec;
    @Mixin FunctionOptions options;

    @Option(
        names = "--grad-output",
        required = true,
        paramLabel = "G.npy",
        description = "The upstream gradient, with the shape of f(x).")
    Path gradOutput;

    @Option(
        names = "--grad-input",
        required = true,
        paramLabel = "DX.npy",
        description = "Where grad_output * f'(x) goes.")
    Path gradInput;

    @Option(
        names = "--grad-weight",
        paramLabel = "DW.npy",
        description = "prelu: where grad_weight goes.")
    Path gradWeight;

    @Option(
        names = "--from-output",
        description =
            "--input holds y = f(x), the forward's output, not x (relu, leaky_relu with slope >= 0,"
                + " rrelu, elu with alpha >= 0, relu6, hardtanh, threshold with value <="
                + " threshold).")
    boolean fromOutput;

    @Option(
        names = "--from-mask",
        description =
            "--input holds the 1-bit mask that forward --mask-out wrote, not x (relu, leaky_relu,"
                + " relu6, hardtanh, with the forward's --param values). The files are read"
                + " whole.")
    boolean fromMask;

    @Override
    public Integer call() throws IOException {
      FunctionOptions o = options;
      Activation f = o.activation();
      String what = fromOutput ? "backward from the output" : "backward";
      if (fromOutput && !f.backwardFromOutputAllowed()) {
        throw new IllegalArgumentException(
            "--from-output: "
                + f
                + " cannot run backward from its output: "
                + f.whyNotBackwardFromOutput()
                + "; drop --from-output and give x");
      }
      if (fromMask) {
        if (fromOutput) {
          throw new IllegalArgumentException(
              "--from-mask and --from-output: --input is one or the other; give one");
        }
        return fromMask(f);
      }
      boolean prelu = f.function() == Function.PRELU;
      if (prelu && gradWeight == null) {
        throw new IllegalArgumentException("prelu backward needs --grad-weight DW.npy");
      }
      if (!prelu && gradWeight != null) {
        throw new IllegalArgumentException("--grad-weight is only for prelu");
      }
      checkOutput("--grad-input", gradInput, o.input, gradOutput, o.weight);
      if (prelu) checkOutput("--grad-weight", gradWeight, o.input, gradOutput, o.weight, gradInput);
      Npy.Layout lx = layout("--input", o.input);
      o.checkStorage(lx.dtype());
      o.checkParams(f, lx.dtype());
      if (lx.dtype().isHalf() && fromOutput) {
        throw new IllegalArgumentException(
            "--from-output is not computed on "
                + name(lx.dtype())
                + " yet; give x, or convert the files to float32");
      }
      int chunk = o.chunk(f, lx);
      if (chunk > 0) {
        Npy.Layout lg = layout("--grad-output", gradOutput);
        sameType("--grad-output", lg.dtype(), lx.dtype());
        if (!Arrays.equals(lg.shape(), lx.shape())) {
          throw new IllegalArgumentException(
              "--grad-output has shape "
                  + Arrays.toString(lg.shape())
                  + " but --input has "
                  + Arrays.toString(lx.shape())
                  + "; give a gradient of the input's shape");
        }
        main.streamed(spec, what, f, o, lx, lg, gradOutput, gradInput, chunk, fromOutput, false);
        return 0;
      }
      Npy.Array x = read("--input", o.input);
      Npy.Array g = read("--grad-output", gradOutput);
      sameType("--grad-output", g.dtype(), x.dtype());
      Shape shape = Shape.of(x.shape());
      Shape out = f.outputShape(shape);
      if (!Arrays.equals(g.shape(), out.dims())) {
        throw new IllegalArgumentException(
            "--grad-output has shape "
                + g.shapeText()
                + " but "
                + f.function().id()
                + " of --input "
                + shape
                + " gives "
                + out
                + "; give a gradient of that shape");
      }
      Npy.Array w = o.weight == null ? null : read("--weight", o.weight);
      if (w != null) sameType("--weight", w.dtype(), x.dtype());
      Object old = oldOutput(f, "--grad-input", gradInput, x.dtype(), shape.dims());
      Object dx = old != null ? old : newArray(x.dtype(), shape.size());
      Object dw = w == null ? null : newArray(x.dtype(), w.size());
      long start = System.nanoTime();
      try (Rectifier r = main.engines.open(o.backend)) {
        long opened = System.nanoTime();
        if (x.dtype().isHalf()) {
          DType t = x.dtype();
          short[] xs = (short[]) x.data();
          short[] gs = (short[]) g.data();
          if (w != null) {
            r.backward(f, t, shape, xs, (short[]) w.data(), gs, (short[]) dx, (short[]) dw);
          } else {
            r.backward(f, t, shape, xs, gs, (short[]) dx);
          }
        } else if (x.dtype() == DType.FLOAT32) {
          if (w != null) {
            r.backward(
                f,
                shape,
                (float[]) x.data(),
                (float[]) w.data(),
                (float[]) g.data(),
                (float[]) dx,
                (float[]) dw);
          } else if (fromOutput) {
            r.backwardFromOutput(f, (float[]) x.data(), (float[]) g.data(), (float[]) dx);
          } else {
            r.backward(f, shape, (float[]) x.data(), (float[]) g.data(), (float[]) dx);
          }
        } else {
          if (w != null) {
            r.backward(
                f,
                shape,
                (double[]) x.data(),
                (double[]) w.data(),
                (double[]) g.data(),
                (double[]) dx,
                (double[]) dw);
          } else if (fromOutput) {
            r.backwardFromOutput(f, (double[]) x.data(), (double[]) g.data(), (double[]) dx);
          } else {
            r.backward(f, shape, (double[]) x.data(), (double[]) g.data(), (double[]) dx);
          }
        }
        long computed = System.nanoTime();
        try (Outputs outs = new Outputs()) {
          Path dxFile = outs.add("--grad-input", gradInput);
          Path dwFile = dw == null ? null : outs.add("--grad-weight", gradWeight);
          write("--grad-input", gradInput, dxFile, shape.dims(), x.dtype(), dx);
          if (dwFile != null) write("--grad-weight", gradWeight, dwFile, w.shape(), x.dtype(), dw);
          outs.commit();
        }
        ran(
            spec.commandLine().getErr(),
            what,
            f,
            x.dtype(),
            shape.toString(),
            "",
            r,
            gradInput,
            start,
            opened,
            computed);
      }
      return 0;
    }

    /** Backward from the mask file in --input: the gradient's shape, read and written whole. */
    private int fromMask(Activation f) throws IOException {
      FunctionOptions o = options;
      requireMask("--from-mask", f, o, "drop --from-mask and give x");
      if (gradWeight != null) throw new IllegalArgumentException("--grad-weight is only for prelu");
      checkOutput("--grad-input", gradInput, o.input, gradOutput);
      wholeForMask("--from-mask", o);
      Npy.Array m = readAny("--input", o.input);
      Npy.Array g = read("--grad-output", gradOutput);
      o.checkParams(f, g.dtype());
      if (m.dtype() != DType.INT32) {
        throw new IllegalArgumentException(
            "--input: "
                + o.input
                + " holds "
                + name(m.dtype())
                + ", not a mask's words; with --from-mask give the file forward --mask-out wrote");
      }
      if (g.dtype().isHalf()) {
        throw new IllegalArgumentException(
            "--from-mask is not computed on "
                + name(g.dtype())
                + " yet; convert --grad-output to float32");
      }
      long words = Rectifier.maskWords(g.size());
      if (m.shape().length != 1 || m.size() != words) {
        throw new IllegalArgumentException(
            "--input: the mask has shape "
                + m.shapeText()
                + " but the "
                + g.size()
                + " elements of --grad-output need ["
                + words
                + "]; give the mask of the forward that this gradient follows");
      }
      Object old = oldOutput(f, "--grad-input", gradInput, g.dtype(), g.shape());
      Object dx = old != null ? old : newArray(g.dtype(), g.size());
      long start = System.nanoTime();
      try (Rectifier r = main.engines.open(o.backend)) {
        long opened = System.nanoTime();
        int[] mask = (int[]) m.data();
        if (g.dtype() == DType.FLOAT32) {
          r.backwardFromMask(f, mask, (float[]) g.data(), (float[]) dx);
        } else {
          r.backwardFromMask(f, mask, (double[]) g.data(), (double[]) dx);
        }
        long computed = System.nanoTime();
        try (Outputs outs = new Outputs()) {
          Path dxFile = outs.add("--grad-input", gradInput);
          write("--grad-input", gradInput, dxFile, g.shape(), g.dtype(), dx);
          outs.commit();
        }
        ran(
            spec.commandLine().getErr(),
            "backward from a mask",
            f,
            g.dtype(),
            Shape.of(g.shape()).toString(),
            "",
            r,
            gradInput,
            start,
            opened,
            computed);
      }
      return 0;
    }
  }
}
