package dev.rectifier.cli;

import dev.rectifier.DType;
import dev.rectifier.spi.Text;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * NumPy {@code .npy} files of float32, float64, float16 ({@code <f2}), bfloat16 (its bit patterns
 * as {@code <u2}, or {@code V2} as ml_dtypes saves it: NumPy has no bfloat16) and int32 (masks), C
 * order, header versions 1, 2 and 3 (the format of numpy/lib/format.py). Written here because no
 * maintained Java library reads {@code .npy} without pulling in a runtime of its own (the Kotlin
 * one needs kotlin-stdlib), and the format is one header and raw data.
 *
 * <p>Every defect is an {@link NpyException} whose message names the file and what is wrong. The
 * header is checked against the file's size before any data is read, so a header that claims more
 * elements than the file holds costs nothing.
 */
public final class Npy {
  private Npy() {}

  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final int MAX_HEADER = 1 << 20;

  /** A bad {@code .npy} file, or one this tool does not take. */
  public static final class NpyException extends IOException {
    private static final long serialVersionUID = 1L;

    NpyException(String message) {
      super(message);
    }
  }

  /**
   * An array read from a file: its type, shape and data (a {@code float[]}, {@code double[]},
   * {@code int[]}, or {@code short[]} of float16 or bfloat16 bit patterns).
   */
  public record Array(DType dtype, int[] shape, Object data) {
    /** The number of elements. */
    public long size() {
      long n = 1;
      for (int d : shape) n *= d;
      return n;
    }

    /** The shape as {@code [2, 3]}. */
    public String shapeText() {
      return Arrays.toString(shape);
    }
  }

  /**
   * Where a file's data lies and what it is, from its header alone (the data is not read): the
   * header is checked as {@link #read} checks it, and the file must hold all the data it promises.
   *
   * @param order the byte order of the data
   * @param dataStart the offset of the first element
   * @param count the number of elements (any, up to 2^63 bytes)
   */
  public record Layout(DType dtype, ByteOrder order, long[] shape, long dataStart, long count) {
    /** The size of the data in bytes. */
    public long bytes() {
      return count * dtype.bytes();
    }
  }

  /** The layout of {@code file}; see {@link Layout}. */
  public static Layout layout(Path file) throws IOException {
    if (Files.isDirectory(file)) throw new NpyException(file + " is a directory, not a .npy file");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return layout(ch, file);
    } catch (NoSuchFileException e) {
      throw new NpyException(file + " does not exist");
    }
  }

  private static Layout layout(FileChannel ch, Path file) throws IOException {
    long fileSize = ch.size();
    ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, pre, file);
    pre.flip();
    if (pre.remaining() < 10) throw new NpyException(file + " is not a .npy file (too short)");
    byte[] magic = new byte[6];
    pre.get(magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new NpyException(file + " is not a .npy file (no \\x93NUMPY magic)");
    }
    int major = pre.get() & 0xFF;
    pre.get(); // minor
    long headerLen;
    int headerStart;
    if (major == 1) {
      headerLen = pre.getShort() & 0xFFFF;
      headerStart = 10;
    } else if (major == 2 || major == 3) {
      if (pre.remaining() < 4) throw new NpyException(file + " is truncated in its header");
      headerLen = pre.getInt() & 0xFFFFFFFFL;
      headerStart = 12;
    } else {
      throw new NpyException(
          file + " has .npy format version " + major + "; versions 1-3 are read");
    }
    if (headerLen > MAX_HEADER || headerStart + headerLen > fileSize) {
      throw new NpyException(file + " is truncated or malformed: its header runs past the file");
    }
    ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
    ch.position(headerStart);
    readFully(ch, hb, file);
    if (hb.hasRemaining()) throw new NpyException(file + " is truncated in its header");
    String header =
        new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    Header h = parseHeader(header, file);
    long dataStart = headerStart + headerLen;
    long size = 1;
    for (long d : h.shape) {
      size = multiplyChecked(size, d, file);
    }
    long bytes = multiplyChecked(size, h.dtype.bytes(), file);
    if (dataStart + bytes > fileSize) {
      throw new NpyException(
          file
              + " is truncated: its header promises "
              + size
              + " elements ("
              + bytes
              + " bytes) but only "
              + (fileSize - dataStart)
              + " bytes of data follow");
    }
    return new Layout(h.dtype, h.order, h.shape, dataStart, size);
  }

  /** Reads {@code file}. */
  public static Array read(Path file) throws IOException {
    if (Files.isDirectory(file)) throw new NpyException(file + " is a directory, not a .npy file");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      Layout l = layout(ch, file);
      long size = l.count();
      if (size > Integer.MAX_VALUE - 8) {
        throw new NpyException(
            file + " has " + size + " elements; this version reads at most 2^31 - 9 per file");
      }
      ByteBuffer data =
          ch.map(FileChannel.MapMode.READ_ONLY, l.dataStart(), l.bytes()).order(l.order());
      Object array;
      if (l.dtype() == DType.FLOAT32) {
        float[] a = new float[(int) size];
        data.asFloatBuffer().get(a);
        array = a;
      } else if (l.dtype() == DType.INT32) {
        int[] a = new int[(int) size];
        data.asIntBuffer().get(a);
        array = a;
      } else if (l.dtype().isHalf()) {
        short[] a = new short[(int) size];
        data.asShortBuffer().get(a);
        array = a;
      } else {
        double[] a = new double[(int) size];
        data.asDoubleBuffer().get(a);
        array = a;
      }
      int[] dims = new int[l.shape().length];
      for (int i = 0; i < dims.length; i++) dims[i] = (int) l.shape()[i]; // each <= size < 2^31
      return new Array(l.dtype(), dims, array);
    } catch (NoSuchFileException e) {
      throw new NpyException(file + " does not exist");
    }
  }

  private static long multiplyChecked(long a, long b, Path file) throws NpyException {
    try {
      return Math.multiplyExact(a, b);
    } catch (ArithmeticException e) {
      throw new NpyException(file + " is malformed: its shape overflows 64 bits");
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer b, Path file) throws IOException {
    while (b.hasRemaining()) {
      if (ch.read(b) < 0) break;
    }
  }

  private record Header(DType dtype, ByteOrder order, long[] shape) {}

  private static Header parseHeader(String header, Path file) throws NpyException {
    Map<String, Object> dict;
    try {
      dict = NpyHeader.parse(header);
    } catch (IllegalArgumentException e) {
      throw new NpyException(
          file
              + " is malformed: its header is not a Python dict of literals ("
              + e.getMessage()
              + ")");
    }
    if (!dict.keySet().equals(Set.of("descr", "fortran_order", "shape"))) {
      throw new NpyException(
          file
              + " is malformed: its header has the keys "
              + Text.excerpt(String.valueOf(dict.keySet()))
              + "; NumPy writes (and reads) exactly 'descr', 'fortran_order' and 'shape'");
    }
    if (!(dict.get("descr") instanceof String descr)
        || !(dict.get("fortran_order") instanceof Boolean fortran)
        || !(dict.get("shape") instanceof long[] shape)) {
      throw new NpyException(
          file
              + " is malformed: 'descr' must be a string, 'fortran_order' True or False and"
              + " 'shape' a tuple");
    }
    // the byte order, then the type: '<' or '=' (native, little-endian on every host we run on)
    // or '>', then f4, f8, f2, u2 (bfloat16's bits) or i4 (a mask's words); '|' (no order) with
    // V2: ml_dtypes' bfloat16 as np.save writes it
    ByteOrder order =
        descr.startsWith(">")
            ? ByteOrder.BIG_ENDIAN
            : (descr.startsWith("<") || descr.startsWith("=") || descr.equals("|V2"))
                ? ByteOrder.LITTLE_ENDIAN
                : null;
    DType dtype =
        order == null
            ? null
            : switch (descr.substring(1)) {
              case "f4" -> DType.FLOAT32;
              case "f8" -> DType.FLOAT64;
              case "f2" -> DType.FLOAT16;
              case "u2", "V2" -> DType.BFLOAT16;
              case "i4" -> DType.INT32;
              default -> null;
            };
    if (dtype == null) {
      throw new NpyException(
          file
              + " holds '"
              + Text.excerpt(descr)
              + "'; float32 ('<f4'), float64 ('<f8'), float16 ('<f2') and bfloat16 bits ('<u2')"
              + " are read: convert it with numpy's astype(np.float32)");
    }
    if (fortran) {
      throw new NpyException(
          file + " is in Fortran order; save it in C order (numpy.ascontiguousarray)");
    }
    return new Header(dtype, order, shape);
  }

  /**
   * Writes {@code data} (float[], double[], or int[] for a mask's words) with {@code shape} to
   * {@code target} through a temporary file in the same directory renamed over it at the end, so
   * {@code target} is either untouched or complete.
   */
  public static void writeAtomically(Path target, int[] shape, Object data) throws IOException {
    writeAtomically(target, shape, typeOf(data), data);
  }

  /**
   * {@link #writeAtomically(Path, int[], Object)} with the type given: a short[] of float16 or
   * bfloat16.
   */
  public static void writeAtomically(Path target, int[] shape, DType dtype, Object data)
      throws IOException {
    Path tmp = temporaryBeside(target);
    try {
      write(tmp, shape, dtype, data);
      moveOver(tmp, target);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static DType typeOf(Object data) {
    return data instanceof float[]
        ? DType.FLOAT32
        : data instanceof int[] ? DType.INT32 : DType.FLOAT64;
  }

  /**
   * A new empty file beside {@code target}, for writing a result that {@link #moveOver} then puts
   * in place whole. Not Files.createTempFile: that makes the file owner-only (0600), and the rename
   * would carry it to the output; createFile gives what a new file normally gets (umask).
   */
  static Path temporaryBeside(Path target) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    // Not Files.createTempFile: it makes the file owner-only (0600), and the rename would carry
    // that to the output. createFile gives the permissions a new file normally gets (umask).
    Path tmp = null;
    for (int attempt = 0; tmp == null; attempt++) {
      Path candidate =
          dir.resolve(
              "." + target.getFileName() + "." + Long.toHexString(System.nanoTime()) + ".tmp");
      try {
        tmp = Files.createFile(candidate);
      } catch (FileAlreadyExistsException e) {
        if (attempt > 100) throw e;
      }
    }
    return tmp;
  }

  /** Renames {@code tmp} over {@code target}, atomically where the file system can. */
  static void moveOver(Path tmp, Path target) throws IOException {
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Writes a version 1 header (version 2 when it does not fit) and the data, little-endian. */
  public static void write(Path file, int[] shape, Object data) throws IOException {
    write(file, shape, typeOf(data), data);
  }

  /** {@link #write(Path, int[], Object)} with the type given: a short[] of float16 or bfloat16. */
  public static void write(Path file, int[] shape, DType dtype, Object data) throws IOException {
    write(Files.newOutputStream(file), shape, dtype, data);
  }

  /**
   * {@link #write(Path, int[], DType, Object)} into a file that exists (a run's staged file, a
   * device, a FIFO): never created here, so a staged file removed by an interrupt stays removed.
   */
  static void writeExisting(Path file, int[] shape, DType dtype, Object data) throws IOException {
    write(
        Files.newOutputStream(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING),
        shape,
        dtype,
        data);
  }

  private static void write(OutputStream stream, int[] shape, DType dtype, Object data)
      throws IOException {
    long[] dimsLong = new long[shape.length];
    for (int i = 0; i < shape.length; i++) dimsLong[i] = shape[i];
    try (OutputStream out = stream) {
      out.write(header(dtype, dimsLong));
      int n = java.lang.reflect.Array.getLength(data);
      int width = dtype.bytes();
      ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; ) {
        chunk.clear();
        int m = Math.min(n - i, chunk.capacity() / width);
        if (data instanceof float[] a) chunk.asFloatBuffer().put(a, i, m);
        else if (data instanceof int[] a) chunk.asIntBuffer().put(a, i, m);
        else if (data instanceof short[] a) chunk.asShortBuffer().put(a, i, m);
        else chunk.asDoubleBuffer().put((double[]) data, i, m);
        out.write(chunk.array(), 0, m * width);
        i += m;
      }
    }
  }

  /**
   * The magic, version and header of a little-endian C-order file of {@code dtype} and {@code
   * shape}, padded so that the data starts on a 64-byte boundary, as numpy does.
   */
  static byte[] header(DType dtype, long[] shape) {
    StringBuilder dims = new StringBuilder();
    for (int i = 0; i < shape.length; i++) {
      dims.append(shape[i]).append(shape.length == 1 ? "," : (i + 1 < shape.length ? ", " : ""));
    }
    String dict =
        "{'descr': '"
            + "<"
            + (dtype == DType.BFLOAT16 ? 'u' : dtype.shortName().charAt(0)) // bfloat16: bits
            + dtype.bytes()
            + "', 'fortran_order': False, 'shape': ("
            + dims
            + "), }";
    // Pad with spaces and a newline so the data starts on a 64-byte boundary, as numpy does.
    int prefix = 10;
    int total = ((prefix + dict.length() + 1 + 63) / 64) * 64;
    int version = 1;
    if (total - prefix > 0xFFFF) {
      prefix = 12;
      total = ((prefix + dict.length() + 1 + 63) / 64) * 64;
      version = 2;
    }
    String header = dict + " ".repeat(total - prefix - dict.length() - 1) + "\n";
    ByteBuffer head = ByteBuffer.allocate(prefix + header.length()).order(ByteOrder.LITTLE_ENDIAN);
    head.put(MAGIC).put((byte) version).put((byte) 0);
    if (version == 1) head.putShort((short) header.length());
    else head.putInt(header.length());
    head.put(header.getBytes(StandardCharsets.ISO_8859_1));
    return head.array();
  }
}
