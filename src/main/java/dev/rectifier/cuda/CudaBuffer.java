package dev.rectifier.cuda;

import dev.rectifier.DType;
import dev.rectifier.spi.BackendBuffer;
import jcuda.driver.CUdeviceptr;

/**
 * Device memory for one tensor; a zero-length buffer holds none. Closing frees it through the
 * backend, which makes its context current on the closing thread first.
 */
final class CudaBuffer implements BackendBuffer {
  private final CudaBackend owner;
  private final DType dtype;
  private final long length;
  private final CUdeviceptr ptr;
  private boolean closed; // guarded by the backend's lock

  CudaBuffer(CudaBackend owner, DType dtype, long length, CUdeviceptr ptr) {
    this.owner = owner;
    this.dtype = dtype;
    this.length = length;
    this.ptr = ptr;
  }

  CUdeviceptr ptr() {
    if (closed) throw new IllegalStateException("the buffer is closed");
    return ptr;
  }

  /** Marks it closed; true the first time, when the caller must free the memory. */
  boolean markClosed() {
    if (closed) return false;
    closed = true;
    return ptr != null;
  }

  CUdeviceptr rawPtr() {
    return ptr;
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
    owner.free(this);
  }
}
