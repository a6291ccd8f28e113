package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One engine shared by 16 threads, each making 1,000 calls drawn from a mix of every elementwise
 * function and PReLU, forward and backward, float32 and float64, host arrays and device buffers
 * (allocated, filled, computed on, read back and closed by the calling thread), on each backend
 * present. Every result must equal, bit for bit, what the same engine gave for the same call made
 * alone beforehand; the run must end within its time limit (no deadlock) and the engine close with
 * no buffer left open (it fails on leaks).
 *
 * <p>Then the soak: 100,000 calls per backend, in the same mix at small sizes, on one thread, with
 * the engine's live buffers at zero and the process's memory outside the Java heap measured after a
 * warmup and at the end; it must not grow by more than 64 MiB (the figures are printed).
 */
class ConcurrencyTest {
  private static final int THREADS = 16;
  private static final int CALLS_PER_THREAD = 1_000;
  private static final int SOAK_CALLS = 100_000;

  private static final Activation[] FUNCTIONS = {
    Activation.relu(),
    Activation.leakyRelu(0.1),
    Activation.rreluTraining(0.1, 0.3, 42),
    Activation.elu(0.7),
    Activation.selu(),
    Activation.celu(0.5),
    Activation.relu6(),
    Activation.hardtanh(-2, 3),
    Activation.threshold(0.5, -1),
    Activation.gelu(),
    Activation.geluTanh(),
    Activation.silu(),
    Activation.mish(),
    Activation.softplus(2, 10),
    Activation.prelu()
  };

  /** One call: its inputs, and what the engine gave for it alone. */
  private record Task(
      Activation f,
      boolean f64,
      boolean backward,
      boolean onBuffers,
      Shape shape,
      Object x,
      Object w,
      Object g,
      Object want,
      Object wantDw) {}

  private static Rectifier open(String backend) {
    switch (backend) {
      case "opencl" -> ExpectOpenCl.here("ConcurrencyTest on opencl");
      case "cuda" -> ExpectCuda.here("ConcurrencyTest on cuda");
      default -> {}
    }
    return Rectifier.builder().backend(backend).failOnLeak(true).build();
  }

  private static Object data(boolean f64, int n, Random r) {
    if (f64) {
      double[] d = new double[n];
      for (int i = 0; i < n; i++) d[i] = r.nextGaussian() * 5;
      if (n > 3) d[1] = Double.NaN;
      return d;
    }
    float[] d = new float[n];
    for (int i = 0; i < n; i++) d[i] = (float) (r.nextGaussian() * 5);
    if (n > 3) d[1] = Float.NaN;
    return d;
  }

  private static Object blank(Object like) {
    return like instanceof float[] a ? new float[a.length] : new double[((double[]) like).length];
  }

  private static int length(Object a) {
    return a instanceof float[] f ? f.length : ((double[]) a).length;
  }

  private static DeviceBuffer upload(Rectifier r, Object a) {
    return a instanceof float[] f ? r.upload(f) : r.upload((double[]) a);
  }

  private static void download(DeviceBuffer b, Object a) {
    if (a instanceof float[] f) b.copyTo(f);
    else b.copyTo((double[]) a);
  }

  /** Runs the task's call on {@code r}; returns {output, weight gradient or null}. */
  private static Object[] run(Rectifier r, Task t) {
    Object y = blank(t.x());
    Object dw = t.w() == null || !t.backward() ? null : blank(t.w());
    if (!t.onBuffers()) {
      if (t.backward()) {
        if (t.w() != null) {
          if (t.f64()) {
            r.backward(
                t.f(),
                t.shape(),
                (double[]) t.x(),
                (double[]) t.w(),
                (double[]) t.g(),
                (double[]) y,
                (double[]) dw);
          } else {
            r.backward(
                t.f(),
                t.shape(),
                (float[]) t.x(),
                (float[]) t.w(),
                (float[]) t.g(),
                (float[]) y,
                (float[]) dw);
          }
        } else if (t.f64()) {
          r.backward(t.f(), (double[]) t.x(), (double[]) t.g(), (double[]) y);
        } else {
          r.backward(t.f(), (float[]) t.x(), (float[]) t.g(), (float[]) y);
        }
      } else if (t.w() != null) {
        if (t.f64()) r.forward(t.f(), t.shape(), (double[]) t.x(), (double[]) t.w(), (double[]) y);
        else r.forward(t.f(), t.shape(), (float[]) t.x(), (float[]) t.w(), (float[]) y);
      } else if (t.f64()) {
        r.forward(t.f(), (double[]) t.x(), (double[]) y);
      } else {
        r.forward(t.f(), (float[]) t.x(), (float[]) y);
      }
      return new Object[] {y, dw};
    }
    DType type = t.f64() ? DType.FLOAT64 : DType.FLOAT32;
    try (DeviceBuffer bx = upload(r, t.x());
        DeviceBuffer bw = t.w() == null ? null : upload(r, t.w());
        DeviceBuffer bg = t.g() == null ? null : upload(r, t.g());
        DeviceBuffer by = r.allocate(type, length(y));
        DeviceBuffer bdw = dw == null ? null : r.allocate(type, length(dw))) {
      if (t.backward()) r.backward(t.f(), t.shape(), bx, bw, bg, by, bdw);
      else r.forward(t.f(), t.shape(), bx, bw, by);
      download(by, y);
      if (bdw != null) download(bdw, dw);
    }
    return new Object[] {y, dw};
  }

  private static List<Task> tasks(Rectifier r, int count, int maxSize, long seed) {
    Random rnd = new Random(seed);
    List<Task> tasks = new ArrayList<>();
    for (int k = 0; k < count; k++) {
      Activation f = FUNCTIONS[k % FUNCTIONS.length];
      boolean f64 = rnd.nextBoolean();
      boolean prelu = f.function() == Activation.Function.PRELU;
      int channels = prelu ? 1 + rnd.nextInt(8) : 1;
      int n = channels * (1 + rnd.nextInt(maxSize / channels));
      Shape shape = prelu ? Shape.of(1, channels, n / channels) : Shape.vector(n);
      Object x = data(f64, n, rnd);
      Object w = prelu ? data(f64, channels, rnd) : null;
      boolean backward = rnd.nextBoolean();
      Object g = backward ? data(f64, n, rnd) : null;
      Task t = new Task(f, f64, backward, rnd.nextBoolean(), shape, x, w, g, null, null);
      Object[] out = run(r, t);
      tasks.add(new Task(f, f64, backward, t.onBuffers(), shape, x, w, g, out[0], out[1]));
    }
    return tasks;
  }

  private static boolean same(Object a, Object b) {
    if (a == null) return b == null;
    return a instanceof float[] f
        ? Arrays.equals(f, (float[]) b)
        : Arrays.equals((double[]) a, (double[]) b);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"cpu", "opencl", "cuda"})
  void sixteenThreadsShareOneEngine(String backend) throws Exception {
    AtomicLong calls = new AtomicLong();
    long t0 = System.nanoTime();
    try (Rectifier r = open(backend)) {
      List<Task> tasks = tasks(r, 64, 40_000, 7);
      ExecutorService pool = Executors.newFixedThreadPool(THREADS);
      try {
        List<Future<?>> done = new ArrayList<>();
        for (int th = 0; th < THREADS; th++) {
          long seed = th;
          done.add(
              pool.submit(
                  () -> {
                    Random rnd = new Random(seed);
                    for (int c = 0; c < CALLS_PER_THREAD; c++) {
                      Task t = tasks.get(rnd.nextInt(tasks.size()));
                      Object[] out = run(r, t);
                      if (!same(t.want(), out[0]) || !same(t.wantDw(), out[1])) {
                        fail(
                            backend
                                + ": "
                                + (t.backward() ? "backward " : "forward ")
                                + t.f()
                                + (t.f64() ? " f64" : " f32")
                                + (t.onBuffers() ? " on buffers" : " on host arrays")
                                + " gave another result under 16 threads");
                      }
                      calls.incrementAndGet();
                    }
                    return null;
                  }));
        }
        for (Future<?> f : done) f.get(10, TimeUnit.MINUTES); // a deadlock ends here
      } finally {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(1, TimeUnit.MINUTES), "worker threads did not stop");
      }
      assertEquals(0, r.liveBuffers());
    }
    assertEquals((long) THREADS * CALLS_PER_THREAD, calls.get());
    System.out.printf(
        "concurrency %s: %d threads x %d calls, all bit-equal to the calls made alone, %.1f s%n",
        backend, THREADS, CALLS_PER_THREAD, (System.nanoTime() - t0) / 1e9);
  }

  /** The process's resident set, from /proc (Linux); -1 elsewhere. */
  static long rssBytes() throws Exception {
    Path status = Path.of("/proc/self/status");
    if (!Files.isReadable(status)) return -1;
    for (String line : Files.readAllLines(status)) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return -1;
  }

  /**
   * Memory outside the Java heap: the resident set less the heap's committed size (the heap grows
   * and shrinks with the garbage collector's choices, which would hide or fake a native leak).
   */
  static long nativeBytes() throws Exception {
    long rss = rssBytes();
    return rss < 0 ? -1 : rss - Runtime.getRuntime().totalMemory();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"cpu", "opencl", "cuda"})
  void aSoakOfOneHundredThousandCallsLeavesNothingBehind(String backend) throws Exception {
    long t0 = System.nanoTime();
    try (Rectifier r = open(backend)) {
      List<Task> tasks = tasks(r, 60, 2_000, 11);
      Random rnd = new Random(3);
      // Warm up for 3 s first: until the JIT's compilations settle its own memory grows.
      long warm = System.nanoTime() + 3_000_000_000L;
      for (int c = 0; System.nanoTime() < warm || c < 20 * tasks.size(); c++) {
        run(r, tasks.get(c % tasks.size()));
      }
      System.gc();
      long early = nativeBytes();
      long before = 0;
      for (int c = 0; c < SOAK_CALLS; c++) {
        if (c == SOAK_CALLS / 2) {
          System.gc();
          before = nativeBytes();
        }
        Task t = tasks.get(rnd.nextInt(tasks.size()));
        Object[] out = run(r, t);
        if (!same(t.want(), out[0]) || !same(t.wantDw(), out[1])) {
          fail(backend + ": call " + c + " (" + t.f() + ") gave another result in the soak");
        }
      }
      assertEquals(0, r.liveBuffers());
      System.gc();
      long after = nativeBytes();
      System.out.printf(
          "soak %s: %d calls, live buffers 0, RSS less the Java heap %.1f MiB after warmup, %.1f"
              + " MiB after 50%%, %.1f MiB at the end (%+.1f MiB over the second half; RSS %.1f"
              + " MiB), %.1f s%n",
          backend,
          SOAK_CALLS,
          early / 1048576.0,
          before / 1048576.0,
          after / 1048576.0,
          (after - before) / 1048576.0,
          rssBytes() / 1048576.0,
          (System.nanoTime() - t0) / 1e9);
      if (before > 0) {
        assertTrue(
            after - before < 32L << 20,
            "memory outside the heap grew from " + before + " to " + after + " bytes");
      }
    }
  }
}
