package dev.rectifier;

/**
 * Element type of a buffer or array. The float types are computed to the accuracy contract of
 * {@link Activation}; {@link #FLOAT16} and {@link #BFLOAT16} are storage types ({@code short[]} bit
 * patterns and buffers), computed in float64 and rounded once; {@link #INT32} holds the words of
 * 1-bit masks and is not computed on.
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
  INT32("i32", 4),
  /**
   * IEEE 754 binary16 (1 sign, 5 exponent, 10 fraction bits; largest finite 65504), NumPy {@code
   * <f2}: bit patterns in a Java {@code short[]} (see {@link #encode}, {@link #decode}).
   */
  FLOAT16("f16", 2),
  /**
   * bfloat16 (1 sign, 8 exponent, 7 fraction bits: the top half of a float32), bit patterns in a
   * Java {@code short[]}; NumPy has no such type, so {@code .npy} files hold the bits as {@code
   * <u2}.
   */
  BFLOAT16("bf16", 2);

  private final String shortName;
  private final int bytes;

  DType(String shortName, int bytes) {
    this.shortName = shortName;
    this.bytes = bytes;
  }

  /**
   * {@code f32}, {@code f64} (as in the golden manifest), {@code f16}, {@code bf16} or {@code i32}.
   */
  public String shortName() {
    return shortName;
  }

  /** Size of one element in bytes. */
  public int bytes() {
    return bytes;
  }

  /** Whether activations compute on this type (every type but {@link #INT32}). */
  public boolean isFloat() {
    return this != INT32;
  }

  /** Whether this is a 16-bit storage type ({@link #FLOAT16}, {@link #BFLOAT16}). */
  public boolean isHalf() {
    return this == FLOAT16 || this == BFLOAT16;
  }

  /**
   * {@code value} rounded to this 16-bit type, to nearest, ties to even, once (no double rounding
   * through float32), as a bit pattern: overflow gives infinity, NaN a quiet NaN of the same sign,
   * signed zeros and subnormals are kept.
   *
   * @throws UnsupportedOperationException for a type that is not {@link #isHalf()}
   */
  public short encode(double value) {
    if (this == FLOAT16) return HalfFloats.toFloat16(value);
    if (this == BFLOAT16) return HalfFloats.toBfloat16(value);
    throw new UnsupportedOperationException(this + " is not a 16-bit storage type");
  }

  /**
   * The value of the bit pattern {@code bits} of this 16-bit type (exact: every float16 and
   * bfloat16 value is a float).
   *
   * @throws UnsupportedOperationException for a type that is not {@link #isHalf()}
   */
  public float decode(short bits) {
    if (this == FLOAT16) return HalfFloats.fromFloat16(bits);
    if (this == BFLOAT16) return HalfFloats.fromBfloat16(bits);
    throw new UnsupportedOperationException(this + " is not a 16-bit storage type");
  }
}
