package dev.rectifier;

import java.util.Arrays;

/**
 * The dimensions of a C-ordered (row-major) tensor. Needed by the functions that act along a
 * channel axis ({@code prelu}, {@code crelu}, {@code maxout}); the elementwise functions see only
 * the element count. Immutable and thread-safe.
 */
public final class Shape {
  private final int[] dims;
  private final long size;

  private Shape(int[] dims) {
    long n = 1;
    for (int i = 0; i < dims.length; i++) {
      if (dims[i] < 0) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(dims) + " has a negative dimension at index " + i);
      }
      if (dims[i] == 0) n = 0; // [huge, huge, huge, 0] holds nothing, however its product runs
    }
    for (int i = 0; i < dims.length && n != 0; i++) {
      try {
        n = Math.multiplyExact(n, dims[i]);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(
            "shape "
                + Arrays.toString(dims)
                + " has more than 2^63 - 1 elements; no array holds it");
      }
    }
    this.dims = dims;
    this.size = n;
  }

  /** A shape with the given dimensions (none: a scalar of one element). */
  public static Shape of(int... dims) {
    return new Shape(dims.clone());
  }

  /** The one-dimensional shape {@code [length]}. */
  public static Shape vector(int length) {
    return new Shape(new int[] {length});
  }

  /** Number of dimensions. */
  public int rank() {
    return dims.length;
  }

  /** Size of dimension {@code axis} (0-based; negative counts from the end). */
  public int dim(int axis) {
    return dims[resolveAxis(axis)];
  }

  /** A copy of the dimensions. */
  public int[] dims() {
    return dims.clone();
  }

  /** Number of elements, the product of the dimensions. */
  public long size() {
    return size;
  }

  /**
   * Resolves a possibly negative axis ({@code -1} is the last) to {@code 0..rank-1}.
   *
   * @throws IllegalArgumentException when the axis is outside the shape
   */
  public int resolveAxis(int axis) {
    int a = axis < 0 ? axis + dims.length : axis;
    if (a < 0 || a >= dims.length) {
      throw new IllegalArgumentException(
          "channel axis "
              + axis
              + " is out of range for shape "
              + this
              + " (rank "
              + dims.length
              + "); give an axis in "
              + (dims.length == 0
                  ? "a tensor of rank 1 or more"
                  : -dims.length + ".." + (dims.length - 1)));
    }
    return a;
  }

  /** Product of the dimensions before {@code axis}. */
  public long outer(int axis) {
    long n = 1;
    for (int i = 0; i < resolveAxis(axis); i++) n *= dims[i];
    return n;
  }

  /** Product of the dimensions after {@code axis}. */
  public long inner(int axis) {
    long n = 1;
    for (int i = resolveAxis(axis) + 1; i < dims.length; i++) n *= dims[i];
    return n;
  }

  /** This shape with dimension {@code axis} replaced by {@code size}. */
  public Shape withDim(int axis, int size) {
    int[] d = dims.clone();
    d[resolveAxis(axis)] = size;
    return new Shape(d);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape s && Arrays.equals(dims, s.dims);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return Arrays.toString(dims);
  }
}
