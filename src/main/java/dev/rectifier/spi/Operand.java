package dev.rectifier.spi;

import dev.rectifier.DType;

/**
 * A tensor's memory as a backend sees it: a range of a host array ({@link HostArray}) or a buffer
 * the backend allocated ({@link BackendBuffer}). Backends that compute on the host read host arrays
 * in place; device backends move them through staging memory.
 */
public interface Operand {
  /** The element type. */
  DType dtype();

  /** The number of elements. */
  long length();
}
