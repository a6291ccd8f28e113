package dev.rectifier;

import dev.rectifier.spi.BackendBuffer;
import dev.rectifier.spi.HostArray;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A tensor's memory on the engine's backend (device memory on a GPU, a Java array it owns on the
 * CPU), so that a chain of calls keeps its data where it is computed. Made by {@link
 * Rectifier#allocate} or {@link Rectifier#upload}. A {@link DType#FLOAT16} or {@link
 * DType#BFLOAT16} buffer lives on the backend that computes float64 and is copied to and from
 * {@code short[]} bit patterns; its calls widen it there, a part at a time, and round back once.
 *
 * <p>Ownership: the caller owns the buffer and closes it; {@link #close()} is idempotent. A buffer
 * still open when its engine closes is freed there and reported as a leak. Using a closed buffer is
 * an {@link IllegalStateException}. Copies are thread-safe; what a call computes into a buffer that
 * another thread reads at the same time is not defined.
 */
public final class DeviceBuffer implements AutoCloseable {
  private final Rectifier owner;
  private final BackendBuffer buffer;
  private final String origin;
  private final AtomicBoolean closed = new AtomicBoolean();

  DeviceBuffer(Rectifier owner, BackendBuffer buffer, String origin) {
    this.owner = owner;
    this.buffer = buffer;
    this.origin = origin;
  }

  /** The element type. */
  public DType dtype() {
    return buffer.dtype();
  }

  /** The number of elements. */
  public long length() {
    return buffer.length();
  }

  /** A whole-array copy takes an array of exactly this buffer's length. */
  private void wholeArray(String name, int n) {
    if (n != length()) {
      throw new IllegalArgumentException(
          name
              + " has "
              + n
              + " elements but the buffer "
              + length()
              + "; give an array of its length, or the overload with offsets and a length");
    }
  }

  /** True once closed. */
  public boolean isClosed() {
    return closed.get();
  }

  /** Copies {@code src}, as long as this buffer, into it. */
  public void copyFrom(float[] src) {
    wholeArray("src", src.length);
    copyFrom(src, 0, 0, src.length);
  }

  /** Copies {@code src}, as long as this buffer, into it. */
  public void copyFrom(double[] src) {
    wholeArray("src", src.length);
    copyFrom(src, 0, 0, src.length);
  }

  /** Copies {@code length} elements of {@code src} from {@code srcOffset} to {@code dstOffset}. */
  public void copyFrom(float[] src, int srcOffset, long dstOffset, int length) {
    owner.copy(this, dstOffset, src, srcOffset, length, true);
  }

  /** Copies {@code length} elements of {@code src} from {@code srcOffset} to {@code dstOffset}. */
  public void copyFrom(double[] src, int srcOffset, long dstOffset, int length) {
    owner.copy(this, dstOffset, src, srcOffset, length, true);
  }

  /** Copies this buffer into {@code dst}, as long as it. */
  public void copyTo(float[] dst) {
    wholeArray("dst", dst.length);
    copyTo(0, dst, 0, dst.length);
  }

  /** Copies this buffer into {@code dst}, as long as it. */
  public void copyTo(double[] dst) {
    wholeArray("dst", dst.length);
    copyTo(0, dst, 0, dst.length);
  }

  /**
   * Copies {@code length} elements from {@code srcOffset} into {@code dst} at {@code dstOffset}.
   */
  public void copyTo(long srcOffset, float[] dst, int dstOffset, int length) {
    owner.copy(this, srcOffset, dst, dstOffset, length, false);
  }

  /**
   * Copies {@code length} elements from {@code srcOffset} into {@code dst} at {@code dstOffset}.
   */
  public void copyTo(long srcOffset, double[] dst, int dstOffset, int length) {
    owner.copy(this, srcOffset, dst, dstOffset, length, false);
  }

  /**
   * Copies all of {@code src}, bit patterns of this buffer's type, into this {@link DType#FLOAT16}
   * or {@link DType#BFLOAT16} buffer from element 0.
   */
  public void copyFrom(short[] src) {
    wholeArray("src", src.length);
    copyFrom(src, 0, 0, src.length);
  }

  /**
   * Copies {@code length} bit patterns of {@code src} from {@code srcOffset} to {@code dstOffset}.
   */
  public void copyFrom(short[] src, int srcOffset, long dstOffset, int length) {
    owner.copy(this, dstOffset, src, srcOffset, length, true);
  }

  /** Copies the bit patterns of this 16-bit buffer into {@code dst}, as long as it. */
  public void copyTo(short[] dst) {
    wholeArray("dst", dst.length);
    copyTo(0, dst, 0, dst.length);
  }

  /**
   * Copies {@code length} bit patterns from {@code srcOffset} into {@code dst} at {@code
   * dstOffset}.
   */
  public void copyTo(long srcOffset, short[] dst, int dstOffset, int length) {
    owner.copy(this, srcOffset, dst, dstOffset, length, false);
  }

  /** The whole buffer as a new array of bit patterns (float16 and bfloat16 buffers only). */
  public short[] toShortArray() {
    short[] a = new short[Math.toIntExact(length())];
    copyTo(a);
    return a;
  }

  /** Copies {@code src} (a mask's words, as many as this int32 buffer holds) into it. */
  public void copyFrom(int[] src) {
    wholeArray("src", src.length);
    owner.copy(this, 0, src, 0, src.length, true);
  }

  /** Copies the words of this int32 buffer into {@code dst}, as long as it. */
  public void copyTo(int[] dst) {
    wholeArray("dst", dst.length);
    owner.copy(this, 0, dst, 0, dst.length, false);
  }

  /** The whole buffer as a new array (int32 buffers only: a mask's words). */
  public int[] toIntArray() {
    int[] a = new int[Math.toIntExact(length())];
    copyTo(a);
    return a;
  }

  /** The whole buffer as a new array (float32 buffers only). */
  public float[] toFloatArray() {
    float[] a = new float[Math.toIntExact(length())];
    copyTo(a);
    return a;
  }

  /** The whole buffer as a new array (float64 buffers only). */
  public double[] toDoubleArray() {
    double[] a = new double[Math.toIntExact(length())];
    copyTo(a);
    return a;
  }

  /** Frees the memory. Idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      owner.release(this);
    }
  }

  Rectifier owner() {
    return owner;
  }

  BackendBuffer backendBuffer() {
    if (closed.get()) {
      throw new IllegalStateException("the buffer " + this + " is closed; allocate a new one");
    }
    return buffer;
  }

  /** Closes without reporting: the engine's cleanup of a leaked buffer. */
  void closeLeaked() {
    if (closed.compareAndSet(false, true)) buffer.close();
  }

  BackendBuffer rawBuffer() {
    return buffer;
  }

  String origin() {
    return origin;
  }

  @Override
  public String toString() {
    return dtype().shortName() + "[" + length() + "] allocated at " + origin;
  }

  static HostArray host(Object array, int offset, int length, String name) {
    checkRange(java.lang.reflect.Array.getLength(array), offset, length, name);
    return new HostArray(array, offset, length);
  }

  /**
   * Refuses a range of {@code length} elements from {@code offset} that an array of {@code size}
   * lacks.
   */
  static void checkRange(int size, int offset, int length, String name) {
    if (offset == 0 && length > size) {
      throw new IllegalArgumentException(
          name + " has " + size + " elements; the call needs " + length);
    }
    if (offset < 0 || length < 0 || (long) offset + length > size) {
      throw new IllegalArgumentException(
          name
              + ": offset "
              + offset
              + " and length "
              + length
              + " do not fit its array of "
              + size
              + " elements");
    }
  }
}
