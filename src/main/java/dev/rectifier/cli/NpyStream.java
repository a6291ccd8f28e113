package dev.rectifier.cli;

import dev.rectifier.Activation;
import dev.rectifier.ActivationStats;
import dev.rectifier.DType;
import dev.rectifier.Rectifier;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Elementwise forward and backward over {@code .npy} files of any size, larger than memory
 * included: the inputs are read a chunk at a time (positional reads into one direct buffer), each
 * chunk computed through the engine (so on any backend), its result written in order to the file
 * {@link Outputs} gives (a temporary file renamed over the target once complete, so the target is
 * untouched on an error; or a device or FIFO written as a stream). A progress bar shows on a
 * terminal for large files.
 *
 * <p>Not memory maps, though they were the first choice: on a 4 GiB float32 file here, mapping each
 * chunk took 11.8 s for relu and grew the process to 8.5 GB resident (every mapped page counts, and
 * writing a fresh file through a map faults each page in), where reads and writes take 2.5 s in 105
 * MB, beside {@code cp}'s 2.0-3.0 s for the same file.
 *
 * <p>Chunks are computed as separate calls, so only functions without a per-element counter may
 * stream: every function but PReLU, CReLU, Maxout (which need the whole tensor's shape) and RReLU
 * in training (whose random slopes are numbered from the start of a call).
 */
final class NpyStream {
  /** Inputs larger than this stream without being asked to (bytes of data). */
  static final long STREAM_ABOVE = 256L << 20;

  /** Elements per chunk: 16 MiB of float32, large enough that a call's fixed cost vanishes. */
  static final int DEFAULT_CHUNK = 1 << 22;

  private NpyStream() {}

  /** Whether {@code f} may be computed a chunk at a time. */
  static boolean streams(Activation f) {
    return f.splittable();
  }

  /**
   * Computes {@code f} over {@code x} (and, backward, {@code g}) into {@code written}, the file
   * that {@link Outputs#add} gave for {@code target}.
   *
   * @param g the gradient's layout and file, null forward
   * @param old the layout of {@code target}, read chunk by chunk as the blend's old output, when
   *     {@code f} blends into it (checked by the caller); null otherwise
   * @param fromOutput backward from the output: {@code x} holds {@code y = f(x)}
   * @param stats a forward that takes its statistics, chunk by chunk (whole records when {@code
   *     chunk} is a multiple of {@link ActivationStats#BLOCK}, as the caller makes it)
   * @return the statistics with {@code stats}, else null
   */
  static ActivationStats run(
      Rectifier engine,
      Activation f,
      Npy.Layout x,
      Path xFile,
      Npy.Layout g,
      Path gFile,
      Npy.Layout old,
      Path target,
      Path written,
      int chunk,
      boolean fromOutput,
      boolean stats,
      String label)
      throws IOException {
    DType t = x.dtype();
    int b = t.bytes();
    byte[] header = Npy.header(t, x.shape());
    boolean bar = System.console() != null && x.bytes() > STREAM_ABOVE;
    ActivationStats sum = stats ? ActivationStats.NONE : null;
    // written in order, never by position: a FIFO or a device given as the output takes a stream
    try (FileChannel xc = FileChannel.open(xFile, StandardOpenOption.READ);
        FileChannel gc = g == null ? null : FileChannel.open(gFile, StandardOpenOption.READ);
        FileChannel oldc = old == null ? null : FileChannel.open(target, StandardOpenOption.READ);
        FileChannel oc = openOutput(target, written);
        ProgressBar progress = bar ? bar(label, x.count()) : null) {
      writeFully(oc, ByteBuffer.wrap(header), target);
      int size = (int) Math.min(chunk, Math.max(1, x.count()));
      Object xs = chunkArray(t, size);
      Object gs = g == null ? null : chunkArray(t, size);
      Object ys = chunkArray(t, size);
      ByteBuffer io = ByteBuffer.allocateDirect(size * b);
      for (long from = 0; from < x.count(); from += size) {
        int n = (int) Math.min(size, x.count() - from);
        read(xc, x.dataStart() + from * b, io, n * b, x.order(), xs, n);
        if (g != null) read(gc, g.dataStart() + from * b, io, n * b, g.order(), gs, n);
        if (old != null) read(oldc, old.dataStart() + from * b, io, n * b, old.order(), ys, n);
        if (stats) {
          ActivationStats part =
              xs instanceof float[] xf
                  ? engine.forwardWithStats(f, xf, 0, (float[]) ys, 0, n)
                  : engine.forwardWithStats(f, (double[]) xs, 0, (double[]) ys, 0, n);
          sum = sum.plus(part);
        } else {
          compute(engine, f, t, xs, gs, ys, n, fromOutput);
        }
        io.clear().limit(n * b);
        io.order(ByteOrder.LITTLE_ENDIAN);
        if (ys instanceof float[] a) io.asFloatBuffer().put(a, 0, n);
        else if (ys instanceof short[] a) io.asShortBuffer().put(a, 0, n);
        else io.asDoubleBuffer().put((double[]) ys, 0, n);
        writeFully(oc, io, target);
        if (progress != null) progress.stepBy(n);
      }
    }
    return sum;
  }

  /** The staged file (or device) for {@code target}: it exists, and is never created here. */
  private static FileChannel openOutput(Path target, Path written) throws IOException {
    try {
      return FileChannel.open(
          written, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    } catch (IOException e) {
      throw new IOException("writing " + target + ": " + Outputs.describe(e), e);
    }
  }

  private static void writeFully(FileChannel out, ByteBuffer data, Path target) throws IOException {
    try {
      while (data.hasRemaining()) out.write(data);
    } catch (IOException e) {
      // a full disk, or a FIFO whose reader went away: named with the file the user gave
      throw new IOException("writing " + target + ": " + Outputs.describe(e), e);
    }
  }

  private static ProgressBar bar(String label, long count) {
    return new ProgressBarBuilder()
        .setTaskName(label)
        .setInitialMax(count)
        .setUnit(" M elements", 1_000_000)
        .setStyle(ProgressBarStyle.ASCII)
        .showSpeed()
        .build();
  }

  /**
   * Reads {@code bytes} at {@code at} through {@code io} into the first elements of {@code into}.
   */
  private static void read(
      FileChannel ch, long at, ByteBuffer io, int bytes, ByteOrder order, Object into, int n)
      throws IOException {
    io.clear().limit(bytes);
    while (io.hasRemaining()) {
      int r = ch.read(io, at + io.position());
      if (r < 0) throw new IOException("the file ended early (it changed while being read?)");
    }
    io.flip();
    io.order(order);
    if (into instanceof float[] a) io.asFloatBuffer().get(a, 0, n);
    else if (into instanceof short[] a) io.asShortBuffer().get(a, 0, n);
    else io.asDoubleBuffer().get((double[]) into, 0, n);
  }

  /** A chunk's array: short[] for the 16-bit storage types. */
  private static Object chunkArray(DType t, int size) {
    if (t.isHalf()) return new short[size];
    return t == DType.FLOAT32 ? new float[size] : new double[size];
  }

  private static void compute(
      Rectifier r, Activation f, DType t, Object x, Object g, Object y, int n, boolean fromOutput) {
    if (x instanceof short[] xs) { // the caller refuses --from-output on these types
      if (g == null) r.forward(f, t, xs, 0, (short[]) y, 0, n);
      else r.backward(f, t, xs, 0, (short[]) g, 0, (short[]) y, 0, n);
      return;
    }
    if (fromOutput) {
      if (x instanceof float[] xf)
        r.backwardFromOutput(f, xf, 0, (float[]) g, 0, (float[]) y, 0, n);
      else r.backwardFromOutput(f, (double[]) x, 0, (double[]) g, 0, (double[]) y, 0, n);
      return;
    }
    if (x instanceof float[] xf) {
      if (g == null) r.forward(f, xf, 0, (float[]) y, 0, n);
      else r.backward(f, xf, 0, (float[]) g, 0, (float[]) y, 0, n);
    } else {
      double[] xd = (double[]) x;
      if (g == null) r.forward(f, xd, 0, (double[]) y, 0, n);
      else r.backward(f, xd, 0, (double[]) g, 0, (double[]) y, 0, n);
    }
  }
}
