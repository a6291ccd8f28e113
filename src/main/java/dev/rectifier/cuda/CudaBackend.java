package dev.rectifier.cuda;

import static jcuda.driver.JCudaDriver.*;

import dev.rectifier.Activation;
import dev.rectifier.DType;
import dev.rectifier.RectifierException;
import dev.rectifier.Shape;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendBuffer;
import dev.rectifier.spi.HostArray;
import dev.rectifier.spi.KernelPlan;
import dev.rectifier.spi.Operand;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;

/**
 * Computes on one GPU through the CUDA driver API. The device's primary context is retained for the
 * backend's life and made current on every thread that calls (JCuda calls act on the calling
 * thread's current context). The module (the committed PTX, JIT-compiled by the driver for the GPU
 * it finds), the kernels, the two streams and the staging memory belong to this instance and are
 * released in {@link #close()}.
 *
 * <p>Elementwise calls on host arrays stream in chunks of {@link #CHUNK} elements through two slots
 * of page-locked host memory, each slot with its own stream: while the GPU copies in, computes and
 * copies out chunk k on one stream, the host fills the other slot with chunk k+1, and the copy
 * engines overlap one stream's transfers with the other's kernel. Channel functions copy host
 * arrays into buffers made for the call. Every call is complete when it returns.
 *
 * <p>Thread-safety: calls are serialized on one lock (the staging slots and streams are shared).
 */
final class CudaBackend implements Backend {
  static final String PTX = "/dev/rectifier/cuda/rectifier.ptx";

  /** Threads per block: a multiple of the warp, and enough blocks to fill any GPU from 64K. */
  static final int BLOCK = 256;

  /** Elements per chunk when host arrays stream through the staging slots (8 MiB of float64). */
  static final int CHUNK = 1 << 20;

  private final CudaProvider.Driver.Gpu gpu;
  private final CUcontext context;
  private final CUmodule module;
  private final Map<String, CUfunction> functions = new HashMap<>();
  private final Object lock = new Object();
  private boolean closed;
  private Slot[] slots; // made on first use

  CudaBackend(CudaProvider.Driver.Gpu gpu) {
    this.gpu = gpu;
    if (gpu.major() * 10 + gpu.minor() < 75) {
      throw new RectifierException(
          "cuda: "
              + gpu.name()
              + " has compute capability "
              + gpu.major()
              + "."
              + gpu.minor()
              + "; the kernels need 7.5 (Turing) or newer; choose the opencl or cpu backend");
    }
    CUcontext ctx = new CUcontext();
    CudaProvider.check(
        cuDevicePrimaryCtxRetain(ctx, gpu.device()),
        "cuDevicePrimaryCtxRetain",
        "check the GPU with nvidia-smi (is it in exclusive-process mode and taken?)");
    this.context = ctx;
    try {
      current();
      CUmodule m = new CUmodule();
      int r = cuModuleLoadData(m, ptx());
      if (r != CUresult.CUDA_SUCCESS) throw moduleError(r);
      this.module = m;
    } catch (RuntimeException e) {
      cuDevicePrimaryCtxRelease(gpu.device());
      throw e;
    }
  }

  private static byte[] ptx() {
    try (InputStream in = CudaBackend.class.getResourceAsStream(PTX)) {
      if (in == null) throw new IllegalStateException("the jar lacks " + PTX);
      byte[] text = in.readAllBytes();
      byte[] z = new byte[text.length + 1]; // the driver reads PTX as a C string
      System.arraycopy(text, 0, z, 0, text.length);
      return z;
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + PTX + ": " + e.getMessage(), e);
    }
  }

  private RectifierException moduleError(int r) {
    String fix =
        switch (r) {
          case CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION,
              CUresult.CUDA_ERROR_INVALID_PTX,
              CUresult.CUDA_ERROR_JIT_COMPILER_NOT_FOUND ->
              "the driver cannot compile the kernels' PTX (ISA 8.0, CUDA 12.0); update the NVIDIA"
                  + " driver";
          case CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU ->
              "the kernels target compute capability 7.5 and newer, and "
                  + gpu.name()
                  + " is older";
          default -> "check the driver with nvidia-smi, or choose the cpu backend";
        };
    return new RectifierException(
        "cuda: loading the kernels (cuModuleLoadData) failed on "
            + gpu.name()
            + ": "
            + CudaProvider.describe(r)
            + "; "
            + fix);
  }

  /** The primary context, current on the calling thread: JCuda's calls act on that. */
  private void current() {
    check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
  }

  private void check(int result, String call) {
    if (result == CUresult.CUDA_SUCCESS) return;
    String fix =
        result == CUresult.CUDA_ERROR_OUT_OF_MEMORY
            ? "free device buffers or use smaller tensors"
            : "check the GPU with nvidia-smi, or choose the cpu backend";
    throw new RectifierException(
        "cuda: "
            + call
            + " failed on "
            + gpu.name()
            + ": "
            + CudaProvider.describe(result)
            + "; "
            + fix);
  }

  @Override
  public String name() {
    return CudaProvider.NAME;
  }

  // ------------------------------------------------------------------ memory

  @Override
  public BackendBuffer allocate(DType dtype, long length) {
    synchronized (lock) {
      checkOpen();
      if (length == 0) return new CudaBuffer(this, dtype, 0, null);
      current();
      CUdeviceptr p = new CUdeviceptr();
      check(cuMemAlloc(p, length * dtype.bytes()), "cuMemAlloc of " + length + " elements");
      return new CudaBuffer(this, dtype, length, p);
    }
  }

  void free(CudaBuffer b) {
    synchronized (lock) {
      // after close the primary context is released, and with it every allocation
      if (b.markClosed() && !closed) {
        current();
        check(cuMemFree(b.rawPtr()), "cuMemFree");
      }
    }
  }

  private static Pointer pointer(HostArray h) {
    Object a = h.array();
    Pointer p =
        a instanceof float[] f
            ? Pointer.to(f)
            : a instanceof int[] w
                ? Pointer.to(w)
                : a instanceof short[] s ? Pointer.to(s) : Pointer.to((double[]) a);
    return p.withByteOffset((long) h.offset() * h.dtype().bytes());
  }

  private static CudaBuffer cuda(BackendBuffer b) {
    if (b instanceof CudaBuffer c) return c;
    throw new IllegalArgumentException("the buffer belongs to another backend");
  }

  @Override
  public void upload(HostArray src, BackendBuffer dst, long dstOffset) {
    if (src.count() == 0) return;
    synchronized (lock) {
      checkOpen();
      current();
      long b = src.dtype().bytes();
      check(
          cuMemcpyHtoD(
              cuda(dst).ptr().withByteOffset(dstOffset * b), pointer(src), src.count() * b),
          "cuMemcpyHtoD");
    }
  }

  @Override
  public void download(BackendBuffer src, long srcOffset, HostArray dst) {
    if (dst.count() == 0) return;
    synchronized (lock) {
      checkOpen();
      current();
      long b = dst.dtype().bytes();
      check(
          cuMemcpyDtoH(
              pointer(dst), cuda(src).ptr().withByteOffset(srcOffset * b), dst.count() * b),
          "cuMemcpyDtoH");
    }
  }

  // ------------------------------------------------------------------ calls

  @Override
  public void forward(Activation f, Shape shape, Operand x, Operand weight, Operand y) {
    synchronized (lock) {
      checkOpen();
      current();
      if (!f.function().channelwise() && x instanceof HostArray hx) {
        stream(KernelPlan.elementwise(f, x.dtype(), false), hx, null, (HostArray) y);
      } else {
        run(KernelPlan.forward(f, shape, x, weight, y));
      }
    }
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
    synchronized (lock) {
      checkOpen();
      current();
      if (!f.function().channelwise() && x instanceof HostArray hx) {
        stream(
            KernelPlan.elementwise(f, x.dtype(), true),
            hx,
            (HostArray) gradOutput,
            (HostArray) gradInput);
      } else {
        run(KernelPlan.backward(f, shape, x, weight, gradOutput, gradInput, gradWeight));
      }
    }
  }

  @Override
  public void backwardFromOutput(Activation f, Operand y, Operand gradOutput, Operand gradInput) {
    synchronized (lock) {
      checkOpen();
      current();
      if (y instanceof HostArray hy) {
        stream(
            KernelPlan.fromOutput(f, y.dtype()), hy, (HostArray) gradOutput, (HostArray) gradInput);
      } else {
        run(KernelPlan.backwardFromOutput(f, y, gradOutput, gradInput));
      }
    }
  }

  // Masks on host arrays go through memory made for the call, not the chunked staging: a mask is
  // 1/32 of the data, and a call that keeps its mask on the host is not the one to tune.
  // Statistics on host arrays likewise.
  @Override
  public void forwardWithStats(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand y,
      Operand sums,
      Operand counts) {
    synchronized (lock) {
      checkOpen();
      current();
      run(KernelPlan.forwardWithStats(f, shape, x, weight, y, sums, counts));
    }
  }

  @Override
  public void forwardWithChannelStats(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand y,
      long channels,
      long inner,
      Operand sums,
      Operand counts) {
    synchronized (lock) {
      checkOpen();
      current();
      run(
          KernelPlan.forwardWithChannelStats(
              f, shape, x, weight, y, channels, inner, sums, counts));
    }
  }

  @Override
  public void forwardWithMask(Activation f, Operand x, Operand y, Operand mask) {
    synchronized (lock) {
      checkOpen();
      current();
      run(KernelPlan.forwardWithMask(f, x, y, mask));
    }
  }

  @Override
  public void backwardFromMask(Activation f, Operand mask, Operand gradOutput, Operand gradInput) {
    synchronized (lock) {
      checkOpen();
      current();
      run(KernelPlan.backwardFromMask(f, mask, gradOutput, gradInput));
    }
  }

  @Override
  public void widen(Operand half, long from, Operand wide) {
    synchronized (lock) {
      checkOpen();
      current();
      run(KernelPlan.widen(half, from, wide));
    }
  }

  @Override
  public void narrow(Operand wide, Operand x, int tieSign, Operand half, long from) {
    synchronized (lock) {
      checkOpen();
      current();
      run(KernelPlan.narrow(wide, x, tieSign, half, from));
    }
  }

  /**
   * A plan on buffers; host arrays go through device memory made for the call (one allocation per
   * distinct range, so an in-place call shares it), inputs copied in first, outputs read back.
   */
  private void run(KernelPlan plan) {
    Map<Operand, CUdeviceptr> mem = new IdentityHashMap<>();
    List<HostArray> ranges = new ArrayList<>();
    List<CUdeviceptr> made = new ArrayList<>();
    try {
      for (Operand o : plan.inputs()) mem.put(o, device(o, true, ranges, made, mem));
      for (Operand o : plan.outputs()) mem.put(o, device(o, false, ranges, made, mem));
      for (Operand o : plan.scratch()) {
        CUdeviceptr p = new CUdeviceptr();
        long bytes = Math.max(1, o.length() * o.dtype().bytes());
        check(cuMemAlloc(p, bytes), "cuMemAlloc of " + o.length() + " elements of scratch");
        made.add(p);
        mem.put(o, p);
      }
      for (KernelPlan.Launch l : plan.launches()) {
        Object[] args = l.args().toArray();
        for (int i = 0; i < args.length; i++)
          if (args[i] instanceof Operand o) args[i] = mem.get(o);
        launch(l.kernel(), l.size(), l.group() == 0 ? BLOCK : l.group(), args, null);
      }
      for (Operand o : plan.outputs()) {
        if (o instanceof HostArray h && h.count() > 0) {
          check(
              cuMemcpyDtoH(pointer(h), mem.get(o), (long) h.count() * h.dtype().bytes()),
              "cuMemcpyDtoH");
        }
      }
      check(cuCtxSynchronize(), "a kernel (cuCtxSynchronize)");
    } finally {
      for (CUdeviceptr p : made) cuMemFree(p);
    }
  }

  private CUdeviceptr device(
      Operand o,
      boolean copyIn,
      List<HostArray> ranges,
      List<CUdeviceptr> made,
      Map<Operand, CUdeviceptr> mem) {
    if (o instanceof BackendBuffer b) {
      CUdeviceptr p = cuda(b).ptr();
      return p != null ? p : new CUdeviceptr();
    }
    HostArray h = (HostArray) o;
    for (HostArray s : ranges) {
      if (s.sameRange(h)) return mem.get(s);
    }
    CUdeviceptr p = new CUdeviceptr();
    long bytes = Math.max(1, (long) h.count() * h.dtype().bytes());
    check(cuMemAlloc(p, bytes), "cuMemAlloc of " + h.count() + " elements");
    made.add(p);
    if (copyIn && h.count() > 0) check(cuMemcpyHtoD(p, pointer(h), bytes), "cuMemcpyHtoD");
    ranges.add(h);
    mem.put(h, p);
    return p;
  }

  private void launch(String name, long size, int block, Object[] args, CUstream stream) {
    if (size == 0) return;
    CUfunction fn = functions.get(name);
    if (fn == null) {
      fn = new CUfunction();
      check(cuModuleGetFunction(fn, module, name), "cuModuleGetFunction(" + name + ")");
      functions.put(name, fn);
    }
    Pointer[] params = new Pointer[args.length];
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a instanceof CUdeviceptr p) params[i] = Pointer.to(p);
      else if (a instanceof Long l) params[i] = Pointer.to(new long[] {l});
      else if (a instanceof Float f) params[i] = Pointer.to(new float[] {f});
      else if (a instanceof Double d) params[i] = Pointer.to(new double[] {d});
      else throw new IllegalArgumentException("kernel argument " + a);
    }
    long blocks = (size + block - 1) / block;
    if (blocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(size + " elements are more than one launch covers");
    }
    check(
        cuLaunchKernel(fn, (int) blocks, 1, 1, block, 1, 1, 0, stream, Pointer.to(params), null),
        "launching " + name);
  }

  // ------------------------------------------------------------------ streaming host arrays

  /**
   * One staging slot: its stream, device memory for x, g and the result, and pinned host memory.
   */
  private final class Slot {
    final CUstream stream = new CUstream();
    final CUdeviceptr dx = new CUdeviceptr();
    final CUdeviceptr dg = new CUdeviceptr();
    final CUdeviceptr dy = new CUdeviceptr();
    final Pointer px = new Pointer();
    final Pointer pg = new Pointer();
    final Pointer py = new Pointer();
    final List<Runnable> release = new ArrayList<>();
    ByteBuffer hx;
    ByteBuffer hg;
    ByteBuffer hy;
    int pendingFrom = -1;
    int pendingCount;

    /** Makes everything; if a step fails, releases what it made. */
    Slot() {
      long bytes = (long) CHUNK * 8;
      try {
        check(cuStreamCreate(stream, 0), "cuStreamCreate");
        release.add(() -> cuStreamDestroy(stream));
        for (CUdeviceptr d : new CUdeviceptr[] {dx, dg, dy}) {
          check(cuMemAlloc(d, bytes), "cuMemAlloc of a staging buffer");
          release.add(() -> cuMemFree(d));
        }
        for (Pointer p : new Pointer[] {px, pg, py}) {
          check(cuMemAllocHost(p, bytes), "cuMemAllocHost of page-locked staging memory");
          release.add(() -> cuMemFreeHost(p));
        }
        hx = px.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder());
        hg = pg.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder());
        hy = py.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder());
      } catch (RuntimeException e) {
        release();
        throw e;
      }
    }

    void release() {
      for (int i = release.size() - 1; i >= 0; i--) release.get(i).run();
      release.clear();
    }
  }

  private void stream(KernelPlan.Elementwise plan, HostArray x, HostArray g, HostArray y) {
    int n = x.count();
    if (n == 0) return;
    if (slots == null) {
      Slot first = new Slot();
      try {
        slots = new Slot[] {first, new Slot()};
      } catch (RuntimeException e) {
        first.release();
        throw e;
      }
    }
    long b = x.dtype().bytes();
    boolean done = false;
    try {
      int chunk = 0;
      // from += count, not += CHUNK: from + count <= n cannot pass Integer.MAX_VALUE (LimitsIT)
      for (int from = 0, count; from < n; from += count, chunk++) {
        count = Math.min(CHUNK, n - from);
        Slot s = slots[chunk % 2];
        drain(s, y);
        x.copyTo(s.hx, from, count);
        check(cuMemcpyHtoDAsync(s.dx, s.px, count * b, s.stream), "cuMemcpyHtoDAsync");
        if (g != null) {
          g.copyTo(s.hg, from, count);
          check(cuMemcpyHtoDAsync(s.dg, s.pg, count * b, s.stream), "cuMemcpyHtoDAsync");
        }
        if (plan.readsOutput()) {
          // blending: the output's old values go in too
          y.copyTo(s.hy, from, count);
          check(cuMemcpyHtoDAsync(s.dy, s.py, count * b, s.stream), "cuMemcpyHtoDAsync");
        }
        launch(
            plan.kernel(),
            count,
            BLOCK,
            plan.args(s.dx, g == null ? null : s.dg, s.dy, count, from).toArray(),
            s.stream);
        check(cuMemcpyDtoHAsync(s.py, s.dy, count * b, s.stream), "cuMemcpyDtoHAsync");
        s.pendingFrom = from;
        s.pendingCount = count;
      }
      for (Slot s : slots) drain(s, y);
      done = true;
    } finally {
      if (!done) {
        // a failure half way: let the streams finish, and drop what they were to deliver
        for (Slot s : slots) {
          cuStreamSynchronize(s.stream);
          s.pendingFrom = -1;
        }
      }
    }
  }

  private void drain(Slot s, HostArray y) {
    if (s.pendingFrom < 0) return;
    check(cuStreamSynchronize(s.stream), "a kernel or copy (cuStreamSynchronize)");
    y.copyFrom(s.hy, s.pendingFrom, s.pendingCount);
    s.pendingFrom = -1;
  }

  private void checkOpen() {
    if (closed) throw new IllegalStateException("the CUDA backend is closed");
  }

  @Override
  public void close() {
    synchronized (lock) {
      if (closed) return;
      closed = true;
      try {
        current();
        if (slots != null) for (Slot s : slots) s.release();
        cuModuleUnload(module);
      } finally {
        cuDevicePrimaryCtxRelease(gpu.device());
      }
    }
  }
}
