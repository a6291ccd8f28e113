package dev.rectifier;

/** Element type of a tensor. Both are computed to the accuracy contract of {@link Activation}. */
public enum DType {
  /** IEEE 754 binary32, NumPy {@code <f4}. */
  FLOAT32("f32", 4),
  /** IEEE 754 binary64, NumPy {@code <f8}. */
  FLOAT64("f64", 8);

  private final String shortName;
  private final int bytes;

  DType(String shortName, int bytes) {
    this.shortName = shortName;
    this.bytes = bytes;
  }

  /** {@code f32} or {@code f64}, as in the golden manifest. */
  public String shortName() {
    return shortName;
  }

  /** Size of one element in bytes. */
  public int bytes() {
    return bytes;
  }
}
