package dev.rectifier;

import dev.rectifier.Activation.Function;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendBuffer;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;
import dev.rectifier.spi.HostArray;
import dev.rectifier.spi.Operand;
import dev.rectifier.spi.Providers;
import dev.rectifier.spi.StatsRecords;
import dev.rectifier.spi.Text;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The engine: computes the ReLU family forward and backward on the backend it chose when it was
 * made. Create one, share it, close it:
 *
 * <pre>{@code
 * try (Rectifier r = Rectifier.create()) {
 *   r.forward(Activation.leakyRelu(0.1), x, y);
 * }
 * }</pre>
 *
 * <p><b>Backend choice.</b> {@code auto} (the default) probes the backends in a fixed order, the
 * fastest first (CUDA, OpenCL, then the CPU, as they are built), takes the first that runs and
 * records for each one it skipped why ({@link #selection()}). {@link Builder#backend}, else the
 * system property {@value #BACKEND_PROPERTY}, else the environment variable {@value #BACKEND_ENV}
 * forces one; a forced backend that cannot run is a {@link RectifierException} that names the cause
 * and the fix, never a silent fallback. A backend may compute some types only (an OpenCL device
 * without double precision computes float32): in auto mode the other types go to the next backend
 * in the order that computes them ({@link #backend(DType)}, {@link #selection()}); on a forced
 * backend a call in such a type is a {@link RectifierException}. In auto mode on a device backend,
 * the CPU backend also works beside it: each call on host arrays goes where its measured cost is
 * lower, copies included ({@link #dispatchRule()}, {@link #backendFor}); buffers compute where they
 * live.
 *
 * <p><b>Calls.</b> Every array or buffer is C-ordered. The plain {@code float[]}/{@code double[]}
 * overloads see a one-dimensional tensor; the functions that act on channels ({@code prelu}, {@code
 * crelu}, {@code maxout}) take a {@link Shape}. An output may be its input (same array, same
 * offset: in place); an output that partly overlaps an input is refused. Bad arguments are {@link
 * IllegalArgumentException}s raised before anything is written.
 *
 * <p><b>Threads and ownership.</b> Thread-safe: one engine serves any number of threads. It owns
 * the backend and every {@link DeviceBuffer} it made; {@link #close()} waits for calls in flight,
 * frees buffers still open and reports them as leaks (an {@link IllegalStateException} with {@link
 * Builder#failOnLeak}, a warning otherwise).
 */
public final class Rectifier implements AutoCloseable {
  /** The system property that forces a backend: {@code auto}, {@code cpu} ... */
  public static final String BACKEND_PROPERTY = "rectifier.backend";

  /** The environment variable that forces a backend when the property is not set. */
  public static final String BACKEND_ENV = "RECTIFIER_BACKEND";

  /**
   * The key, in a {@link BackendStatus#details()} of {@link #selection()}, that marks a backend
   * working beside the chosen one (for float64, or for host arrays it computes faster), not one
   * passed over.
   */
  public static final String COMPANION = "companion";

  /** The system property that makes a leak at close an error ({@code true}/{@code false}). */
  public static final String FAIL_ON_LEAK_PROPERTY = "rectifier.failOnLeak";

  /**
   * The system property that makes failed calls on host arrays re-run on the CPU backend: {@code
   * cpu}, or {@code none} (the default).
   */
  public static final String FALLBACK_PROPERTY = "rectifier.fallback";

  private static final System.Logger LOG = System.getLogger(Rectifier.class.getName());

  private final Backend backend;
  private final Map<DType, Backend> byType;

  /** In auto mode on a device backend: the CPU backend, for host-array calls it does faster. */
  private final Backend hostCpu;

  /** With {@value #FALLBACK_PROPERTY}=cpu on another backend: the CPU, to re-run failed calls. */
  private final Backend fallback;

  /** Per function (rrelu training apart), the measured costs, in the order measured. */
  private final Map<String, Dispatch.Costs> costs = new java.util.LinkedHashMap<>();

  private final List<BackendStatus> selection;
  private final String requested;
  private final boolean failOnLeak;
  private final Map<DeviceBuffer, Boolean> live = new ConcurrentHashMap<>();
  private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
  private volatile boolean closed;

  private Rectifier(
      Backend backend,
      Map<DType, Backend> byType,
      Backend hostCpu,
      Backend fallback,
      List<BackendStatus> selection,
      String requested,
      boolean failOnLeak) {
    this.backend = backend;
    this.hostCpu = hostCpu;
    this.fallback = fallback;
    this.byType = new EnumMap<>(DType.class);
    for (DType t : DType.values()) this.byType.put(t, byType.getOrDefault(t, backend));
    // 16-bit buffers are widened to float64 and computed there: they live on its backend
    this.byType.put(DType.FLOAT16, this.byType.get(DType.FLOAT64));
    this.byType.put(DType.BFLOAT16, this.byType.get(DType.FLOAT64));
    this.selection = List.copyOf(selection);
    this.requested = requested;
    this.failOnLeak = failOnLeak;
  }

  /** An engine on the backend chosen as the class comment says. */
  public static Rectifier create() {
    return builder().build();
  }

  /** An engine on {@code backend} ({@code auto}, {@code cpu} ...). */
  public static Rectifier create(String backend) {
    return builder().backend(backend).build();
  }

  /** A builder for an engine with non-default settings. */
  public static Builder builder() {
    return new Builder();
  }

  /** The names of the backends in this build, in auto mode's order. */
  public static List<String> backendNames() {
    List<String> names = new ArrayList<>();
    for (BackendProvider p : Providers.all()) names.add(p.name());
    return names;
  }

  /** Probes every backend of this build, in auto mode's order. Never throws. */
  public static List<BackendStatus> probeAll() {
    List<BackendStatus> all = new ArrayList<>();
    for (BackendProvider p : Providers.all()) all.add(safeProbe(p));
    return all;
  }

  private static BackendStatus safeProbe(BackendProvider p) {
    try {
      return p.probe();
    } catch (RuntimeException | LinkageError e) {
      // probe() must not throw; if one does, that is the reason it is unusable.
      return BackendStatus.unusable(p.name(), "its probe failed: " + e);
    }
  }

  private static String safeSkipReason(BackendProvider p, BackendStatus status) {
    try {
      return p.autoSkipReason(status);
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Settings for an engine. Not thread-safe; {@link #build()} may be called more than once. */
  public static final class Builder {
    private String backend;
    private String backendSource;
    private Integer threads;
    private int cudaDevice = -1;
    private Boolean failOnLeak;
    private String fallback;
    private List<BackendProvider> providers = null;

    private Builder() {}

    /** Forces a backend by name, or {@code auto}; null leaves the choice to the property/env. */
    public Builder backend(String backend) {
      return backend(backend, "Rectifier.builder().backend()");
    }

    /**
     * Forces a backend by name, or {@code auto}, as {@link #backend(String)}, where the user chose
     * it through {@code source} (a command-line option, an application's setting): errors about the
     * choice name it in those words.
     */
    public Builder backend(String backend, String source) {
      this.backend = backend;
      this.backendSource = Objects.requireNonNull(source, "source");
      return this;
    }

    /** Host threads the CPU backend may use; the default is one per available processor. */
    public Builder threads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException("threads is " + threads + "; give 1 or more");
      }
      this.threads = threads;
      return this;
    }

    /**
     * The CUDA device (its ordinal, as {@code info} lists them) the CUDA backend opens, for an
     * application that places its work itself, as a Spark task given a GPU address does; the
     * default is the system property {@value dev.rectifier.cuda.CudaProvider#DEVICE_PROPERTY}, else
     * the first. Other backends ignore it. An ordinal the driver does not list fails the CUDA
     * backend's opening with the ordinals it has.
     */
    public Builder cudaDevice(int ordinal) {
      if (ordinal < 0) {
        throw new IllegalArgumentException(
            "cudaDevice is " + ordinal + "; give a GPU ordinal, 0 or more");
      }
      this.cudaDevice = ordinal;
      return this;
    }

    /**
     * Whether buffers left open at {@link #close()} make it throw. Default: the system property
     * {@value #FAIL_ON_LEAK_PROPERTY}, else false (a warning).
     */
    public Builder failOnLeak(boolean failOnLeak) {
      this.failOnLeak = failOnLeak;
      return this;
    }

    /**
     * What a call on host arrays does when its backend fails: {@code "none"} (the default: the
     * error, naming the backend, the operation and the cause) or {@code "cpu"}: re-run it on the
     * CPU backend, with a warning (logged as {@code dev.rectifier.Rectifier}), and give the CPU's
     * result. In-place calls then keep a copy of their input, so that the re-run starts from it.
     * Calls on {@link DeviceBuffer}s never fall back: their data is on the failed device. Default:
     * the system property {@value #FALLBACK_PROPERTY}.
     */
    public Builder fallback(String fallback) {
      this.fallback = checkFallback(Objects.requireNonNull(fallback, "fallback"), "fallback");
      return this;
    }

    private static String checkFallback(String value, String from) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      if (!v.equals("cpu") && !v.equals("none")) {
        throw new IllegalArgumentException(
            from
                + " is '"
                + Text.excerpt(value)
                + "'; give cpu (re-run failed calls on the CPU) or none");
      }
      return v;
    }

    /** Other providers in place of the built-in list, for tests of the selection itself. */
    Builder providers(List<BackendProvider> providers) {
      this.providers = List.copyOf(providers);
      return this;
    }

    /**
     * Chooses and opens the backend.
     *
     * @throws IllegalArgumentException for an unknown backend name
     * @throws RectifierException when a forced backend cannot run, or none can
     */
    public Rectifier build() {
      List<BackendProvider> list = providers != null ? providers : Providers.all();
      String source;
      String name;
      if (backend != null) {
        name = backend;
        source = backendSource;
      } else if (System.getProperty(BACKEND_PROPERTY) != null) {
        name = System.getProperty(BACKEND_PROPERTY);
        source = "the system property " + BACKEND_PROPERTY;
      } else if (System.getenv(BACKEND_ENV) != null && !System.getenv(BACKEND_ENV).isBlank()) {
        name = System.getenv(BACKEND_ENV);
        source = "the environment variable " + BACKEND_ENV;
      } else {
        name = "auto";
        source = null;
      }
      name = name.trim().toLowerCase(Locale.ROOT);
      BackendConfig config =
          new BackendConfig(
              threads != null ? threads : Runtime.getRuntime().availableProcessors(), cudaDevice);
      boolean leakIsError =
          failOnLeak != null ? failOnLeak : Boolean.getBoolean(FAIL_ON_LEAK_PROPERTY);
      String fb = fallback;
      if (fb == null && System.getProperty(FALLBACK_PROPERTY) != null) {
        fb = checkFallback(System.getProperty(FALLBACK_PROPERTY), "-D" + FALLBACK_PROPERTY);
      }
      boolean cpuFallback = "cpu".equals(fb);
      return name.equals("auto")
          ? auto(list, config, leakIsError, cpuFallback)
          : forced(list, name, source, config, leakIsError, cpuFallback);
    }

    /**
     * The CPU backend to re-run failed calls on when asked for and {@code chosen} is another one:
     * {@code hostCpu} where there is one, else one opened now; null otherwise.
     */
    private static Backend fallbackCpu(
        boolean wanted,
        Backend chosen,
        Backend hostCpu,
        List<BackendProvider> list,
        BackendConfig config,
        List<BackendStatus> seen) {
      if (!wanted || chosen.name().equals("cpu")) return null;
      if (hostCpu != null) return hostCpu;
      for (BackendProvider q : list) {
        if (!q.name().equals("cpu")) continue;
        BackendStatus status = safeProbe(q);
        if (!status.usable()) break;
        Backend cpu = q.open(config);
        seen.add(
            new BackendStatus(
                q.name(),
                true,
                "re-runs the calls on host arrays that fail on "
                    + chosen.name()
                    + " ("
                    + FALLBACK_PROPERTY
                    + "=cpu)",
                status.devices(),
                companion(status)));
        return cpu;
      }
      throw new RectifierException(
          FALLBACK_PROPERTY + "=cpu was asked for, but no CPU backend runs in this build");
    }

    private static Rectifier auto(
        List<BackendProvider> list,
        BackendConfig config,
        boolean leakIsError,
        boolean cpuFallback) {
      List<BackendStatus> seen = new ArrayList<>();
      for (int i = 0; i < list.size(); i++) {
        BackendProvider p = list.get(i);
        BackendStatus status = safeProbe(p);
        String pass = status.usable() ? safeSkipReason(p, status) : null;
        if (pass != null) {
          seen.add(
              new BackendStatus(
                  p.name(),
                  true,
                  "auto mode passes it over: " + pass,
                  status.devices(),
                  status.details()));
          continue;
        }
        Backend b = null;
        if (status.usable()) {
          try {
            b = p.open(config);
          } catch (RuntimeException | LinkageError e) {
            status = BackendStatus.unusable(p.name(), "it probed well but did not open: " + e);
          }
        }
        seen.add(status);
        if (b == null) continue;
        Map<DType, Backend> byType = new EnumMap<>(DType.class);
        Backend hostCpuOpened = null;
        try {
          for (DType t : DType.values()) {
            String why = b.unsupported(t);
            if (why == null) continue;
            Backend other =
                openFor(t, p.name(), why, list.subList(i + 1, list.size()), config, seen);
            if (other != null) byType.put(t, other);
          }
          Backend cpu = null;
          for (Backend o : byType.values()) if (o.name().equals("cpu")) cpu = o;
          if (cpu == null && !b.name().equals("cpu")) {
            cpu = openHostCpu(p.name(), list, config, seen);
            hostCpuOpened = cpu;
          }
          Backend fb = fallbackCpu(cpuFallback, b, cpu, list, config, seen);
          return new Rectifier(b, byType, cpu, fb, seen, "auto", leakIsError);
        } catch (RuntimeException | Error e) {
          new LinkedHashSet<>(byType.values()).forEach(Backend::close);
          if (hostCpuOpened != null) hostCpuOpened.close();
          b.close();
          throw e;
        }
      }
      StringBuilder why = new StringBuilder("no backend can run here:");
      for (BackendStatus s : seen)
        why.append(' ').append(s.name()).append(": ").append(s.reason()).append(';');
      throw new RectifierException(why.toString());
    }

    /**
     * The first of {@code rest} that runs and computes {@code t}, opened, its status added to
     * {@code seen} with why it computes {@code t}; null when none does (calls in {@code t} then
     * fail with the chosen backend's reason).
     */
    private static Backend openFor(
        DType t,
        String chosen,
        String why,
        List<BackendProvider> rest,
        BackendConfig config,
        List<BackendStatus> seen) {
      for (BackendProvider q : rest) {
        BackendStatus status = safeProbe(q);
        if (!status.usable()) continue;
        Backend other;
        try {
          other = q.open(config);
        } catch (RuntimeException | LinkageError e) {
          continue;
        }
        if (other.unsupported(t) != null) {
          other.close();
          continue;
        }
        seen.add(
            new BackendStatus(
                q.name(),
                true,
                "computes "
                    + t.name().toLowerCase(Locale.ROOT)
                    + ", which "
                    + chosen
                    + " cannot: "
                    + why,
                status.devices(),
                companion(status)));
        return other;
      }
      return null;
    }

    /**
     * The CPU backend beside a device backend, for the host-array calls it does faster (see {@link
     * Dispatch}); null when this build's list has none that runs.
     */
    private static Backend openHostCpu(
        String chosen, List<BackendProvider> list, BackendConfig config, List<BackendStatus> seen) {
      for (BackendProvider q : list) {
        if (!q.name().equals("cpu")) continue;
        BackendStatus status = safeProbe(q);
        if (!status.usable()) return null;
        Backend cpu;
        try {
          cpu = q.open(config);
        } catch (RuntimeException | LinkageError e) {
          return null;
        }
        seen.add(
            new BackendStatus(
                q.name(),
                true,
                "computes the calls on host arrays that it does faster than "
                    + chosen
                    + " (copies included): see dispatchRule()",
                status.devices(),
                companion(status)));
        return cpu;
      }
      return null;
    }

    /** The status's details, marked as those of a backend that works beside the chosen one. */
    private static Map<String, String> companion(BackendStatus status) {
      Map<String, String> d = new java.util.LinkedHashMap<>(status.details());
      d.put(COMPANION, "true");
      return d;
    }

    private static Rectifier forced(
        List<BackendProvider> list,
        String name,
        String source,
        BackendConfig config,
        boolean leakIsError,
        boolean cpuFallback) {
      List<String> known = new ArrayList<>();
      for (BackendProvider p : list) {
        known.add(p.name());
        if (!p.name().equals(name)) continue;
        BackendStatus status = safeProbe(p);
        if (!status.usable()) {
          throw new RectifierException(
              "backend '"
                  + name
                  + "' was forced by "
                  + source
                  + " but cannot run: "
                  + status.reason()
                  + ". Fix that, or choose another backend ("
                  + String.join(", ", known(list))
                  + ", or auto)");
        }
        Backend b;
        try {
          b = p.open(config);
        } catch (RectifierException e) {
          throw new RectifierException(
              "backend '" + name + "' was forced by " + source + " but " + e.getMessage(), e);
        }
        List<BackendStatus> seen = new ArrayList<>(List.of(status));
        try {
          Backend fb = fallbackCpu(cpuFallback, b, null, list, config, seen);
          return new Rectifier(b, Map.of(), null, fb, seen, name, leakIsError);
        } catch (RuntimeException e) {
          b.close();
          throw e;
        }
      }
      throw new IllegalArgumentException(
          "unknown backend '"
              + Text.excerpt(name)
              + "' (from "
              + source
              + "); this build has: "
              + String.join(", ", known)
              + ", or auto");
    }

    private static List<String> known(List<BackendProvider> list) {
      List<String> names = new ArrayList<>();
      for (BackendProvider p : list) names.add(p.name());
      return names;
    }
  }

  /** The name of the backend this engine computes on. */
  public String backend() {
    return backend.name();
  }

  /**
   * The name of the backend that computes {@code dtype}: {@link #backend()}, unless that one cannot
   * compute it and auto mode gave the type to another.
   */
  public String backend(DType dtype) {
    return byType.get(Objects.requireNonNull(dtype, "dtype")).name();
  }

  /**
   * The backend for calls in {@code dtype}; an error naming the fix where it cannot compute it (for
   * a 16-bit type, where its float64 backend cannot).
   */
  private Backend on(DType dtype) {
    if (dtype.isHalf()) {
      checkComputesHalf(dtype);
      return byType.get(dtype);
    }
    Backend b = byType.get(dtype);
    String why = b.unsupported(dtype);
    if (why != null) {
      String type = dtype.name().toLowerCase(Locale.ROOT);
      throw new RectifierException(
          type
              + " cannot run on backend '"
              + b.name()
              + "': "
              + why
              + "; give float32 data, or choose the cpu backend (or auto, which computes "
              + type
              + " on the next backend that can)");
    }
    return b;
  }

  /** The backend for a call on host arrays: the device, or the CPU where it is faster. */
  private Backend onHost(Activation f, HostArray x) {
    return placed(on(x.dtype()), f, x.dtype(), x.length());
  }

  /** {@code b}, or the CPU beside it where its measured costs say host arrays go faster there. */
  private Backend placed(Backend b, Activation f, DType dtype, long length) {
    if (hostCpu == null || b == hostCpu) return b;
    return Dispatch.onDevice(costs(b, f), dtype, length) ? b : hostCpu;
  }

  /** The measured costs of {@code f}'s kind of call, measured now if this is the first. */
  private Dispatch.Costs costs(Backend device, Activation f) {
    Activation r = Dispatch.representative(f);
    String key = r.function().id() + (r.training() ? " --training" : "");
    synchronized (costs) {
      return costs.computeIfAbsent(key, k -> Dispatch.calibrate(r, device, hostCpu));
    }
  }

  /**
   * The backend a call of {@code f} on host arrays of {@code length} elements of {@code dtype}
   * would compute on. In auto mode on a device backend this measures both sides the first time (see
   * {@link #dispatchRule()}); buffers always compute where they live.
   */
  public String backendFor(Activation f, DType dtype, long length) {
    Objects.requireNonNull(f, "activation");
    return placed(byType.get(Objects.requireNonNull(dtype, "dtype")), f, dtype, length).name();
  }

  /**
   * How calls on host arrays are placed: on one backend, or, in auto mode on a device backend, on
   * the device or the CPU by their measured costs, per function: each function measured so far, and
   * relu and gelu (measured here if not yet).
   */
  public String dispatchRule() {
    Backend b = byType.get(DType.FLOAT32);
    if (hostCpu == null || b == hostCpu) {
      return "every call runs on "
          + b.name()
          + (byType.get(DType.FLOAT64) != b
              ? " (float64 on " + byType.get(DType.FLOAT64).name() + ")"
              : "");
    }
    costs(b, Activation.relu()); // at least a memory-bound and a compute-bound function
    costs(b, Activation.gelu());
    synchronized (costs) {
      return Dispatch.describe(b.name(), new java.util.LinkedHashMap<>(costs));
    }
  }

  /** What was asked for: {@code auto} or a backend's name. */
  public String requested() {
    return requested;
  }

  /**
   * How the backend was chosen: the status of each backend probed, in order, up to the one in use;
   * every earlier one carries the reason it was skipped. After it come the backends that work
   * beside it ({@link #COMPANION} in their details), each with what it computes and why.
   */
  public List<BackendStatus> selection() {
    return selection;
  }

  /** The number of {@link DeviceBuffer}s made by this engine and not yet closed. */
  public int liveBuffers() {
    return live.size();
  }

  // ------------------------------------------------------------------ buffers

  /** A buffer of {@code length} elements of {@code dtype} on this engine's backend. */
  public DeviceBuffer allocate(DType dtype, long length) {
    Objects.requireNonNull(dtype, "dtype");
    if (length < 0) {
      throw new IllegalArgumentException("length is " + length + "; give 0 or more");
    }
    Lock l = enter();
    try {
      Backend on = byType.get(dtype);
      BackendBuffer raw;
      try {
        raw = on.allocate(dtype, length);
      } catch (IllegalArgumentException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new RectifierException(
            on.name()
                + " failed to allocate "
                + length
                + " "
                + dtype.shortName()
                + " elements: "
                + message(e)
                + "; the engine stays usable (close buffers no longer needed, or allocate less)",
            e);
      }
      DeviceBuffer b = new DeviceBuffer(this, raw, caller());
      live.put(b, Boolean.TRUE);
      return b;
    } finally {
      l.unlock();
    }
  }

  /** A new float32 buffer holding a copy of {@code data}. */
  public DeviceBuffer upload(float[] data) {
    DeviceBuffer b = allocate(DType.FLOAT32, data.length);
    b.copyFrom(data);
    return b;
  }

  /** A new float64 buffer holding a copy of {@code data}. */
  public DeviceBuffer upload(double[] data) {
    DeviceBuffer b = allocate(DType.FLOAT64, data.length);
    b.copyFrom(data);
    return b;
  }

  /**
   * A new {@code storage} buffer ({@link DType#FLOAT16} or {@link DType#BFLOAT16}) holding a copy
   * of the bit patterns {@code data}.
   */
  public DeviceBuffer upload(DType storage, short[] data) {
    checkHalf(storage);
    DeviceBuffer b = allocate(storage, data.length);
    b.copyFrom(data);
    return b;
  }

  void copy(DeviceBuffer b, long at, Object array, int offset, int length, boolean toDevice) {
    Lock l = enter();
    try {
      BackendBuffer bb = own(b, toDevice ? "dst" : "src");
      HostArray h;
      if (array instanceof short[] bits) {
        if (!bb.dtype().isHalf()) {
          throw new IllegalArgumentException(
              "the buffer holds "
                  + bb.dtype()
                  + "; short[] arrays are the bit patterns of FLOAT16 and BFLOAT16 buffers");
        }
        DeviceBuffer.checkRange(bits.length, offset, length, toDevice ? "src" : "dst");
        h = new HostArray(bits, offset, length, bb.dtype());
      } else {
        h = DeviceBuffer.host(array, offset, length, toDevice ? "src" : "dst");
      }
      if (h.dtype() != bb.dtype()) {
        throw new IllegalArgumentException(
            "the buffer holds " + bb.dtype() + " but the array is " + h.dtype());
      }
      if (at < 0 || at + length > bb.length()) {
        throw new IllegalArgumentException(
            "elements " + at + ".." + (at + length) + " are outside the buffer of " + bb.length());
      }
      Backend on = byType.get(bb.dtype());
      try {
        if (toDevice) on.upload(h, bb, at);
        else on.download(bb, at, h);
      } catch (IllegalArgumentException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new RectifierException(
            on.name()
                + " failed to copy "
                + length
                + " elements "
                + (toDevice ? "to" : "from")
                + " a buffer: "
                + message(e)
                + "; the engine stays usable",
            e);
      }
    } finally {
      l.unlock();
    }
  }

  void release(DeviceBuffer b) {
    if (live.remove(b) != null) b.rawBuffer().close();
  }

  private BackendBuffer own(DeviceBuffer b, String name) {
    Objects.requireNonNull(b, name);
    if (b.owner() != this) {
      throw new IllegalArgumentException(
          name + " belongs to another Rectifier engine; use buffers of the engine that computes");
    }
    return b.backendBuffer();
  }

  /** The first stack frame outside this library: where a leaked buffer was made. */
  private static String caller() {
    return StackWalker.getInstance()
        .walk(
            s ->
                s.filter(f -> !f.getClassName().startsWith("dev.rectifier.Rectifier"))
                    .filter(f -> !f.getClassName().startsWith("dev.rectifier.DeviceBuffer"))
                    .findFirst()
                    .map(StackWalker.StackFrame::toStackTraceElement)
                    .map(StackTraceElement::toString)
                    .orElse("an unknown place"));
  }

  // ------------------------------------------------------------------ forward

  /** {@code y = f(x)} over whole arrays (a one-dimensional tensor). */
  public void forward(Activation f, float[] x, float[] y) {
    wholeVector(f, Objects.requireNonNull(x, "x").length, y, null);
    forward(f, x, 0, y, 0, x.length);
  }

  /** {@code y = f(x)} over whole arrays (a one-dimensional tensor). */
  public void forward(Activation f, double[] x, double[] y) {
    wholeVector(f, Objects.requireNonNull(x, "x").length, y, null);
    forward(f, x, 0, y, 0, x.length);
  }

  /** {@code y[yOffset..] = f(x[xOffset..])} over {@code length} elements. */
  public void forward(Activation f, float[] x, int xOffset, float[] y, int yOffset, int length) {
    forwardArrays(f, Shape.vector(length), x, xOffset, null, y, yOffset);
  }

  /** {@code y[yOffset..] = f(x[xOffset..])} over {@code length} elements. */
  public void forward(Activation f, double[] x, int xOffset, double[] y, int yOffset, int length) {
    forwardArrays(f, Shape.vector(length), x, xOffset, null, y, yOffset);
  }

  /** {@code y = f(x)} for a tensor of {@code shape} (whole arrays). */
  public void forward(Activation f, Shape shape, float[] x, float[] y) {
    whole(f, shape, x, y, null, null);
    forwardArrays(f, shape, x, 0, null, y, 0);
  }

  /** {@code y = f(x)} for a tensor of {@code shape} (whole arrays). */
  public void forward(Activation f, Shape shape, double[] x, double[] y) {
    whole(f, shape, x, y, null, null);
    forwardArrays(f, shape, x, 0, null, y, 0);
  }

  /** PReLU: {@code y = x < 0 ? weight[c]*x : x}, one weight per channel (or one). */
  public void forward(Activation f, Shape shape, float[] x, float[] weight, float[] y) {
    whole(f, shape, x, y, null, null);
    forwardArrays(f, shape, x, 0, Objects.requireNonNull(weight, "weight"), y, 0);
  }

  /** PReLU: {@code y = x < 0 ? weight[c]*x : x}, one weight per channel (or one). */
  public void forward(Activation f, Shape shape, double[] x, double[] weight, double[] y) {
    whole(f, shape, x, y, null, null);
    forwardArrays(f, shape, x, 0, Objects.requireNonNull(weight, "weight"), y, 0);
  }

  /** {@code y = f(x)} on buffers of this engine. */
  public void forward(Activation f, Shape shape, DeviceBuffer x, DeviceBuffer y) {
    forward(f, shape, x, null, y);
  }

  /** {@code y = f(x)} on buffers of this engine; {@code weight} is PReLU's, null otherwise. */
  public void forward(
      Activation f, Shape shape, DeviceBuffer x, DeviceBuffer weight, DeviceBuffer y) {
    forwardBuffers(f, shape, x, weight, y, null);
  }

  /**
   * The forward on buffers; with {@code stats} (which makes the records for {@code y}'s type and
   * shape), the records it wrote, else null.
   */
  private Records forwardBuffers(
      Activation f,
      Shape shape,
      DeviceBuffer x,
      DeviceBuffer weight,
      DeviceBuffer y,
      java.util.function.BiFunction<DType, Shape, Records> stats) {
    Lock l = enter();
    try {
      Operand xo = own(x, "x");
      Operand wo = weight == null ? null : own(weight, "weight");
      Operand yo = own(y, "y");
      checkForward(f, shape, xo, wo, yo);
      checkOverlaps(f, new Object[] {y}, new Object[] {x, weight});
      if (xo.dtype().isHalf() && stats != null) throw halfRefused("statistics", xo.dtype());
      Backend b = on(xo.dtype());
      Records r = stats == null ? null : stats.apply(xo.dtype(), f.outputShape(shape));
      try {
        if (xo.dtype().isHalf()) halfForwardBuffers(b, f, shape, xo, wo, yo);
        else if (r == null) b.forward(f, shape, xo, wo, yo);
        else r.run(b, f, shape, xo, wo, yo);
      } catch (RuntimeException e) {
        String op = r == null ? "forward" : r.what();
        throw failure(e, b, op, f, xo, "buffers", ON_BUFFERS);
      }
      return r;
    } finally {
      l.unlock();
    }
  }

  private void forwardArrays(
      Activation f, Shape shape, Object x, int xOffset, Object weight, Object y, int yOffset) {
    forwardArrays(f, shape, x, xOffset, weight, y, yOffset, null);
  }

  /**
   * The forward on host arrays; with {@code stats} (which makes the records for {@code y}'s type
   * and shape), the records it wrote, else null.
   */
  private Records forwardArrays(
      Activation f,
      Shape shape,
      Object x,
      int xOffset,
      Object weight,
      Object y,
      int yOffset,
      java.util.function.BiFunction<DType, Shape, Records> stats) {
    Objects.requireNonNull(f, "activation");
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(x, "x");
    Objects.requireNonNull(y, "y");
    Shape out = f.outputShape(shape);
    HostArray xo = DeviceBuffer.host(x, xOffset, sizeOf(shape, "x"), "x");
    HostArray wo = weight == null ? null : DeviceBuffer.host(weight, 0, length(weight), "weight");
    HostArray yo = DeviceBuffer.host(y, yOffset, sizeOf(out, "y"), "y");
    Lock l = enter();
    try {
      checkForward(f, shape, xo, wo, yo);
      checkOverlaps(f, new Object[] {yo}, new Object[] {xo, wo});
      if (stats == null) {
        onHostArrays(
            "forward",
            f,
            xo,
            new HostArray[] {yo},
            read(f, yo, xo, wo),
            b -> b.forward(f, shape, xo, wo, yo));
        return null;
      }
      Records r = stats.apply(xo.dtype(), out);
      onHostArrays(
          r.what(),
          f,
          xo,
          new HostArray[] {yo, r.sums, r.counts},
          read(f, yo, xo, wo),
          b -> r.run(b, f, shape, xo, wo, yo));
      return r;
    } finally {
      l.unlock();
    }
  }

  // ------------------------------------------------------------------ backward

  /** {@code gradInput = gradOutput * f'(x)} over whole arrays (a one-dimensional tensor). */
  public void backward(Activation f, float[] x, float[] gradOutput, float[] gradInput) {
    wholeVector(f, Objects.requireNonNull(x, "x").length, gradOutput, gradInput);
    backward(f, x, 0, gradOutput, 0, gradInput, 0, x.length);
  }

  /** {@code gradInput = gradOutput * f'(x)} over whole arrays (a one-dimensional tensor). */
  public void backward(Activation f, double[] x, double[] gradOutput, double[] gradInput) {
    wholeVector(f, Objects.requireNonNull(x, "x").length, gradOutput, gradInput);
    backward(f, x, 0, gradOutput, 0, gradInput, 0, x.length);
  }

  /** {@code gradInput = gradOutput * f'(x)} over {@code length} elements of each array. */
  public void backward(
      Activation f,
      float[] x,
      int xOffset,
      float[] gradOutput,
      int gradOutputOffset,
      float[] gradInput,
      int gradInputOffset,
      int length) {
    backwardArrays(
        f,
        Shape.vector(length),
        x,
        xOffset,
        null,
        gradOutput,
        gradOutputOffset,
        gradInput,
        gradInputOffset,
        null);
  }

  /** {@code gradInput = gradOutput * f'(x)} over {@code length} elements of each array. */
  public void backward(
      Activation f,
      double[] x,
      int xOffset,
      double[] gradOutput,
      int gradOutputOffset,
      double[] gradInput,
      int gradInputOffset,
      int length) {
    backwardArrays(
        f,
        Shape.vector(length),
        x,
        xOffset,
        null,
        gradOutput,
        gradOutputOffset,
        gradInput,
        gradInputOffset,
        null);
  }

  /** Backward for a tensor of {@code shape}; {@code gradOutput} has {@code f}'s output shape. */
  public void backward(
      Activation f, Shape shape, float[] x, float[] gradOutput, float[] gradInput) {
    whole(f, shape, x, null, gradOutput, gradInput);
    backwardArrays(f, shape, x, 0, null, gradOutput, 0, gradInput, 0, null);
  }

  /** Backward for a tensor of {@code shape}; {@code gradOutput} has {@code f}'s output shape. */
  public void backward(
      Activation f, Shape shape, double[] x, double[] gradOutput, double[] gradInput) {
    whole(f, shape, x, null, gradOutput, gradInput);
    backwardArrays(f, shape, x, 0, null, gradOutput, 0, gradInput, 0, null);
  }

  /**
   * PReLU backward: {@code gradInput = x > 0 ? gradOutput : weight[c]*gradOutput} and {@code
   * gradWeight[c]} the sum of {@code gradOutput*x} over channel c where {@code !(x > 0)}, in a
   * fixed order (the same result for any thread count).
   */
  public void backward(
      Activation f,
      Shape shape,
      float[] x,
      float[] weight,
      float[] gradOutput,
      float[] gradInput,
      float[] gradWeight) {
    whole(f, shape, x, null, gradOutput, gradInput);
    backwardArrays(
        f,
        shape,
        x,
        0,
        Objects.requireNonNull(weight, "weight"),
        gradOutput,
        0,
        gradInput,
        0,
        Objects.requireNonNull(gradWeight, "gradWeight"));
  }

  /** PReLU backward; see the float overload. */
  public void backward(
      Activation f,
      Shape shape,
      double[] x,
      double[] weight,
      double[] gradOutput,
      double[] gradInput,
      double[] gradWeight) {
    whole(f, shape, x, null, gradOutput, gradInput);
    backwardArrays(
        f,
        shape,
        x,
        0,
        Objects.requireNonNull(weight, "weight"),
        gradOutput,
        0,
        gradInput,
        0,
        Objects.requireNonNull(gradWeight, "gradWeight"));
  }

  /** Backward on buffers of this engine. */
  public void backward(
      Activation f, Shape shape, DeviceBuffer x, DeviceBuffer gradOutput, DeviceBuffer gradInput) {
    backward(f, shape, x, null, gradOutput, gradInput, null);
  }

  /** Backward on buffers of this engine; {@code weight} and {@code gradWeight} for PReLU only. */
  public void backward(
      Activation f,
      Shape shape,
      DeviceBuffer x,
      DeviceBuffer weight,
      DeviceBuffer gradOutput,
      DeviceBuffer gradInput,
      DeviceBuffer gradWeight) {
    Lock l = enter();
    try {
      Operand xo = own(x, "x");
      Operand wo = weight == null ? null : own(weight, "weight");
      Operand go = own(gradOutput, "gradOutput");
      Operand dxo = own(gradInput, "gradInput");
      Operand gwo = gradWeight == null ? null : own(gradWeight, "gradWeight");
      checkBackward(f, shape, xo, wo, go, dxo, gwo);
      checkOverlaps(f, new Object[] {gradInput, gradWeight}, new Object[] {x, weight, gradOutput});
      Backend b = on(xo.dtype());
      try {
        if (xo.dtype().isHalf()) halfBackwardBuffers(b, f, shape, xo, wo, go, dxo, gwo);
        else b.backward(f, shape, xo, wo, go, dxo, gwo);
      } catch (RuntimeException e) {
        throw failure(e, b, "backward", f, xo, "buffers", ON_BUFFERS);
      }
    } finally {
      l.unlock();
    }
  }

  private void backwardArrays(
      Activation f,
      Shape shape,
      Object x,
      int xOffset,
      Object weight,
      Object g,
      int gOffset,
      Object dx,
      int dxOffset,
      Object gw) {
    Objects.requireNonNull(f, "activation");
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(x, "x");
    Objects.requireNonNull(g, "gradOutput");
    Objects.requireNonNull(dx, "gradInput");
    Shape out = f.outputShape(shape);
    HostArray xo = DeviceBuffer.host(x, xOffset, sizeOf(shape, "x"), "x");
    HostArray wo = weight == null ? null : DeviceBuffer.host(weight, 0, length(weight), "weight");
    HostArray go = DeviceBuffer.host(g, gOffset, sizeOf(out, "gradOutput"), "gradOutput");
    HostArray dxo = DeviceBuffer.host(dx, dxOffset, sizeOf(shape, "gradInput"), "gradInput");
    HostArray gwo = gw == null ? null : DeviceBuffer.host(gw, 0, length(gw), "gradWeight");
    Lock l = enter();
    try {
      checkBackward(f, shape, xo, wo, go, dxo, gwo);
      checkOverlaps(f, new Object[] {dxo, gwo}, new Object[] {xo, wo, go});
      onHostArrays(
          "backward",
          f,
          xo,
          new HostArray[] {dxo, gwo},
          read(f, dxo, xo, wo, go),
          b -> b.backward(f, shape, xo, wo, go, dxo, gwo));
    } finally {
      l.unlock();
    }
  }

  // ------------------------------------------------------------------ float16 and bfloat16 storage

  /** Elements a split float16/bfloat16 call widens at a time: 8 MiB of float64 per array. */
  private static final int HALF_CHUNK = 1 << 20;

  /**
   * {@code y = f(x)} over whole {@code short[]} arrays holding {@code storage} bit patterns ({@link
   * DType#FLOAT16} or {@link DType#BFLOAT16}; {@link DType#encode} and {@link DType#decode} convert
   * one value).
   *
   * <p>Each element is widened exactly, computed by this engine's float64 path (with the parameters
   * as float64: they are not rounded to the storage type) and rounded once to the nearest {@code
   * storage} value, ties to even. That is the correctly rounded {@code f(x)} unless the float64
   * value lies within its few ULPs of error of a midpoint between two {@code storage} values, which
   * none of the 65,536 inputs of either type does for any function (the tests check every one), but
   * where a smooth function's {@code c x} for a tiny {@code x} lands exactly on one (bfloat16's
   * least normals) and float64 has lost the {@code d x^2} that decides the side: that tie goes to
   * the side of {@code f''(0)}. Blending ({@link Activation#blend}) is done in float64, before the
   * rounding.
   *
   * <p>The backend that computes float64 ({@link #backend(DType)}) computes; where it cannot (an
   * OpenCL device without fp64, forced), the call is refused rather than rounded twice through
   * float32. Functions that may be split ({@link Activation#splittable}) widen {@value #HALF_CHUNK}
   * elements at a time, the channel functions and RReLU in training the whole tensor. Thread-safety
   * and in-place rules are those of the float overloads; the arrays are borrowed for the call.
   * Device buffers do not hold these types.
   */
  public void forward(Activation f, DType storage, short[] x, short[] y) {
    wholeVector(f, Objects.requireNonNull(x, "x").length, y, null);
    forward(f, storage, x, 0, y, 0, x.length);
  }

  /**
   * float16/bfloat16 {@code y[yOffset..] = f(x[xOffset..])}; see {@link #forward(Activation, DType,
   * short[], short[])}.
   */
  public void forward(
      Activation f, DType storage, short[] x, int xOffset, short[] y, int yOffset, int length) {
    halfForward(f, storage, Shape.vector(length), x, xOffset, null, y, yOffset);
  }

  /**
   * float16/bfloat16 {@code y = f(x)} for a tensor of {@code shape}; see {@link
   * #forward(Activation, DType, short[], short[])}.
   */
  public void forward(Activation f, DType storage, Shape shape, short[] x, short[] y) {
    whole(f, shape, x, y, null, null);
    halfForward(f, storage, shape, x, 0, null, y, 0);
  }

  /** float16/bfloat16 PReLU forward, one weight per channel (or one), of {@code storage} too. */
  public void forward(
      Activation f, DType storage, Shape shape, short[] x, short[] weight, short[] y) {
    whole(f, shape, x, y, null, null);
    halfForward(f, storage, shape, x, 0, Objects.requireNonNull(weight, "weight"), y, 0);
  }

  /**
   * float16/bfloat16 {@code gradInput = gradOutput * f'(x)} over whole arrays: computed in float64
   * and rounded once, as {@link #forward(Activation, DType, short[], short[])} says.
   */
  public void backward(
      Activation f, DType storage, short[] x, short[] gradOutput, short[] gradInput) {
    wholeVector(f, Objects.requireNonNull(x, "x").length, gradOutput, gradInput);
    backward(f, storage, x, 0, gradOutput, 0, gradInput, 0, x.length);
  }

  /** float16/bfloat16 backward over {@code length} elements of each array. */
  public void backward(
      Activation f,
      DType storage,
      short[] x,
      int xOffset,
      short[] gradOutput,
      int gradOutputOffset,
      short[] gradInput,
      int gradInputOffset,
      int length) {
    halfBackward(
        f,
        storage,
        Shape.vector(length),
        x,
        xOffset,
        null,
        gradOutput,
        gradOutputOffset,
        gradInput,
        gradInputOffset,
        null);
  }

  /** float16/bfloat16 backward for a tensor of {@code shape}. */
  public void backward(
      Activation f, DType storage, Shape shape, short[] x, short[] gradOutput, short[] gradInput) {
    whole(f, shape, x, null, gradOutput, gradInput);
    halfBackward(f, storage, shape, x, 0, null, gradOutput, 0, gradInput, 0, null);
  }

  /**
   * float16/bfloat16 PReLU backward: {@code gradWeight[c]} is summed in float64 in the float64
   * path's order and rounded once.
   */
  public void backward(
      Activation f,
      DType storage,
      Shape shape,
      short[] x,
      short[] weight,
      short[] gradOutput,
      short[] gradInput,
      short[] gradWeight) {
    halfBackward(
        f,
        storage,
        shape,
        x,
        0,
        Objects.requireNonNull(weight, "weight"),
        gradOutput,
        0,
        gradInput,
        0,
        Objects.requireNonNull(gradWeight, "gradWeight"));
  }

  /** A range of a {@code short[]} (or of any host array): what the overlap checks compare. */
  private record Span(Object array, int offset, int length) {}

  private static Span span(short[] a, int offset, int length, String name) {
    DeviceBuffer.checkRange(a.length, offset, length, name);
    return new Span(a, offset, length);
  }

  /** Refuses a type that is not a 16-bit storage type. */
  private static void checkHalf(DType storage) {
    Objects.requireNonNull(storage, "storage");
    if (!storage.isHalf()) {
      throw new IllegalArgumentException(
          "storage is "
              + storage
              + "; short[] arrays hold FLOAT16 or BFLOAT16 bit patterns (float[] and double[]"
              + " have overloads of their own)");
    }
  }

  /** Refuses an engine whose float64 backend cannot compute: the storage types compute in it. */
  private void checkComputesHalf(DType storage) {
    Backend b = byType.get(DType.FLOAT64);
    String why = b.unsupported(DType.FLOAT64);
    if (why != null) {
      throw new RectifierException(
          storage.name().toLowerCase(Locale.ROOT)
              + " is computed in float64, which cannot run on backend '"
              + b.name()
              + "': "
              + why
              + "; choose the cpu backend (or auto, which computes float64 on the next backend that"
              + " can)");
    }
  }

  private void halfForward(
      Activation f,
      DType t,
      Shape shape,
      short[] x,
      int xOffset,
      short[] w,
      short[] y,
      int yOffset) {
    Objects.requireNonNull(f, "activation");
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(x, "x");
    Objects.requireNonNull(y, "y");
    checkHalf(t);
    int n = sizeOf(shape, "x");
    int m = sizeOf(f.outputShape(shape), "y");
    Span ys = span(y, yOffset, m, "y");
    Span ws = w == null ? null : span(w, 0, w.length, "weight");
    checkOverlaps(f, new Object[] {ys}, new Object[] {span(x, xOffset, n, "x"), ws});
    checkComputesHalf(t);
    if (!f.splittable() || w != null) { // a weight for another function: forwardArrays refuses it
      double[] wy = f.readsOutput() ? HalfFloats.widen(t, y, yOffset, m) : new double[m];
      double[] ww = w == null ? null : HalfFloats.widen(t, w, 0, w.length);
      forwardArrays(f, shape, HalfFloats.widen(t, x, xOffset, n), 0, ww, wy, 0);
      HalfFloats.narrow(t, wy, y, yOffset);
      return;
    }
    // one pair of float64 parts for the whole call, not a fresh pair (8 MiB each) per part
    double[] wx = new double[Math.min(HALF_CHUNK, n)];
    double[] wy = new double[wx.length];
    int sign = HalfFloats.secondOrderSign(f);
    for (int at = 0; at < n || at == 0; at += HALF_CHUNK) { // n = 0: one call, for its checks
      int len = Math.min(HALF_CHUNK, n - at);
      if (f.readsOutput()) HalfFloats.widen(t, y, yOffset + at, wy, len);
      HalfFloats.widen(t, x, xOffset + at, wx, len);
      forward(f, wx, 0, wy, 0, len);
      HalfFloats.breakTies(t, sign, wx, wy, len);
      HalfFloats.narrow(t, wy, len, y, yOffset + at);
    }
  }

  private void halfBackward(
      Activation f,
      DType t,
      Shape shape,
      short[] x,
      int xOffset,
      short[] w,
      short[] g,
      int gOffset,
      short[] dx,
      int dxOffset,
      short[] gw) {
    Objects.requireNonNull(f, "activation");
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(x, "x");
    Objects.requireNonNull(g, "gradOutput");
    Objects.requireNonNull(dx, "gradInput");
    checkHalf(t);
    int n = sizeOf(shape, "x");
    int m = sizeOf(f.outputShape(shape), "gradOutput");
    Span dxs = span(dx, dxOffset, n, "gradInput");
    Span gws = gw == null ? null : span(gw, 0, gw.length, "gradWeight");
    Span ws = w == null ? null : span(w, 0, w.length, "weight");
    checkOverlaps(
        f,
        new Object[] {dxs, gws},
        new Object[] {span(x, xOffset, n, "x"), ws, span(g, gOffset, m, "gradOutput")});
    checkComputesHalf(t);
    if (!f.splittable() || w != null || gw != null) {
      double[] wdx = f.readsOutput() ? HalfFloats.widen(t, dx, dxOffset, n) : new double[n];
      double[] wgw = gw == null ? null : new double[gw.length];
      backwardArrays(
          f,
          shape,
          HalfFloats.widen(t, x, xOffset, n),
          0,
          w == null ? null : HalfFloats.widen(t, w, 0, w.length),
          HalfFloats.widen(t, g, gOffset, m),
          0,
          wdx,
          0,
          wgw);
      HalfFloats.narrow(t, wdx, dx, dxOffset);
      if (gw != null) HalfFloats.narrow(t, wgw, gw, 0);
      return;
    }
    double[] wx = new double[Math.min(HALF_CHUNK, n)]; // as forward: one set for the call
    double[] wg = new double[wx.length];
    double[] wdx = new double[wx.length];
    for (int at = 0; at < n || at == 0; at += HALF_CHUNK) {
      int len = Math.min(HALF_CHUNK, n - at);
      if (f.readsOutput()) HalfFloats.widen(t, dx, dxOffset + at, wdx, len);
      HalfFloats.widen(t, x, xOffset + at, wx, len);
      HalfFloats.widen(t, g, gOffset + at, wg, len);
      backward(f, wx, 0, wg, 0, wdx, 0, len);
      HalfFloats.narrow(t, wdx, len, dx, dxOffset + at);
    }
  }

  /** What 16-bit buffers do not have yet, refused in one line. */
  private static IllegalArgumentException halfRefused(String what, DType t) {
    return new IllegalArgumentException(
        what
            + ": not there yet for "
            + t.shortName()
            + " buffers (16-bit buffers compute forward and backward); use FLOAT32 or FLOAT64"
            + " buffers for this call");
  }

  /**
   * float64 buffers on the backend that computes a 16-bit call, by role, made as the call needs
   * them (a part's length at a time) and freed when it ends.
   */
  private static final class Widened implements AutoCloseable {
    private final Backend b;
    private final List<BackendBuffer> made = new ArrayList<>();
    private final Map<String, BackendBuffer> byRole = new java.util.HashMap<>();

    Widened(Backend b) {
      this.b = b;
    }

    /** A float64 buffer of {@code length} elements for {@code role}, contents unspecified. */
    Operand buffer(String role, long length) {
      BackendBuffer have = byRole.get(role);
      if (have != null && have.length() == length) return have;
      BackendBuffer fresh = b.allocate(DType.FLOAT64, length);
      made.add(fresh);
      byRole.put(role, fresh);
      return fresh;
    }

    /** Elements {@code [from, from + length)} of {@code half}, widened into {@code role}'s. */
    Operand widened(String role, Operand half, long from, long length) {
      Operand w = buffer(role, length);
      b.widen(half, from, w);
      return w;
    }

    @Override
    public void close() {
      for (BackendBuffer m : made) m.close();
    }
  }

  /**
   * The short[] forward's steps on 16-bit buffers, all on the backend {@code b} that computes
   * float64 (on a device, nothing crosses its bus): a part of {@value #HALF_CHUNK} elements at a
   * time (the whole tensor where the function needs it) widened into float64 buffers, computed by
   * {@code b}'s float64 forward, rounded back once into {@code y}.
   */
  private static void halfForwardBuffers(
      Backend b, Activation f, Shape shape, Operand x, Operand w, Operand y) {
    long n = x.length();
    long m = y.length();
    if (n == 0) return;
    try (Widened wide = new Widened(b)) {
      if (!f.splittable() || w != null) {
        Operand wx = wide.widened("x", x, 0, n);
        Operand ww = w == null ? null : wide.widened("weight", w, 0, w.length());
        Operand wy = f.readsOutput() ? wide.widened("y", y, 0, m) : wide.buffer("y", m);
        b.forward(f, shape, wx, ww, wy);
        b.narrow(wy, null, 0, y, 0);
        return;
      }
      int sign = HalfFloats.secondOrderSign(f);
      for (long at = 0; at < n; at += HALF_CHUNK) {
        long len = Math.min(HALF_CHUNK, n - at);
        Operand wx = wide.widened("x", x, at, len);
        Operand wy = f.readsOutput() ? wide.widened("y", y, at, len) : wide.buffer("y", len);
        b.forward(f, Shape.vector((int) len), wx, null, wy);
        b.narrow(wy, wx, sign, y, at);
      }
    }
  }

  /** The short[] backward's steps on 16-bit buffers; see {@link #halfForwardBuffers}. */
  private static void halfBackwardBuffers(
      Backend b,
      Activation f,
      Shape shape,
      Operand x,
      Operand w,
      Operand g,
      Operand dx,
      Operand gw) {
    long n = x.length();
    long m = g.length();
    if (n == 0) return;
    try (Widened wide = new Widened(b)) {
      if (!f.splittable() || w != null || gw != null) {
        Operand wx = wide.widened("x", x, 0, n);
        Operand ww = w == null ? null : wide.widened("weight", w, 0, w.length());
        Operand wg = wide.widened("gradOutput", g, 0, m);
        Operand wdx =
            f.readsOutput() ? wide.widened("gradInput", dx, 0, n) : wide.buffer("gradInput", n);
        Operand wgw = gw == null ? null : wide.buffer("gradWeight", gw.length());
        b.backward(f, shape, wx, ww, wg, wdx, wgw);
        b.narrow(wdx, null, 0, dx, 0);
        if (gw != null) b.narrow(wgw, null, 0, gw, 0);
        return;
      }
      for (long at = 0; at < n; at += HALF_CHUNK) {
        long len = Math.min(HALF_CHUNK, n - at);
        Operand wx = wide.widened("x", x, at, len);
        Operand wg = wide.widened("gradOutput", g, at, len);
        Operand wdx =
            f.readsOutput()
                ? wide.widened("gradInput", dx, at, len)
                : wide.buffer("gradInput", len);
        b.backward(f, Shape.vector((int) len), wx, null, wg, wdx, null);
        b.narrow(wdx, null, 0, dx, at);
      }
    }
  }

  // ------------------------------------------------------------------ backward from the output

  /**
   * Backward from the output, as oneDNN's {@code use_dst_for_bwd}: {@code gradInput = gradOutput *
   * f'(x)} computed from {@code y = f(x)}, so a training loop can run the forward in place and drop
   * {@code x}. Only for the functions whose {@code f'} is a function of {@code y} ({@link
   * Activation#backwardFromOutputAllowed}: relu, leaky_relu with slope >= 0, rrelu, relu6,
   * hardtanh, threshold with value <= threshold, bit for bit the gradients from {@code x}; elu with
   * alpha >= 0 as {@code gradOutput * (y + alpha)}); the others are refused with the reason. {@code
   * y} must be the plain {@code f(x)} (not blended). Blending ({@link Activation#blend}) applies to
   * {@code gradInput}; {@code gradInput} may be {@code y} or {@code gradOutput} (in place).
   */
  public void backwardFromOutput(Activation f, float[] y, float[] gradOutput, float[] gradInput) {
    sameLengths(Objects.requireNonNull(y, "y").length, gradOutput, gradInput);
    backwardFromOutput(f, y, 0, gradOutput, 0, gradInput, 0, y.length);
  }

  /** Backward from the output in float64; see the float overload. */
  public void backwardFromOutput(
      Activation f, double[] y, double[] gradOutput, double[] gradInput) {
    sameLengths(Objects.requireNonNull(y, "y").length, gradOutput, gradInput);
    backwardFromOutput(f, y, 0, gradOutput, 0, gradInput, 0, y.length);
  }

  /** Backward from the output over {@code length} elements of each array. */
  public void backwardFromOutput(
      Activation f,
      float[] y,
      int yOffset,
      float[] gradOutput,
      int gradOutputOffset,
      float[] gradInput,
      int gradInputOffset,
      int length) {
    backwardFromOutputArrays(
        f, y, yOffset, gradOutput, gradOutputOffset, gradInput, gradInputOffset, length);
  }

  /** Backward from the output over {@code length} elements of each array, in float64. */
  public void backwardFromOutput(
      Activation f,
      double[] y,
      int yOffset,
      double[] gradOutput,
      int gradOutputOffset,
      double[] gradInput,
      int gradInputOffset,
      int length) {
    backwardFromOutputArrays(
        f, y, yOffset, gradOutput, gradOutputOffset, gradInput, gradInputOffset, length);
  }

  /** Backward from the output on buffers of this engine; see the float overload. */
  public void backwardFromOutput(
      Activation f, DeviceBuffer y, DeviceBuffer gradOutput, DeviceBuffer gradInput) {
    requireFromOutput(f);
    Lock l = enter();
    try {
      Operand yo = own(y, "y");
      Operand go = own(gradOutput, "gradOutput");
      Operand dxo = own(gradInput, "gradInput");
      checkFromOutput(yo, go, dxo);
      if (yo.dtype().isHalf()) throw halfRefused("backward from the output", yo.dtype());
      checkOverlaps(f, new Object[] {gradInput}, new Object[] {y, gradOutput});
      Backend b = on(yo.dtype());
      try {
        b.backwardFromOutput(f, yo, go, dxo);
      } catch (RuntimeException e) {
        throw failure(e, b, "backward from the output", f, yo, "buffers", ON_BUFFERS);
      }
    } finally {
      l.unlock();
    }
  }

  private void backwardFromOutputArrays(
      Activation f, Object y, int yOffset, Object g, int gOffset, Object dx, int dxOffset, int n) {
    requireFromOutput(f);
    Objects.requireNonNull(y, "y");
    Objects.requireNonNull(g, "gradOutput");
    Objects.requireNonNull(dx, "gradInput");
    HostArray yo = DeviceBuffer.host(y, yOffset, n, "y");
    HostArray go = DeviceBuffer.host(g, gOffset, n, "gradOutput");
    HostArray dxo = DeviceBuffer.host(dx, dxOffset, n, "gradInput");
    Lock l = enter();
    try {
      checkFromOutput(yo, go, dxo);
      checkOverlaps(f, new Object[] {dxo}, new Object[] {yo, go});
      onHostArrays(
          "backward from the output",
          f,
          yo,
          new HostArray[] {dxo},
          read(f, dxo, yo, go),
          b -> b.backwardFromOutput(f, yo, go, dxo));
    } finally {
      l.unlock();
    }
  }

  private static void requireFromOutput(Activation f) {
    Objects.requireNonNull(f, "activation");
    String why = f.whyNotBackwardFromOutput();
    if (why != null) {
      throw new IllegalArgumentException(
          "backward from the output: " + f + " cannot: " + why + "; run backward from x");
    }
  }

  private static void checkFromOutput(Operand y, Operand g, Operand dx) {
    checkFloat("y", y);
    checkOperand("gradOutput", g, y.length(), y.dtype(), "y");
    checkOperand("gradInput", dx, y.length(), y.dtype(), "y");
  }

  // ------------------------------------------------------------------ 1-bit masks

  /** The words of a 1-bit mask over {@code n} elements: {@code ceil(n / 32)}. */
  public static long maskWords(long n) {
    if (n < 0) throw new IllegalArgumentException("n is " + n + "; give 0 or more");
    return (n + 31) >>> 5;
  }

  /**
   * {@code y = f(x)} and its 1-bit mask, which {@link #backwardFromMask} takes in place of {@code
   * x}: 32 times smaller than a float32 copy of {@code x}, so a training loop can run the forward
   * in place and keep only the mask. For relu, leaky_relu, relu6 and hardtanh ({@link
   * Activation#maskAllowed}, which says what a bit means); the others are refused with the reason.
   * Element {@code i}'s bit is bit {@code i & 31} of {@code mask[i >>> 5]}; the bits past the last
   * element are 0. {@code mask} has exactly {@link #maskWords}{@code (x.length)} words; {@code y}
   * may be {@code x} (in place: the bits are taken from {@code x} first); {@code y} is blended as
   * {@link Activation#blend} says, the mask is written.
   */
  public void forward(Activation f, float[] x, float[] y, int[] mask) {
    forwardWithMaskArrays(f, x, y, mask);
  }

  /** {@code y = f(x)} and its 1-bit mask in float64; see the float overload. */
  public void forward(Activation f, double[] x, double[] y, int[] mask) {
    forwardWithMaskArrays(f, x, y, mask);
  }

  /**
   * {@code y = f(x)} and its 1-bit mask on buffers of this engine: {@code mask} is an {@link
   * DType#INT32} buffer of {@link #maskWords}{@code (x.length())} words; see the float overload.
   */
  public void forward(Activation f, DeviceBuffer x, DeviceBuffer y, DeviceBuffer mask) {
    requireMask(f);
    Lock l = enter();
    try {
      Operand xo = own(x, "x");
      Operand yo = own(y, "y");
      Operand mo = own(mask, "mask");
      checkFloat("x", xo);
      if (xo.dtype().isHalf()) throw halfRefused("1-bit masks", xo.dtype());
      checkOperand("y", yo, xo.length(), xo.dtype());
      checkMask(mo, xo.length());
      checkOverlaps(f, new Object[] {y}, new Object[] {x});
      Backend b = on(xo.dtype());
      checkMaskLives(b, xo.dtype());
      try {
        b.forwardWithMask(f, xo, yo, mo);
      } catch (RuntimeException e) {
        throw failure(e, b, "forward with a mask", f, xo, "buffers", ON_BUFFERS);
      }
    } finally {
      l.unlock();
    }
  }

  /**
   * Backward from the 1-bit mask that {@link #forward(Activation, float[], float[], int[])} wrote:
   * {@code gradInput = gradOutput} where the bit is set, else {@code slope * gradOutput} for
   * leaky_relu and {@code +0} for relu, relu6 and hardtanh; bit for bit the gradient from {@code x}
   * where {@code x} was not NaN ({@link Activation#maskAllowed}). {@code f} must be the forward's
   * function with the same parameters. Blending applies to {@code gradInput}, which may be {@code
   * gradOutput} (in place).
   */
  public void backwardFromMask(Activation f, int[] mask, float[] gradOutput, float[] gradInput) {
    backwardFromMaskArrays(f, mask, gradOutput, gradInput);
  }

  /** Backward from a 1-bit mask in float64; see the float overload. */
  public void backwardFromMask(Activation f, int[] mask, double[] gradOutput, double[] gradInput) {
    backwardFromMaskArrays(f, mask, gradOutput, gradInput);
  }

  /** Backward from a 1-bit mask on buffers of this engine; see the float overload. */
  public void backwardFromMask(
      Activation f, DeviceBuffer mask, DeviceBuffer gradOutput, DeviceBuffer gradInput) {
    requireMask(f);
    Lock l = enter();
    try {
      Operand mo = own(mask, "mask");
      Operand go = own(gradOutput, "gradOutput");
      Operand dxo = own(gradInput, "gradInput");
      checkFloat("gradOutput", go);
      if (go.dtype().isHalf()) throw halfRefused("1-bit masks", go.dtype());
      checkOperand("gradInput", dxo, go.length(), go.dtype(), "gradOutput");
      checkMask(mo, go.length());
      checkOverlaps(f, new Object[] {gradInput}, new Object[] {gradOutput});
      Backend b = on(go.dtype());
      checkMaskLives(b, go.dtype());
      try {
        b.backwardFromMask(f, mo, go, dxo);
      } catch (RuntimeException e) {
        throw failure(e, b, "backward from a mask", f, go, "buffers", ON_BUFFERS);
      }
    } finally {
      l.unlock();
    }
  }

  private void forwardWithMaskArrays(Activation f, Object x, Object y, int[] mask) {
    requireMask(f);
    Objects.requireNonNull(x, "x");
    Objects.requireNonNull(y, "y");
    Objects.requireNonNull(mask, "mask");
    int n = length(x);
    HostArray xo = DeviceBuffer.host(x, 0, n, "x");
    HostArray yo = DeviceBuffer.host(y, 0, length(y), "y");
    HostArray mo = DeviceBuffer.host(mask, 0, mask.length, "mask");
    Lock l = enter();
    try {
      checkOperand("y", yo, n, xo.dtype());
      checkMask(mo, n);
      checkOverlaps(f, new Object[] {yo}, new Object[] {xo});
      onHostArrays(
          "forward with a mask",
          f,
          xo,
          new HostArray[] {yo, mo},
          read(f, yo, xo),
          b -> b.forwardWithMask(f, xo, yo, mo));
    } finally {
      l.unlock();
    }
  }

  private void backwardFromMaskArrays(Activation f, int[] mask, Object g, Object dx) {
    requireMask(f);
    Objects.requireNonNull(mask, "mask");
    Objects.requireNonNull(g, "gradOutput");
    Objects.requireNonNull(dx, "gradInput");
    int n = length(g);
    HostArray mo = DeviceBuffer.host(mask, 0, mask.length, "mask");
    HostArray go = DeviceBuffer.host(g, 0, n, "gradOutput");
    HostArray dxo = DeviceBuffer.host(dx, 0, length(dx), "gradInput");
    Lock l = enter();
    try {
      checkOperand("gradInput", dxo, n, go.dtype(), "gradOutput");
      checkMask(mo, n);
      checkOverlaps(f, new Object[] {dxo}, new Object[] {go});
      onHostArrays(
          "backward from a mask",
          f,
          go,
          new HostArray[] {dxo},
          read(f, dxo, mo, go),
          b -> b.backwardFromMask(f, mo, go, dxo));
    } finally {
      l.unlock();
    }
  }

  private static void requireMask(Activation f) {
    Objects.requireNonNull(f, "activation");
    String why = f.whyNoMask();
    if (why != null) {
      throw new IllegalArgumentException(
          "1-bit mask: " + f + " cannot have one: " + why + "; run backward from x");
    }
  }

  private static void checkMask(Operand mask, long n) {
    long words = maskWords(n);
    if (mask.dtype() != DType.INT32) {
      throw new IllegalArgumentException(
          "mask is "
              + mask.dtype().shortName()
              + "; give int32 words (an int[], or a buffer allocated as DType.INT32): "
              + words
              + " for "
              + n
              + " elements");
    }
    if (mask.length() != words) {
      throw new IllegalArgumentException(
          "mask has "
              + mask.length()
              + " words; "
              + n
              + " elements need "
              + words
              + " (Rectifier.maskWords("
              + n
              + "))");
    }
  }

  /** Refuses a mask buffer that lives on another backend than the tensors of {@code dtype}. */
  private void checkMaskLives(Backend b, DType dtype) {
    Backend masks = byType.get(DType.INT32);
    if (masks != b) {
      throw new IllegalArgumentException(
          "mask buffers live on "
              + masks.name()
              + " but "
              + dtype.name().toLowerCase(Locale.ROOT)
              + " computes on "
              + b.name()
              + "; pass the mask as an int[] for this call");
    }
  }

  // ------------------------------------------------------------------ statistics

  /**
   * {@code y = f(x)} over whole arrays, and the statistics of {@code y} taken in the same pass
   * ({@link ActivationStats}: the zeros, the L1 norm, the NaNs and infinities, the min and max),
   * the same bit for bit on every backend. For every function; {@code y} may be {@code x}.
   */
  public ActivationStats forwardWithStats(Activation f, float[] x, float[] y) {
    wholeVector(f, Objects.requireNonNull(x, "x").length, y, null);
    return forwardWithStats(f, x, 0, y, 0, x.length);
  }

  /** {@code y = f(x)} and its statistics in float64; see the float overload. */
  public ActivationStats forwardWithStats(Activation f, double[] x, double[] y) {
    wholeVector(f, Objects.requireNonNull(x, "x").length, y, null);
    return forwardWithStats(f, x, 0, y, 0, x.length);
  }

  /**
   * {@code y[yOffset..] = f(x[xOffset..])} over {@code length} elements, and its statistics; parts
   * of a larger tensor add up with {@link ActivationStats#plus}.
   */
  public ActivationStats forwardWithStats(
      Activation f, float[] x, int xOffset, float[] y, int yOffset, int length) {
    return forwardArrays(f, Shape.vector(length), x, xOffset, null, y, yOffset, Records::whole)
        .stats();
  }

  /** The same in float64; see the float overload. */
  public ActivationStats forwardWithStats(
      Activation f, double[] x, int xOffset, double[] y, int yOffset, int length) {
    return forwardArrays(f, Shape.vector(length), x, xOffset, null, y, yOffset, Records::whole)
        .stats();
  }

  /**
   * {@code y = f(x)} for a tensor of {@code shape}, and the statistics of all of {@code y} (crelu's
   * two halves, maxout's outputs); {@code weight} is PReLU's, null for the other functions.
   */
  public ActivationStats forwardWithStats(
      Activation f, Shape shape, float[] x, float[] weight, float[] y) {
    whole(f, shape, x, y, null, null);
    return forwardArrays(f, shape, x, 0, weight, y, 0, Records::whole).stats();
  }

  /** The same in float64; see the float overload. */
  public ActivationStats forwardWithStats(
      Activation f, Shape shape, double[] x, double[] weight, double[] y) {
    whole(f, shape, x, y, null, null);
    return forwardArrays(f, shape, x, 0, weight, y, 0, Records::whole).stats();
  }

  /**
   * {@code y = f(x)} on buffers of this engine and the statistics of {@code y}, which come back to
   * the host as a few numbers per {@link ActivationStats#BLOCK} outputs; {@code weight} is PReLU's,
   * null otherwise.
   */
  public ActivationStats forwardWithStats(
      Activation f, Shape shape, DeviceBuffer x, DeviceBuffer weight, DeviceBuffer y) {
    return forwardBuffers(f, shape, x, weight, y, Records::whole).stats();
  }

  /**
   * {@code y = f(x)} for a tensor of {@code shape}, and the statistics of each channel of {@code y}
   * along {@code axis} of y's shape ({@code f.outputShape(shape)}; {@code -1} is the last): element
   * {@code c} of the list is channel {@code c}'s. A channel whose {@link
   * ActivationStats#zeroFraction()} is 1 is dead: no input made any of its units fire.
   *
   * <p>Channel {@code c}'s outputs, in memory order (outer index, then inner), are measured as
   * {@link #forwardWithStats} measures an array of its own: equal, bit for bit, to that over a copy
   * of them, and the same on every backend. {@code weight} is PReLU's, null for the other
   * functions; the axis need not be the function's own (crelu's {@code 2C} output channels are
   * measured on its axis, maxout's {@code C / pieces}).
   *
   * <p>Cost: on the CPU, an elementwise function computes each channel's outputs and measures them
   * in one pass when the channel's runs ({@code shape.inner(axis)}) are at least 64 elements; the
   * channel functions, shorter runs and the device backends read {@code y} once more after the
   * forward.
   *
   * @throws IllegalArgumentException as {@link #forward} does, or when {@code axis} is outside y's
   *     shape
   */
  public List<ActivationStats> forwardWithChannelStats(
      Activation f, Shape shape, int axis, float[] x, float[] weight, float[] y) {
    whole(f, shape, x, y, null, null);
    return forwardArrays(f, shape, x, 0, weight, y, 0, Records.perChannel(axis)).channels();
  }

  /** The same in float64; see the float overload. */
  public List<ActivationStats> forwardWithChannelStats(
      Activation f, Shape shape, int axis, double[] x, double[] weight, double[] y) {
    whole(f, shape, x, y, null, null);
    return forwardArrays(f, shape, x, 0, weight, y, 0, Records.perChannel(axis)).channels();
  }

  /**
   * The same on buffers of this engine: the statistics come back to the host as a few numbers per
   * {@link ActivationStats#BLOCK} outputs of each channel.
   */
  public List<ActivationStats> forwardWithChannelStats(
      Activation f, Shape shape, int axis, DeviceBuffer x, DeviceBuffer weight, DeviceBuffer y) {
    return forwardBuffers(f, shape, x, weight, y, Records.perChannel(axis)).channels();
  }

  /**
   * The host arrays a backend writes its statistics records into, for outputs of shape {@code out}:
   * whole (one array of {@code m} outputs), or per channel along an axis ({@code channels} arrays
   * of {@code m} outputs, their records one after another).
   */
  private static final class Records {
    final boolean byChannel;
    final long m;
    final long channels;
    final long inner;
    final HostArray sums;
    final HostArray counts;

    private Records(DType t, boolean byChannel, long m, long channels, long inner) {
      this.byChannel = byChannel;
      this.m = m;
      this.channels = channels;
      this.inner = inner;
      int n = Math.toIntExact(3 * channels * StatsRecords.records(m));
      sums = new HostArray(t == DType.FLOAT32 ? new float[n] : new double[n], 0, n);
      counts = new HostArray(new int[n], 0, n);
    }

    /** For all of {@code out}, as one array. */
    static Records whole(DType t, Shape out) {
      return new Records(t, false, out.size(), 1, out.size());
    }

    /** For each channel of {@code out} along {@code axis} (checked against it). */
    static java.util.function.BiFunction<DType, Shape, Records> perChannel(int axis) {
      return (t, out) -> {
        int a = out.resolveAxis(axis);
        long channels = out.dim(a);
        long m = channels == 0 ? 0 : out.size() / channels;
        return new Records(t, true, m, channels, out.inner(a));
      };
    }

    String what() {
      return byChannel ? "forward with statistics per channel" : "forward with statistics";
    }

    /** The forward on {@code b}, writing these records. */
    void run(Backend b, Activation f, Shape shape, Operand x, Operand w, Operand y) {
      if (!byChannel) {
        b.forwardWithStats(f, shape, x, w, y, sums, counts);
      } else if (m == 0) { // no records: nothing to measure, and device memory of none is refused
        b.forward(f, shape, x, w, y);
      } else {
        b.forwardWithChannelStats(f, shape, x, w, y, channels, inner, sums, counts);
      }
    }

    ActivationStats stats() {
      return ActivationStats.of(m, sums.array(), (int[]) counts.array(), 0, sums.count() / 3);
    }

    List<ActivationStats> channels() {
      int records = (int) StatsRecords.records(m);
      List<ActivationStats> all = new ArrayList<>((int) channels);
      for (int c = 0; c < channels; c++) {
        all.add(ActivationStats.of(m, sums.array(), (int[]) counts.array(), c * records, records));
      }
      return java.util.Collections.unmodifiableList(all);
    }
  }

  // ------------------------------------------------------------------ failures

  /**
   * Runs a call on host arrays on the backend {@link #onHost} places it on. When that backend fails
   * (an exception other than {@link IllegalArgumentException}): with a {@link #fallback}, the
   * outputs that are also inputs (in place) are put back as they were, a warning is logged and the
   * call re-runs on the CPU; without one, the failure is thrown naming the backend, the operation
   * and the cause.
   */
  private void onHostArrays(
      String op,
      Activation f,
      HostArray x,
      HostArray[] outputs,
      HostArray[] inputs,
      java.util.function.Consumer<Backend> call) {
    Backend b = onHost(f, x);
    boolean canFallBack = fallback != null && b != fallback;
    List<Object[]> saved = canFallBack ? inPlaceCopies(outputs, inputs) : List.of();
    try {
      call.accept(b);
    } catch (RuntimeException e) {
      String after;
      if (canFallBack) {
        after = "; re-running it on cpu (" + FALLBACK_PROPERTY + "=cpu)";
      } else {
        after = "; the engine stays usable";
        if (inPlace(outputs, inputs)) {
          after += "; the array of this in-place call is undefined now (parts may hold results)";
        }
        if (!b.name().equals("cpu")) {
          after += "; -D" + FALLBACK_PROPERTY + "=cpu re-runs failed calls on the CPU";
        }
      }
      RuntimeException failed = failure(e, b, op, f, x, "host arrays", after);
      if (!canFallBack || failed instanceof IllegalArgumentException) throw failed;
      for (Object[] s : saved) {
        HostArray h = (HostArray) s[0];
        System.arraycopy(s[1], 0, h.array(), h.offset(), h.count());
      }
      LOG.log(System.Logger.Level.WARNING, failed.getMessage());
      try {
        call.accept(fallback);
      } catch (RuntimeException again) {
        again.addSuppressed(failed);
        throw again;
      }
    }
  }

  /**
   * What a call on host arrays reads: {@code inputs}, and {@code output} when {@code f} blends into
   * it.
   */
  private static HostArray[] read(Activation f, HostArray output, HostArray... inputs) {
    if (!f.readsOutput()) return inputs;
    HostArray[] all = java.util.Arrays.copyOf(inputs, inputs.length + 1);
    all[inputs.length] = output;
    return all;
  }

  /** Whether an output is also an input (an in-place call). */
  private static boolean inPlace(HostArray[] outputs, HostArray[] inputs) {
    for (HostArray out : outputs) if (isAnInput(out, inputs)) return true;
    return false;
  }

  /** Copies of the outputs that are also inputs, as {@code {output, copy of its range}}. */
  private static List<Object[]> inPlaceCopies(HostArray[] outputs, HostArray[] inputs) {
    List<Object[]> copies = new ArrayList<>();
    for (HostArray out : outputs) {
      if (!isAnInput(out, inputs)) continue;
      Object copy =
          java.lang.reflect.Array.newInstance(
              out.array().getClass().getComponentType(), out.count());
      System.arraycopy(out.array(), out.offset(), copy, 0, out.count());
      copies.add(new Object[] {out, copy});
    }
    return copies;
  }

  /** Whether {@code out} is exactly one of {@code inputs} (same array, same range). */
  private static boolean isAnInput(HostArray out, HostArray[] inputs) {
    if (out == null) return false;
    for (HostArray in : inputs) {
      if (in != null && in.array() == out.array() && sameRange(out, in)) return true;
    }
    return false;
  }

  /**
   * A backend's failure as the error the caller gets: the backend, the operation and the cause, and
   * what the engine is good for after it. Argument errors pass as they are.
   */
  private static RuntimeException failure(
      RuntimeException e, Backend b, String op, Activation f, Operand x, String on, String after) {
    if (e instanceof IllegalArgumentException) return e;
    String call =
        op
            + " "
            + f
            + " on "
            + on
            + " ("
            + x.dtype().shortName()
            + ", "
            + x.length()
            + " elements)";
    return new RectifierException(b.name() + " failed in " + call + ": " + message(e) + after, e);
  }

  private static final String ON_BUFFERS =
      "; the engine stays usable; the output buffers are undefined now, and a device that is lost"
          + " has lost the data of its buffers";

  private static String message(RuntimeException e) {
    return e.getMessage() != null ? e.getMessage() : e.toString();
  }

  // ------------------------------------------------------------------ checks

  /**
   * Refuses whole arrays whose lengths are not exactly what a call on {@code shape} reads and
   * writes ({@code y} and {@code gradOutput} have f's output shape; null: not in this call): a
   * longer one would keep a tail the call never wrote, a shorter one is a mistake too.
   */
  private static void whole(
      Activation f, Shape shape, Object x, Object y, Object gradOutput, Object gradInput) {
    Objects.requireNonNull(f, "activation");
    Objects.requireNonNull(shape, "shape");
    long in = shape.size();
    exactly("x", x, in, "the shape " + shape);
    if (y != null || gradOutput != null) {
      long out = f.outputShape(shape).size();
      String what = f + "'s output for the shape " + shape;
      exactly("y", y, out, what);
      exactly("gradOutput", gradOutput, out, what);
    }
    exactly("gradInput", gradInput, in, "the shape " + shape);
  }

  /** Backward from the output's whole arrays: each as long as y. */
  private static void sameLengths(int length, Object gradOutput, Object gradInput) {
    exactly("gradOutput", gradOutput, length, "as long as y");
    exactly("gradInput", gradInput, length, "as long as y");
  }

  /** {@link #whole} for a one-dimensional tensor of x's {@code length}. */
  private static void wholeVector(Activation f, int length, Object yOrGradOutput, Object gradIn) {
    if (gradIn == null) whole(f, Shape.vector(length), null, yOrGradOutput, null, null);
    else whole(f, Shape.vector(length), null, null, yOrGradOutput, gradIn);
  }

  private static void exactly(String name, Object array, long expected, String what) {
    if (array == null) return; // absent here, or null: named by the call's own check
    int n = java.lang.reflect.Array.getLength(array);
    if (n != expected) {
      throw new IllegalArgumentException(
          name
              + " has "
              + n
              + " elements; the call needs "
              + expected
              + " ("
              + what
              + "), exactly: give whole arrays of that length, or the overload with offsets and a"
              + " length");
    }
  }

  private static int sizeOf(Shape shape, String name) {
    if (shape.size() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          name + ": shape " + shape + " has more elements than a Java array holds");
    }
    return (int) shape.size();
  }

  private static int length(Object array) {
    return java.lang.reflect.Array.getLength(array);
  }

  /** Refuses a mask's words where a tensor is expected. */
  private static void checkFloat(String name, Operand o) {
    if (!o.dtype().isFloat()) {
      throw new IllegalArgumentException(
          name
              + " is "
              + o.dtype().shortName()
              + " (a mask's words); activations compute on float32 or float64");
    }
  }

  private static void checkForward(Activation f, Shape shape, Operand x, Operand w, Operand y) {
    Objects.requireNonNull(f, "activation");
    Objects.requireNonNull(shape, "shape");
    checkFloat("x", x);
    Shape out = f.outputShape(shape);
    checkOperand("x", x, shape.size(), x.dtype());
    checkOperand("y", y, out.size(), x.dtype());
    checkWeight(f, shape, w, x.dtype(), "weight");
  }

  private static void checkBackward(
      Activation f, Shape shape, Operand x, Operand w, Operand g, Operand dx, Operand gw) {
    Shape out = f.outputShape(shape);
    checkOperand("x", x, shape.size(), x.dtype());
    checkOperand("gradOutput", g, out.size(), x.dtype());
    checkOperand("gradInput", dx, shape.size(), x.dtype());
    checkWeight(f, shape, w, x.dtype(), "weight");
    if (f.function() == Function.PRELU) {
      if (gw == null) {
        throw new IllegalArgumentException("prelu backward needs gradWeight, one per weight");
      }
      checkOperand("gradWeight", gw, w.length(), x.dtype());
    } else if (gw != null) {
      throw new IllegalArgumentException(
          "gradWeight is only for prelu, not " + f.function().id() + "; pass null");
    }
  }

  private static void checkOperand(String name, Operand o, long expected, DType dtype) {
    checkOperand(name, o, expected, dtype, "x");
  }

  private static void checkOperand(
      String name, Operand o, long expected, DType dtype, String reference) {
    if (o.dtype() != dtype) {
      throw new IllegalArgumentException(
          name
              + " is "
              + o.dtype().shortName()
              + " but "
              + reference
              + " is "
              + dtype.shortName()
              + "; use one type for a call");
    }
    if (o.length() != expected) {
      throw new IllegalArgumentException(
          name + " has " + o.length() + " elements; the shapes need " + expected);
    }
  }

  private static void checkWeight(Activation f, Shape shape, Operand w, DType dtype, String name) {
    if (f.function() != Function.PRELU) {
      if (w != null) {
        throw new IllegalArgumentException(
            name + " is only for prelu, not " + f.function().id() + "; pass null");
      }
      return;
    }
    int channels = shape.dim(f.channelAxis(shape));
    if (w == null) {
      throw new IllegalArgumentException(
          "prelu needs its weight: " + channels + " values (one per channel) or 1");
    }
    if (w.dtype() != dtype) {
      throw new IllegalArgumentException(
          name + " is " + w.dtype().shortName() + " but x is " + dtype.shortName());
    }
    if (w.length() != channels && w.length() != 1) {
      throw new IllegalArgumentException(
          name
              + " has "
              + w.length()
              + " values; prelu on shape "
              + shape
              + " needs "
              + channels
              + " (one per channel on axis "
              + f.channelAxis(shape)
              + ") or 1");
    }
  }

  /**
   * Refuses an output that overlaps an input (or another output) other than exactly (same memory,
   * same offset, same length, and an elementwise function or prelu): the backends compute in
   * parallel and would read what they already wrote.
   */
  private static void checkOverlaps(Activation f, Object[] outputs, Object[] inputs) {
    for (int i = 0; i < outputs.length; i++) {
      Object out = outputs[i];
      if (out == null) continue;
      for (Object in : inputs) {
        if (in != null && overlaps(out, in) && !(sameRange(out, in) && inPlaceAllowed(f))) {
          throw new IllegalArgumentException(
              "an output overlaps an input"
                  + (inPlaceAllowed(f)
                      ? " at a different offset; compute in place (same array, same offset) or"
                          + " into separate memory"
                      : "; "
                          + f.function().id()
                          + " changes the shape, so it cannot run in place"));
        }
      }
      for (int j = i + 1; j < outputs.length; j++) {
        if (outputs[j] != null && overlaps(out, outputs[j])) {
          throw new IllegalArgumentException("gradInput and gradWeight overlap; give each its own");
        }
      }
    }
  }

  private static boolean inPlaceAllowed(Activation f) {
    return f.function() != Function.CRELU && f.function() != Function.MAXOUT;
  }

  private static boolean overlaps(Object a, Object b) {
    if (a instanceof DeviceBuffer || b instanceof DeviceBuffer) return a == b;
    Span p = span(a);
    Span q = span(b);
    return p.array() == q.array()
        && p.length() > 0
        && q.length() > 0
        && p.offset() < q.offset() + q.length()
        && q.offset() < p.offset() + p.length();
  }

  private static boolean sameRange(Object a, Object b) {
    if (a instanceof DeviceBuffer || b instanceof DeviceBuffer) return a == b;
    Span p = span(a);
    Span q = span(b);
    return p.offset() == q.offset() && p.length() == q.length();
  }

  private static Span span(Object hostArrayOrSpan) {
    if (hostArrayOrSpan instanceof Span s) return s;
    HostArray h = (HostArray) hostArrayOrSpan;
    return new Span(h.array(), h.offset(), h.count());
  }

  private Lock enter() {
    Lock l = lifecycle.readLock();
    l.lock();
    if (closed) {
      l.unlock();
      throw new IllegalStateException("this Rectifier engine is closed; create a new one");
    }
    return l;
  }

  // ------------------------------------------------------------------ close

  /**
   * Waits for calls in flight, frees the buffers still open, closes the backend. Buffers left open
   * are leaks: reported as a warning, or thrown as an {@link IllegalStateException} when the engine
   * fails on leaks. Idempotent.
   */
  @Override
  public void close() {
    List<DeviceBuffer> leaked = new ArrayList<>();
    Lock l = lifecycle.writeLock();
    l.lock();
    try {
      if (closed) return;
      closed = true;
      leaked.addAll(live.keySet());
      live.clear();
      for (DeviceBuffer b : leaked) b.closeLeaked();
      LinkedHashSet<Backend> all = new LinkedHashSet<>(byType.values());
      if (hostCpu != null) all.add(hostCpu);
      if (fallback != null) all.add(fallback);
      for (Backend b : all) b.close();
    } finally {
      l.unlock();
    }
    if (!leaked.isEmpty()) {
      StringBuilder msg =
          new StringBuilder("Rectifier closed with ")
              .append(leaked.size())
              .append(" buffer(s) still open, freed now; close each DeviceBuffer:");
      for (DeviceBuffer b : leaked) msg.append(' ').append(b).append(';');
      if (failOnLeak) throw new IllegalStateException(msg.toString());
      LOG.log(System.Logger.Level.WARNING, msg.toString());
    }
  }

  @Override
  public String toString() {
    return "Rectifier[" + backend.name() + (closed ? ", closed" : "") + "]";
  }
}
