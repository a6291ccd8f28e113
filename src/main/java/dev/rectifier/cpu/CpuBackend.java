package dev.rectifier.cpu;

import dev.rectifier.Activation;
import dev.rectifier.Activation.Function;
import dev.rectifier.DType;
import dev.rectifier.RectifierException;
import dev.rectifier.Shape;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendBuffer;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.HalfRounding;
import dev.rectifier.spi.HostArray;
import dev.rectifier.spi.KernelPlan;
import dev.rectifier.spi.Operand;
import dev.rectifier.spi.StatsRecords;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Computes on the JVM's heap. Host arrays are read and written in place; its buffers are arrays it
 * owns. Large calls are split into contiguous ranges over a fork-join pool that this instance owns
 * and shuts down at close; small calls run on the calling thread, where splitting costs more than
 * it gives (on 2 cores a 4K relu was 2-7x slower split, 256K gained nothing, 4M gained 2x).
 */
final class CpuBackend implements Backend {
  /** Below this many elements per thread a memory-bound function is not split. */
  static final int MEMORY_BOUND_GRAIN = 1 << 19;

  /** The same for the functions that compute exp, erfc or Philox per element. */
  static final int COMPUTE_BOUND_GRAIN = 1 << 13;

  private final int threads;
  private final ForkJoinPool pool;
  private final FloatLoops loops = FloatLoops.choose();

  CpuBackend(BackendConfig config) {
    this.threads = config.threads();
    this.pool = threads > 1 ? new ForkJoinPool(threads) : null;
  }

  @Override
  public String name() {
    return CpuProvider.NAME;
  }

  @Override
  public BackendBuffer allocate(DType dtype, long length) {
    if (length > Integer.MAX_VALUE - 8) {
      throw new RectifierException(
          "cpu: a buffer of "
              + length
              + " elements is more than a Java array holds (2^31 - 9); split the tensor");
    }
    try {
      return new CpuBuffer(dtype, (int) length);
    } catch (OutOfMemoryError e) {
      throw new RectifierException(
          "cpu: out of heap for a buffer of "
              + length
              + " "
              + dtype.shortName()
              + " elements; raise -Xmx or free buffers",
          e);
    }
  }

  @Override
  public void upload(HostArray src, BackendBuffer dst, long dstOffset) {
    System.arraycopy(src.array(), src.offset(), cpu(dst).array(), (int) dstOffset, src.count());
  }

  @Override
  public void download(BackendBuffer src, long srcOffset, HostArray dst) {
    System.arraycopy(cpu(src).array(), (int) srcOffset, dst.array(), dst.offset(), dst.count());
  }

  private static CpuBuffer cpu(BackendBuffer b) {
    if (b instanceof CpuBuffer c) return c;
    throw new IllegalArgumentException("the buffer belongs to another backend");
  }

  private static Object array(Operand o) {
    if (o instanceof HostArray h) return h.array();
    return cpu((BackendBuffer) o).array();
  }

  private static int offset(Operand o) {
    return o instanceof HostArray h ? h.offset() : 0;
  }

  private static Slice slice(Operand o) {
    return o == null ? null : Slice.of(array(o), offset(o));
  }

  /** The output's window: written, or blended into when {@code f} blends. */
  private static Slice output(Activation f, Operand o) {
    if (!f.blends()) return slice(o);
    return Slice.blended(array(o), offset(o), f.blendAlpha(), f.blendBeta());
  }

  @Override
  public void forward(Activation f, Shape shape, Operand x, Operand weight, Operand y) {
    if (f.function().channelwise()) {
      channelForward(f, shape, x, weight, y);
      return;
    }
    tiled(f, (int) x.length(), y, forwardBody(f, array(x), offset(x)));
  }

  /** The elementwise forward of {@code f} reading {@code xa} from {@code xo} for element 0. */
  private Elements forwardBody(Activation f, Object xa, int xo) {
    return (from, count, out, oo) -> {
      if (xa instanceof float[] xf) {
        ElementwiseKernels.forward(f, xf, xo + from, (float[]) out, oo, count, from, loops);
      } else {
        ElementwiseKernels.forward(f, (double[]) xa, xo + from, (double[]) out, oo, count, from);
      }
    };
  }

  @Override
  public void backward(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand gradOutput,
      Operand gradInput,
      Operand gradWeight) {
    if (f.function().channelwise()) {
      channelBackward(f, shape, x, weight, gradOutput, gradInput, gradWeight);
      return;
    }
    Object xa = array(x);
    Object ga = array(gradOutput);
    int xo = offset(x);
    int go = offset(gradOutput);
    tiled(
        f,
        (int) x.length(),
        gradInput,
        (from, count, out, oo) -> {
          if (xa instanceof float[] xf) {
            ElementwiseKernels.backward(
                f, xf, xo + from, (float[]) ga, go + from, (float[]) out, oo, count, from);
          } else {
            ElementwiseKernels.backward(
                f,
                (double[]) xa,
                xo + from,
                (double[]) ga,
                go + from,
                (double[]) out,
                oo,
                count,
                from);
          }
        });
  }

  @Override
  public void backwardFromOutput(Activation f, Operand y, Operand gradOutput, Operand gradInput) {
    if (f.function() != Function.ELU) {
      // the backward loops read y as they read x: the same comparisons give the same gradients
      backward(f, Shape.vector((int) y.length()), y, null, gradOutput, gradInput, null);
      return;
    }
    Object ya = array(y);
    Object ga = array(gradOutput);
    int yo = offset(y);
    int go = offset(gradOutput);
    double alpha = ya instanceof float[] ? (float) f.param("alpha") : f.param("alpha");
    tiled(
        f,
        (int) y.length(),
        gradInput,
        (from, count, out, oo) -> {
          if (ya instanceof float[] yf) {
            float[] g = (float[]) ga;
            float[] d = (float[]) out;
            for (int i = 0; i < count; i++) {
              float v = yf[yo + from + i];
              d[oo + i] =
                  v <= 0
                      ? (float) Formulas.eluPrimeFromOutput(g[go + from + i], v, alpha)
                      : (v > 0 ? g[go + from + i] : v);
            }
          } else {
            double[] yd = (double[]) ya;
            double[] g = (double[]) ga;
            double[] d = (double[]) out;
            for (int i = 0; i < count; i++) {
              double v = yd[yo + from + i];
              d[oo + i] =
                  v <= 0
                      ? Formulas.eluPrimeFromOutput(g[go + from + i], v, alpha)
                      : (v > 0 ? g[go + from + i] : v);
            }
          }
        });
  }

  /** Computes elements {@code [from, from + count)} of a call into {@code out} from {@code oo}. */
  @FunctionalInterface
  private interface Elements {
    void run(int from, int count, Object out, int oo);
  }

  /**
   * Runs an elementwise call of {@code n} elements into {@code output}, split over threads ({@link
   * #range}).
   */
  private void tiled(Activation f, int n, Operand output, Elements body) {
    Object out = array(output);
    int oo = offset(output);
    split(n, grain(f), (from, to) -> range(f, from, to, out, oo, body, scratch(f, out, to - from)));
  }

  /**
   * The scratch tile that {@link #range} blends from, for a thread's {@code count} elements, or
   * null when {@code f} does not blend: made once per thread, not per tile.
   */
  private static Object scratch(Activation f, Object out, int count) {
    if (!f.blends()) return null;
    int size = Math.min(Blend.TILE, count);
    return out instanceof float[] ? new float[size] : new double[size];
  }

  /**
   * Computes elements {@code [from, to)} of a call into {@code out} (from {@code oo} for element
   * 0): straight into it, or, when {@code f} blends, a tile at a time into {@code scratch} (from
   * {@link #scratch}), which is then blended into it (in place is safe: a tile's inputs are read
   * before its outputs are written).
   */
  private static void range(
      Activation f, int from, int to, Object out, int oo, Elements body, Object scratch) {
    if (scratch == null) {
      body.run(from, to - from, out, oo + from);
      return;
    }
    if (out instanceof float[] o) {
      float[] tile = (float[]) scratch;
      int size = tile.length;
      float a = (float) f.blendAlpha();
      float b = (float) f.blendBeta();
      for (int t = from; t < to; t += size) {
        int m = Math.min(size, to - t);
        body.run(t, m, tile, 0);
        Blend.into(tile, o, oo + t, m, a, b);
      }
    } else {
      double[] o = (double[]) out;
      double[] tile = (double[]) scratch;
      int size = tile.length;
      for (int t = from; t < to; t += size) {
        int m = Math.min(size, to - t);
        body.run(t, m, tile, 0);
        Blend.into(tile, o, oo + t, m, f.blendAlpha(), f.blendBeta());
      }
    }
  }

  /**
   * The forward, split over threads at whole records: an elementwise function a {@link Stats#TILE}
   * at a time, then that tile's leaf records while its outputs are in cache; a channel function
   * whole, then its records from {@code y}.
   */
  @Override
  public void forwardWithStats(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand y,
      Operand sums,
      Operand counts) {
    int m = (int) y.length();
    Object out = array(y);
    int oo = offset(y);
    Object s = array(sums);
    int[] c = (int[]) array(counts);
    int so = offset(sums);
    int co = offset(counts);
    int records = (int) StatsRecords.records(m);
    boolean single = out instanceof float[];
    if (f.function().channelwise()) {
      channelForward(f, shape, x, weight, y);
      split(
          records,
          1,
          (r0, r1) -> {
            Stats stats = new Stats(single, loops);
            for (int r = r0; r < r1; r++) {
              int from = r * StatsRecords.PER_RECORD;
              int to = Math.min(m, from + StatsRecords.PER_RECORD);
              stats.record(out, oo, from, to, s, so + 3 * r, c, co + 3 * r);
            }
          });
    } else {
      Elements body = forwardBody(f, array(x), offset(x));
      split(
          records,
          Math.max(1, grain(f) / StatsRecords.PER_RECORD),
          (r0, r1) -> {
            Stats stats = new Stats(single, loops);
            Object scratch = scratch(f, out, Stats.TILE);
            for (int r = r0; r < r1; r++) {
              int from = r * StatsRecords.PER_RECORD;
              int to = Math.min(m, from + StatsRecords.PER_RECORD);
              stats.record(
                  out,
                  oo,
                  from,
                  to,
                  s,
                  so + 3 * r,
                  c,
                  co + 3 * r,
                  (t0, t1) -> range(f, t0, t1, out, oo, body, scratch));
            }
          });
    }
  }

  /**
   * The forward and each channel's records, split over threads at whole records: the outputs of one
   * record of one channel (its runs of {@code inner} in {@code y}) computed run by run, each copied
   * to a tile while in cache, whose leaf records are then taken. A channel function, or runs too
   * short to be worth a call each, computes {@code y} whole first, and the tiles are gathered from
   * it.
   */
  @Override
  public void forwardWithChannelStats(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand y,
      long channels,
      long inner,
      Operand sums,
      Operand counts) {
    int perChannel = (int) (y.length() / channels);
    int records = (int) StatsRecords.records(perChannel);
    boolean fused = !f.function().channelwise() && inner >= FUSED_RUN;
    if (!fused) forward(f, shape, x, weight, y);
    Elements body = fused ? forwardBody(f, array(x), offset(x)) : null;
    Object out = array(y);
    int oo = offset(y);
    Object s = array(sums);
    int[] c = (int[]) array(counts);
    int so = offset(sums);
    int co = offset(counts);
    boolean single = out instanceof float[];
    int stride = (int) (channels * inner);
    int run = (int) inner;
    split(
        (int) channels * records,
        Math.max(1, (fused ? grain(f) : COPY_GRAIN) / StatsRecords.PER_RECORD),
        (r0, r1) -> {
          Stats stats = new Stats(single, loops);
          int size = Math.min(perChannel, StatsRecords.PER_RECORD);
          Object tile = single ? new float[size] : new double[size];
          Object blend = fused ? scratch(f, out, run) : null;
          for (int r = r0; r < r1; r++) {
            int channel = r / records;
            int from = (r % records) * StatsRecords.PER_RECORD;
            int to = Math.min(perChannel, from + StatsRecords.PER_RECORD);
            for (int j = from; j < to; ) {
              int o = j / run;
              int at = j - o * run;
              int m = Math.min(to - j, run - at);
              int i = o * stride + channel * run + at; // element j of the channel in y
              if (fused) range(f, i, i + m, out, oo, body, blend);
              gather(out, oo + i, tile, j - from, m);
              j += m;
            }
            stats.record(tile, -from, from, to, s, so + 3 * r, c, co + 3 * r);
          }
        });
  }

  /** {@code System.arraycopy}, which costs more than a loop for a few elements. */
  private static void gather(Object src, int from, Object dst, int to, int count) {
    if (count >= 16) {
      System.arraycopy(src, from, dst, to, count);
    } else if (src instanceof float[] s) {
      float[] d = (float[]) dst;
      for (int k = 0; k < count; k++) d[to + k] = s[from + k];
    } else {
      double[] s = (double[]) src;
      double[] d = (double[]) dst;
      for (int k = 0; k < count; k++) d[to + k] = s[from + k];
    }
  }

  /**
   * The run of a channel below which its forward is not fused with its statistics: a call and a
   * copy per run of a few elements cost more than the second pass over {@code y} they save.
   */
  private static final int FUSED_RUN = 64;

  /** Elements per thread worth splitting a pass that only copies for. */
  private static final int COPY_GRAIN = 1 << 18;

  /**
   * The forward, split over threads at whole mask words, a {@link Masks#TILE} at a time: the tile's
   * bits from {@code x}, then its {@code y} (which may be {@code x}) while {@code x} is still in
   * cache.
   */
  @Override
  public void forwardWithMask(Activation f, Operand x, Operand y, Operand mask) {
    int n = (int) x.length();
    Object xa = array(x);
    int xo = offset(x);
    int[] m = (int[]) array(mask);
    int mo = offset(mask);
    Object out = array(y);
    int oo = offset(y);
    Elements body = forwardBody(f, xa, xo);
    int words = Masks.words(n);
    split(
        words,
        Math.max(1, grain(f) / 32),
        (w0, w1) -> {
          Object scratch = scratch(f, out, Masks.TILE);
          for (int w = w0; w < w1; w += Masks.TILE / 32) {
            int from = w * 32;
            int to = (int) Math.min(n, (long) Math.min(w1, w + Masks.TILE / 32) * 32);
            Masks.pack(f, xa, xo + from, to - from, m, mo + w);
            range(f, from, to, out, oo, body, scratch);
          }
        });
  }

  @Override
  public void backwardFromMask(Activation f, Operand mask, Operand gradOutput, Operand gradInput) {
    int[] m = (int[]) array(mask);
    int mo = offset(mask);
    Object ga = array(gradOutput);
    int go = offset(gradOutput);
    double slope = KernelPlan.maskSlope(f);
    tiled(
        f,
        (int) gradOutput.length(),
        gradInput,
        (from, count, out, oo) -> Masks.backward(m, mo, slope, ga, go, from, count, out, oo));
  }

  /**
   * Elements per part of a 16-bit conversion: one element is a few integer steps, so a part must be
   * long for the fork to pay.
   */
  private static final int CONVERSION_GRAIN = 1 << 16;

  @Override
  public void widen(Operand half, long from, Operand wide) {
    DType t = half.dtype();
    short[] h = (short[]) array(half);
    double[] w = (double[]) array(wide);
    int at = (int) from;
    split(
        w.length,
        CONVERSION_GRAIN,
        (lo, hi) -> {
          for (int i = lo; i < hi; i++) w[i] = t.decode(h[at + i]);
        });
  }

  @Override
  public void narrow(Operand wide, Operand x, int tieSign, Operand half, long from) {
    DType t = half.dtype();
    double[] w = (double[]) array(wide);
    double[] xs = x == null ? null : (double[]) array(x);
    short[] h = (short[]) array(half);
    int at = (int) from;
    split(
        w.length,
        CONVERSION_GRAIN,
        (lo, hi) -> {
          if (tieSign == 0) {
            for (int i = lo; i < hi; i++) h[at + i] = t.encode(w[i]);
          } else {
            for (int i = lo; i < hi; i++) {
              h[at + i] = t.encode(HalfRounding.tieBroken(t, tieSign, xs[i], w[i]));
            }
          }
        });
  }

  private void channelForward(Activation f, Shape shape, Operand x, Operand w, Operand y) {
    int axis = f.channelAxis(shape);
    int channels = shape.dim(axis);
    long outer = shape.outer(axis);
    long inner = shape.inner(axis);
    Slice xs = slice(x);
    Slice ys = output(f, y);
    Slice ws = slice(w);
    int weights = w == null ? 0 : (int) w.length();
    splitOuter(
        outer,
        (long) channels * inner,
        (from, to) -> {
          switch (f.function()) {
            case PRELU ->
                ChannelKernels.preluForward(xs, ws, weights, ys, from, to, channels, inner);
            case CRELU -> ChannelKernels.creluForward(xs, ys, from, to, channels, inner);
            case MAXOUT ->
                ChannelKernels.maxoutForward(xs, ys, from, to, channels, inner, f.pieces());
            default -> throw new IllegalStateException(f.function().id());
          }
        });
  }

  private void channelBackward(
      Activation f, Shape shape, Operand x, Operand w, Operand g, Operand dx, Operand gw) {
    int axis = f.channelAxis(shape);
    int channels = shape.dim(axis);
    long outer = shape.outer(axis);
    long inner = shape.inner(axis);
    Slice xs = slice(x);
    Slice gs = slice(g);
    Slice dxs = output(f, dx);
    Slice ws = slice(w);
    if (f.function() == Function.PRELU) {
      int weights = (int) w.length();
      // The weight gradient first: gradInput may alias x or gradOutput.
      Slice gws = slice(gw);
      split(
          weights,
          1,
          (cFrom, cTo) ->
              ChannelKernels.preluBackwardWeight(
                  xs, gs, gws, weights, cFrom, cTo, outer, channels, inner));
      splitOuter(
          outer,
          (long) channels * inner,
          (from, to) ->
              ChannelKernels.preluBackwardInput(
                  xs, ws, weights, gs, dxs, from, to, channels, inner));
      return;
    }
    splitOuter(
        outer,
        (long) channels * inner,
        (from, to) -> {
          switch (f.function()) {
            case CRELU -> ChannelKernels.creluBackward(xs, gs, dxs, from, to, channels, inner);
            case MAXOUT ->
                ChannelKernels.maxoutBackward(xs, gs, dxs, from, to, channels, inner, f.pieces());
            default -> throw new IllegalStateException(f.function().id());
          }
        });
  }

  private static int grain(Activation f) {
    return ElementwiseKernels.memoryBound(f) ? MEMORY_BOUND_GRAIN : COMPUTE_BOUND_GRAIN;
  }

  @FunctionalInterface
  private interface IntRange {
    void run(int from, int to);
  }

  @FunctionalInterface
  private interface LongRange {
    void run(long from, long to);
  }

  /** Runs {@code [0, n)} in up to {@code threads} contiguous parts of at least {@code grain}. */
  private void split(int n, int grain, IntRange body) {
    int parts = pool == null ? 1 : (int) Math.min(threads, Math.max(1, (long) n / grain));
    if (parts <= 1) {
      body.run(0, n);
      return;
    }
    List<ForkJoinTask<?>> tasks = new ArrayList<>(parts - 1);
    for (int p = 1; p < parts; p++) {
      int from = (int) ((long) n * p / parts);
      int to = (int) ((long) n * (p + 1) / parts);
      tasks.add(pool.submit(() -> body.run(from, to)));
    }
    body.run(0, (int) ((long) n / parts));
    for (ForkJoinTask<?> t : tasks) t.join();
  }

  /** {@link #split} over outer indices, each of {@code perOuter} elements. */
  private void splitOuter(long outer, long perOuter, LongRange body) {
    long grain = Math.max(1, COMPUTE_BOUND_GRAIN / Math.max(1, perOuter));
    int parts = pool == null ? 1 : (int) Math.min(threads, Math.max(1, outer / grain));
    if (parts <= 1) {
      body.run(0, outer);
      return;
    }
    List<ForkJoinTask<?>> tasks = new ArrayList<>(parts - 1);
    for (int p = 1; p < parts; p++) {
      long from = outer * p / parts;
      long to = outer * (p + 1) / parts;
      tasks.add(pool.submit(() -> body.run(from, to)));
    }
    body.run(0, outer / parts);
    for (ForkJoinTask<?> t : tasks) t.join();
  }

  @Override
  public void close() {
    if (pool != null) pool.shutdown();
  }
}
