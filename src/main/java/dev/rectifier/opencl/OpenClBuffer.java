package dev.rectifier.opencl;

import dev.rectifier.DType;
import dev.rectifier.spi.BackendBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jocl.CL;
import org.jocl.cl_mem;

/** Device memory for one tensor; a zero-length buffer holds no memory object. */
final class OpenClBuffer implements BackendBuffer {
  private final DType dtype;
  private final long length;
  private final cl_mem mem;
  private final AtomicBoolean closed = new AtomicBoolean();

  OpenClBuffer(DType dtype, long length, cl_mem mem) {
    this.dtype = dtype;
    this.length = length;
    this.mem = mem;
  }

  cl_mem mem() {
    if (closed.get()) throw new IllegalStateException("the buffer is closed");
    return mem;
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
    if (closed.compareAndSet(false, true) && mem != null) CL.clReleaseMemObject(mem);
  }
}
