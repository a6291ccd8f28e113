package dev.rectifier.spi;

import dev.rectifier.DType;
import java.nio.ByteBuffer;

/**
 * A range of a Java array: {@link #count()} elements from {@link #offset()}. Borrowed for one call:
 * a backend must not keep it.
 */
public final class HostArray implements Operand {
  private final Object array;
  private final int offset;
  private final int count;
  private final DType dtype;

  /**
   * @param array a {@code float[]}, {@code double[]} or {@code int[]} (a mask's words)
   */
  public HostArray(Object array, int offset, int count) {
    if (!(array instanceof float[] || array instanceof double[] || array instanceof int[])) {
      throw new IllegalArgumentException("a host array is a float[], a double[] or an int[]");
    }
    this.array = array;
    this.offset = offset;
    this.count = count;
    if (array instanceof float[]) dtype = DType.FLOAT32;
    else dtype = array instanceof double[] ? DType.FLOAT64 : DType.INT32;
  }

  /**
   * A range of a {@code short[]} of {@code storage} bit patterns ({@link DType#FLOAT16} or {@link
   * DType#BFLOAT16}): only copied to and from buffers of that type, never computed on.
   */
  public HostArray(short[] array, int offset, int count, DType storage) {
    if (!storage.isHalf()) {
      throw new IllegalArgumentException("a short[] holds FLOAT16 or BFLOAT16, not " + storage);
    }
    this.array = array;
    this.offset = offset;
    this.count = count;
    this.dtype = storage;
  }

  /** The {@code float[]}, {@code double[]}, {@code int[]} or {@code short[]}. */
  public Object array() {
    return array;
  }

  /** The index of the first element. */
  public int offset() {
    return offset;
  }

  /** The number of elements, as an int. */
  public int count() {
    return count;
  }

  /**
   * Whether {@code other} is the same elements of the same array (an in-place call's two sides).
   */
  public boolean sameRange(HostArray other) {
    return array == other.array && offset == other.offset && count == other.count;
  }

  @Override
  public DType dtype() {
    return dtype;
  }

  @Override
  public long length() {
    return count;
  }

  /**
   * Copies {@code n} elements from element {@code from} of this range to the start of {@code b}
   * (native order, as staging memory is): how device backends fill their staging buffers.
   */
  public void copyTo(ByteBuffer b, int from, int n) {
    b.clear();
    if (array instanceof float[] a) b.asFloatBuffer().put(a, offset + from, n);
    else if (array instanceof int[] a) b.asIntBuffer().put(a, offset + from, n);
    else if (array instanceof short[] a) b.asShortBuffer().put(a, offset + from, n);
    else b.asDoubleBuffer().put((double[]) array, offset + from, n);
  }

  /**
   * Copies {@code n} elements from the start of {@code b} to element {@code from} of this range.
   */
  public void copyFrom(ByteBuffer b, int from, int n) {
    b.clear();
    if (array instanceof float[] a) b.asFloatBuffer().get(a, offset + from, n);
    else if (array instanceof int[] a) b.asIntBuffer().get(a, offset + from, n);
    else if (array instanceof short[] a) b.asShortBuffer().get(a, offset + from, n);
    else b.asDoubleBuffer().get((double[]) array, offset + from, n);
  }
}
