package dev.rectifier;

/**
 * Element type of a buffer. The float types are computed to the accuracy contract of {@link
 * Activation}; {@link #INT32} holds the words of 1-bit masks and is not computed on.
 */
public enum DType {
  /** IEEE 754 binary32, NumPy {@code <f4}. */
  FLOAT32("f32", 4),
  /** IEEE 754 binary64, NumPy {@code <f8}. */
  FLOAT64("f64", 8),
  /**
   * 32-bit words: a 1-bit mask ({@link Rectifier#forward(Activation, float[], float[], int[])}),
   * bit {@code i & 31} of word {@code i >>> 5} for element {@code i}; Java {@code int[]}.
   */
  INT32("i32", 4);

  private final String shortName;
  private final int bytes;

  DType(String shortName, int bytes) {
    this.shortName = shortName;
    this.bytes = bytes;
  }

  /** {@code f32}, {@code f64} (as in the golden manifest) or {@code i32}. */
  public String shortName() {
    return shortName;
  }

  /** Size of one element in bytes. */
  public int bytes() {
    return bytes;
  }

  /** Whether activations compute on this type (float32 and float64). */
  public boolean isFloat() {
    return this != INT32;
  }
}
