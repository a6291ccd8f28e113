package dev.rectifier;

import dev.rectifier.opencl.OpenClProvider;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendBuffer;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;
import dev.rectifier.spi.HostArray;
import dev.rectifier.spi.Operand;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in, named as such, for the faults a real device cannot be made to produce on demand: the
 * real OpenCL provider and backend (PoCL in CI), through which each call passes, except that from a
 * chosen call on it fails the way a device that is lost or out of memory fails, after doing part of
 * the work. Real out-of-memory errors, which PoCL does produce, are tested on the real backend
 * (FaultTest).
 */
final class FaultyDevice implements BackendProvider {
  enum Fault {
    /** The call computes the first half of a host-array call, then fails; later calls work. */
    ONCE_MID_CALL,
    /** As above, and every call after it fails too: the device is gone. */
    LOST,
    /** Allocations and calls fail as a device whose memory is full. */
    OUT_OF_MEMORY
  }

  private final OpenClProvider real = new OpenClProvider();
  private final Fault fault;
  private final int failAt;
  final AtomicInteger calls = new AtomicInteger();
  final AtomicInteger injected = new AtomicInteger();

  /** Fails as {@code fault} says from call number {@code failAt} (0 is the first) on. */
  FaultyDevice(Fault fault, int failAt) {
    this.fault = fault;
    this.failAt = failAt;
  }

  @Override
  public String name() {
    return real.name();
  }

  @Override
  public BackendStatus probe() {
    return real.probe();
  }

  @Override
  public Backend open(BackendConfig config) {
    return new Faulty(real.open(config));
  }

  private final class Faulty implements Backend {
    private final Backend inner;

    Faulty(Backend inner) {
      this.inner = inner;
    }

    /** Whether this call fails, counting it. */
    private boolean fails() {
      int n = calls.getAndIncrement();
      boolean fail =
          switch (fault) {
            case ONCE_MID_CALL -> n == failAt;
            case LOST, OUT_OF_MEMORY -> n >= failAt;
          };
      if (fail) injected.incrementAndGet();
      return fail;
    }

    private RectifierException error() {
      return new RectifierException(
          fault == Fault.OUT_OF_MEMORY
              ? "opencl: clCreateBuffer: CL_MEM_OBJECT_ALLOCATION_FAILURE (stand-in fault)"
              : "opencl: clEnqueueReadBuffer: CL_DEVICE_NOT_AVAILABLE (stand-in fault: device"
                  + " lost mid-run)");
    }

    /** The first half of an elementwise host-array call, done for real before the failure. */
    private void half(Activation f, Operand x, Operand y) {
      if (f.function().channelwise()) return;
      if (!(x instanceof HostArray hx) || !(y instanceof HostArray hy)) return;
      int h = hx.count() / 2;
      HostArray xh = new HostArray(hx.array(), hx.offset(), h);
      HostArray yh = new HostArray(hy.array(), hy.offset(), h);
      inner.forward(f, Shape.vector(h), xh, null, yh);
    }

    @Override
    public String name() {
      return inner.name();
    }

    @Override
    public String unsupported(DType dtype) {
      return inner.unsupported(dtype);
    }

    @Override
    public BackendBuffer allocate(DType dtype, long length) {
      if (fault == Fault.OUT_OF_MEMORY && fails()) throw error();
      return inner.allocate(dtype, length);
    }

    @Override
    public void upload(HostArray src, BackendBuffer dst, long dstOffset) {
      if (fault == Fault.LOST && fails()) throw error();
      inner.upload(src, dst, dstOffset);
    }

    @Override
    public void download(BackendBuffer src, long srcOffset, HostArray dst) {
      if (fault == Fault.LOST && fails()) throw error();
      inner.download(src, srcOffset, dst);
    }

    @Override
    public void forward(Activation f, Shape shape, Operand x, Operand weight, Operand y) {
      if (fails()) {
        if (fault != Fault.OUT_OF_MEMORY) half(f, x, y);
        throw error();
      }
      inner.forward(f, shape, x, weight, y);
    }

    @Override
    public void backward(
        Activation f,
        Shape shape,
        Operand x,
        Operand weight,
        Operand gradOutput,
        Operand gradInput,
        Operand gradWeight) {
      if (fails()) throw error();
      inner.backward(f, shape, x, weight, gradOutput, gradInput, gradWeight);
    }

    @Override
    public void backwardFromOutput(Activation f, Operand y, Operand gradOutput, Operand gradInput) {
      if (fails()) throw error();
      inner.backwardFromOutput(f, y, gradOutput, gradInput);
    }

    @Override
    public void forwardWithStats(
        Activation f,
        Shape shape,
        Operand x,
        Operand weight,
        Operand y,
        Operand sums,
        Operand counts) {
      if (fails()) throw error();
      inner.forwardWithStats(f, shape, x, weight, y, sums, counts);
    }

    @Override
    public void forwardWithChannelStats(
        Activation f,
        Shape shape,
        Operand x,
        Operand weight,
        Operand y,
        long channels,
        long run,
        Operand sums,
        Operand counts) {
      if (fails()) throw error();
      inner.forwardWithChannelStats(f, shape, x, weight, y, channels, run, sums, counts);
    }

    @Override
    public void forwardWithMask(Activation f, Operand x, Operand y, Operand mask) {
      if (fails()) throw error();
      inner.forwardWithMask(f, x, y, mask);
    }

    @Override
    public void backwardFromMask(
        Activation f, Operand mask, Operand gradOutput, Operand gradInput) {
      if (fails()) throw error();
      inner.backwardFromMask(f, mask, gradOutput, gradInput);
    }

    @Override
    public void widen(Operand half, long from, Operand wide) {
      if (fails()) throw error();
      inner.widen(half, from, wide);
    }

    @Override
    public void narrow(Operand wide, Operand x, int tieSign, Operand half, long from) {
      if (fails()) throw error();
      inner.narrow(wide, x, tieSign, half, from);
    }

    @Override
    public void close() {
      inner.close();
    }
  }
}
