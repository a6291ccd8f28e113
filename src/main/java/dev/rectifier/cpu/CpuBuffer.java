package dev.rectifier.cpu;

import dev.rectifier.DType;
import dev.rectifier.spi.BackendBuffer;

/** A CPU backend buffer: a Java array it owns. Closing drops the array. */
final class CpuBuffer implements BackendBuffer {
  private final DType dtype;
  private final int length;
  private volatile Object array;

  CpuBuffer(DType dtype, int length) {
    this.dtype = dtype;
    this.length = length;
    this.array =
        switch (dtype) {
          case FLOAT32 -> new float[length];
          case FLOAT64 -> new double[length];
          case INT32 -> new int[length];
          case FLOAT16, BFLOAT16 -> new short[length];
        };
  }

  Object array() {
    Object a = array;
    if (a == null) throw new IllegalStateException("the buffer is closed");
    return a;
  }

  @Override
  public DType dtype() {
    return dtype;
  }

  @Override
  public long length() {
    return length;
  }

  @Override
  public void close() {
    array = null;
  }
}
