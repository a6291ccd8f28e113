package dev.rectifier.opencl;

import static org.jocl.CL.*;

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
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_event;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
import org.jocl.cl_program;

/**
 * Computes on one OpenCL device. The context, queue, program and kernels belong to this instance,
 * made in the constructor and released in {@link #close()}. Elementwise calls on host arrays stream
 * through page-locked staging buffers in chunks, copies overlapping kernels ({@link #stream}); the
 * channel functions copy host arrays into buffers made for the call.
 *
 * <p>Thread-safety: calls are serialized on one lock, because an OpenCL kernel object's arguments
 * are state that two threads must not set at once (OpenCL 1.2, section A.2).
 */
final class OpenClBackend implements Backend {
  static final String KERNELS = "/dev/rectifier/opencl/rectifier.cl";

  /** The work-group size of every launch; the mask kernels require it (MASK_GROUP there). */
  private static final int LOCAL = 64;

  private final Devices.Device device;
  private final cl_context context;
  private final cl_command_queue queue;
  private final cl_program program;
  private final Map<String, cl_kernel> kernels = new HashMap<>();
  private final Object lock = new Object();
  private boolean closed;

  /** Elements per chunk when host arrays stream through the staging slots. */
  static final int CHUNK = 1 << 18;

  /** Made on first use and kept: the second queue and the two staging slots. */
  private cl_command_queue transfers;

  private Slot[] slots;

  OpenClBackend(Devices.Device device) {
    this(device, kernelSource());
  }

  /** Builds {@code source} for the device; a build that fails is an error with the build log. */
  OpenClBackend(Devices.Device device, String source) {
    this.device = device;
    cl_context ctx = null;
    cl_command_queue q = null;
    try {
      ctx = clCreateContext(null, 1, new org.jocl.cl_device_id[] {device.id()}, null, null, null);
      q = clCreateCommandQueueWithProperties(ctx, device.id(), null, null);
      this.program = build(ctx, device, source);
    } catch (RuntimeException e) {
      if (q != null) clReleaseCommandQueue(q);
      if (ctx != null) clReleaseContext(ctx);
      throw e;
    }
    this.context = ctx;
    this.queue = q;
  }

  static String kernelSource() {
    try (InputStream in = OpenClBackend.class.getResourceAsStream(KERNELS)) {
      if (in == null) throw new IllegalStateException("the jar lacks " + KERNELS);
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + KERNELS + ": " + e.getMessage(), e);
    }
  }

  private static cl_program build(cl_context ctx, Devices.Device device, String source) {
    String options = device.doubles() ? null : "-DRECTIFIER_NO_FP64";
    for (int attempt = 1; ; attempt++) {
      cl_program p = clCreateProgramWithSource(ctx, 1, new String[] {source}, null, null);
      try {
        clBuildProgram(p, 1, new org.jocl.cl_device_id[] {device.id()}, options, null, null);
        return p;
      } catch (CLException e) {
        String log = buildLog(p, device);
        clReleaseProgram(p);
        // PoCL's kernel cache can lose a temporary file it has just written ("unable to rename
        // temporary ... kcache ..."): clang, run inside this JVM, deletes its temporary files from
        // its SIGSEGV handler, which also sees the faults the JVM makes on purpose unless libjsig
        // is preloaded (README). The same build then succeeds; only that error is retried.
        if (attempt < 3 && log.contains("unable to rename temporary")) continue;
        throw new RectifierException(
            "opencl: the kernels did not build on "
                + device.name()
                + " ("
                + stringFor_errorCode(e.getStatus())
                + "); CL_PROGRAM_BUILD_LOG: "
                + log.strip().replace('\n', ' ')
                + "; report this with the log",
            e);
      }
    }
  }

  private static String buildLog(cl_program p, Devices.Device device) {
    try {
      long[] size = new long[1];
      clGetProgramBuildInfo(p, device.id(), CL_PROGRAM_BUILD_LOG, 0, null, size);
      byte[] b = new byte[(int) size[0]];
      clGetProgramBuildInfo(p, device.id(), CL_PROGRAM_BUILD_LOG, b.length, Pointer.to(b), null);
      return Devices.cString(b);
    } catch (CLException e) {
      return "(no log: " + stringFor_errorCode(e.getStatus()) + ")";
    }
  }

  @Override
  public String name() {
    return OpenClProvider.NAME;
  }

  @Override
  public String unsupported(DType dtype) {
    return dtype == DType.FLOAT64 ? device.noDoubles() : null;
  }

  private static RectifierException failure(String what, CLException e) {
    String fix =
        e.getStatus() == CL_MEM_OBJECT_ALLOCATION_FAILURE || e.getStatus() == CL_OUT_OF_RESOURCES
            ? "free device buffers or use smaller tensors"
            : "check the device and its driver (`info`), or choose the cpu backend";
    return new RectifierException(
        "opencl: " + what + " failed: " + stringFor_errorCode(e.getStatus()) + "; " + fix, e);
  }

  // ------------------------------------------------------------------ memory

  @Override
  public BackendBuffer allocate(DType dtype, long length) {
    synchronized (lock) {
      if (length == 0) return new OpenClBuffer(dtype, 0, null);
      try {
        cl_mem m = clCreateBuffer(context, CL_MEM_READ_WRITE, length * dtype.bytes(), null, null);
        return new OpenClBuffer(dtype, length, m);
      } catch (CLException e) {
        throw failure("allocating " + length + " " + dtype.shortName() + " elements", e);
      }
    }
  }

  private static Pointer pointer(HostArray h) {
    int bytes = h.dtype().bytes();
    Object a = h.array();
    Pointer p =
        a instanceof float[] f
            ? Pointer.to(f)
            : a instanceof int[] w
                ? Pointer.to(w)
                : a instanceof short[] s ? Pointer.to(s) : Pointer.to((double[]) a);
    return p.withByteOffset((long) h.offset() * bytes);
  }

  @Override
  public void upload(HostArray src, BackendBuffer dst, long dstOffset) {
    if (src.count() == 0) return;
    synchronized (lock) {
      try {
        long b = src.dtype().bytes();
        clEnqueueWriteBuffer(
            queue,
            cl(dst).mem(),
            CL_TRUE,
            dstOffset * b,
            src.count() * b,
            pointer(src),
            0,
            null,
            null);
      } catch (CLException e) {
        throw failure("upload", e);
      }
    }
  }

  @Override
  public void download(BackendBuffer src, long srcOffset, HostArray dst) {
    if (dst.count() == 0) return;
    synchronized (lock) {
      try {
        long b = dst.dtype().bytes();
        clEnqueueReadBuffer(
            queue,
            cl(src).mem(),
            CL_TRUE,
            srcOffset * b,
            dst.count() * b,
            pointer(dst),
            0,
            null,
            null);
      } catch (CLException e) {
        throw failure("download", e);
      }
    }
  }

  private static OpenClBuffer cl(BackendBuffer b) {
    if (b instanceof OpenClBuffer c) return c;
    throw new IllegalArgumentException("the buffer belongs to another backend");
  }

  /**
   * The device memory of each operand for one call: buffers as they are; host arrays copied into
   * buffers made for the call (one per distinct array range, so an in-place call shares it) and,
   * for outputs, read back by {@link #finish}.
   */
  private final class Staging implements AutoCloseable {
    private final Map<Object, cl_mem> made = new IdentityHashMap<>();
    private final List<cl_mem> release = new ArrayList<>();
    private final Map<HostArray, cl_mem> outputs = new IdentityHashMap<>();
    private final List<HostArray> seen = new ArrayList<>();

    cl_mem in(Operand o) {
      return mem(o, true);
    }

    cl_mem out(Operand o) {
      cl_mem m = mem(o, false);
      if (o instanceof HostArray h) outputs.put(h, m);
      return m;
    }

    private cl_mem mem(Operand o, boolean copyIn) {
      if (o instanceof BackendBuffer b) return cl(b).mem();
      HostArray h = (HostArray) o;
      for (HostArray s : seen) {
        if (s.sameRange(h)) return made.get(s);
      }
      long bytes = Math.max(1, (long) h.count() * h.dtype().bytes());
      cl_mem m =
          copyIn && h.count() > 0
              ? clCreateBuffer(
                  context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, pointer(h), null)
              : clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, null, null);
      seen.add(h);
      made.put(h, m);
      release.add(m);
      return m;
    }

    /** Device memory for the call only, released at close. */
    cl_mem scratch(Operand o) {
      long bytes = Math.max(1, o.length() * o.dtype().bytes());
      cl_mem m = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, null, null);
      release.add(m);
      return m;
    }

    void finish() {
      for (Map.Entry<HostArray, cl_mem> e : outputs.entrySet()) {
        HostArray h = e.getKey();
        if (h.count() == 0) continue;
        clEnqueueReadBuffer(
            queue,
            e.getValue(),
            CL_TRUE,
            0,
            (long) h.count() * h.dtype().bytes(),
            pointer(h),
            0,
            null,
            null);
      }
    }

    @Override
    public void close() {
      for (cl_mem m : release) clReleaseMemObject(m);
    }
  }

  // ------------------------------------------------------------------ kernels

  private cl_kernel kernel(String name) {
    cl_kernel k = kernels.get(name);
    if (k == null) {
      k = clCreateKernel(program, name, null);
      kernels.put(name, k);
    }
    return k;
  }

  private void launch(String name, long n, int local, Object... args) {
    if (n == 0) return;
    cl_kernel k = kernel(name);
    setArgs(k, args);
    long global = (n + local - 1) / local * local;
    clEnqueueNDRangeKernel(
        queue, k, 1, null, new long[] {global}, new long[] {local}, 0, null, null);
  }

  private static void setArgs(cl_kernel k, Object... args) {
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a instanceof cl_mem m) clSetKernelArg(k, i, Sizeof.cl_mem, Pointer.to(m));
      else if (a instanceof Long l) {
        clSetKernelArg(k, i, Sizeof.cl_ulong, Pointer.to(new long[] {l}));
      } else if (a instanceof Float f) {
        clSetKernelArg(k, i, Sizeof.cl_float, Pointer.to(new float[] {f}));
      } else if (a instanceof Double d) {
        clSetKernelArg(k, i, Sizeof.cl_double, Pointer.to(new double[] {d}));
      } else throw new IllegalArgumentException("kernel argument " + a);
    }
  }

  @Override
  public void forward(Activation f, Shape shape, Operand x, Operand weight, Operand y) {
    synchronized (lock) {
      checkOpen();
      if (!f.function().channelwise() && x instanceof HostArray hx) {
        stream(f, false, hx, null, (HostArray) y);
        return;
      }
      run(KernelPlan.forward(f, shape, x, weight, y), f.function().id() + " forward");
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
      if (!f.function().channelwise() && x instanceof HostArray hx) {
        stream(f, true, hx, (HostArray) gradOutput, (HostArray) gradInput);
        return;
      }
      run(
          KernelPlan.backward(f, shape, x, weight, gradOutput, gradInput, gradWeight),
          f.function().id() + " backward");
    }
  }

  @Override
  public void backwardFromOutput(Activation f, Operand y, Operand gradOutput, Operand gradInput) {
    synchronized (lock) {
      checkOpen();
      String what = f.function().id() + " backward from the output";
      if (y instanceof HostArray hy) {
        try {
          streamChunks(
              KernelPlan.fromOutput(f, y.dtype()),
              hy,
              (HostArray) gradOutput,
              (HostArray) gradInput);
        } catch (CLException e) {
          throw failure(what, e);
        }
        return;
      }
      run(KernelPlan.backwardFromOutput(f, y, gradOutput, gradInput), what);
    }
  }

  // Statistics on host arrays go through buffers made for the call, as masks do.
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
      run(
          KernelPlan.forwardWithStats(f, shape, x, weight, y, sums, counts),
          f.function().id() + " forward with statistics");
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
      run(
          KernelPlan.forwardWithChannelStats(f, shape, x, weight, y, channels, inner, sums, counts),
          f.function().id() + " forward with statistics per channel");
    }
  }

  // Masks on host arrays go through buffers made for the call, not the chunked staging: a mask is
  // 1/32 of the data, and a call that keeps its mask on the host is not the one to tune.
  @Override
  public void forwardWithMask(Activation f, Operand x, Operand y, Operand mask) {
    synchronized (lock) {
      checkOpen();
      run(KernelPlan.forwardWithMask(f, x, y, mask), f.function().id() + " forward with a mask");
    }
  }

  @Override
  public void backwardFromMask(Activation f, Operand mask, Operand gradOutput, Operand gradInput) {
    synchronized (lock) {
      checkOpen();
      run(
          KernelPlan.backwardFromMask(f, mask, gradOutput, gradInput),
          f.function().id() + " backward from a mask");
    }
  }

  @Override
  public void widen(Operand half, long from, Operand wide) {
    synchronized (lock) {
      checkOpen();
      run(KernelPlan.widen(half, from, wide), "widening " + half.dtype().shortName());
    }
  }

  @Override
  public void narrow(Operand wide, Operand x, int tieSign, Operand half, long from) {
    synchronized (lock) {
      checkOpen();
      run(
          KernelPlan.narrow(wide, x, tieSign, half, from),
          "rounding to " + half.dtype().shortName());
    }
  }

  /**
   * Runs a plan on buffers, host arrays copied through buffers made for the call; done when it
   * returns (errors surface here, not at a later call).
   */
  private void run(KernelPlan plan, String what) {
    try (Staging s = new Staging()) {
      Map<Operand, cl_mem> mem = new IdentityHashMap<>();
      for (Operand o : plan.inputs()) mem.put(o, s.in(o));
      for (Operand o : plan.outputs()) mem.put(o, s.out(o));
      for (Operand o : plan.scratch()) mem.put(o, s.scratch(o));
      for (KernelPlan.Launch l : plan.launches()) {
        Object[] args = l.args().toArray();
        for (int i = 0; i < args.length; i++)
          if (args[i] instanceof Operand o) args[i] = mem.get(o);
        launch(l.kernel(), l.size(), l.group() == 0 ? LOCAL : l.group(), args);
      }
      s.finish();
      clFinish(queue);
    } catch (CLException e) {
      throw failure(what, e);
    }
  }

  // ------------------------------------------------------------------ streaming host arrays

  /**
   * One staging slot: device buffers for x, grad_output and the result, and page-locked host
   * buffers ({@code CL_MEM_ALLOC_HOST_PTR}, mapped once for the backend's life) that the transfers
   * read and write, so the driver can move them by DMA without another copy.
   */
  private final class Slot {
    final cl_mem dx;
    final cl_mem dg;
    final cl_mem dy;
    final cl_mem px;
    final cl_mem pg;
    final cl_mem py;
    final ByteBuffer hx;
    final ByteBuffer hg;
    final ByteBuffer hy;
    cl_event done; // the read-back of this slot's last chunk
    int pendingFrom = -1;
    int pendingCount;

    /** Makes the six buffers and maps three; if any step fails, releases what it made. */
    Slot() {
      List<cl_mem> made = new ArrayList<>();
      List<Object[]> mapped = new ArrayList<>();
      try {
        dx = keep(made, device());
        dg = keep(made, device());
        dy = keep(made, device());
        px = keep(made, pinned());
        pg = keep(made, pinned());
        py = keep(made, pinned());
        hx = map(mapped, px);
        hg = map(mapped, pg);
        hy = map(mapped, py);
      } catch (CLException e) {
        for (Object[] m : mapped) {
          clEnqueueUnmapMemObject(queue, (cl_mem) m[0], (ByteBuffer) m[1], 0, null, null);
        }
        clFinish(queue);
        for (cl_mem m : made) clReleaseMemObject(m);
        throw e;
      }
    }

    private cl_mem keep(List<cl_mem> made, cl_mem m) {
      made.add(m);
      return m;
    }

    private cl_mem device() {
      return clCreateBuffer(context, CL_MEM_READ_WRITE, (long) CHUNK * 8, null, null);
    }

    private cl_mem pinned() {
      return clCreateBuffer(
          context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, (long) CHUNK * 8, null, null);
    }

    private ByteBuffer map(List<Object[]> mapped, cl_mem m) {
      ByteBuffer b =
          clEnqueueMapBuffer(
                  queue,
                  m,
                  true,
                  CL_MAP_READ | CL_MAP_WRITE,
                  0,
                  (long) CHUNK * 8,
                  0,
                  null,
                  null,
                  null)
              .order(ByteOrder.nativeOrder());
      mapped.add(new Object[] {m, b});
      return b;
    }

    void release() {
      if (done != null) clReleaseEvent(done);
      clEnqueueUnmapMemObject(queue, px, hx, 0, null, null);
      clEnqueueUnmapMemObject(queue, pg, hg, 0, null, null);
      clEnqueueUnmapMemObject(queue, py, hy, 0, null, null);
      clFinish(queue);
      for (cl_mem m : new cl_mem[] {dx, dg, dy, px, pg, py}) clReleaseMemObject(m);
    }
  }

  /**
   * An elementwise call on host arrays, in chunks of {@link #CHUNK} through two staging slots:
   * uploads and read-backs go on a transfer queue, kernels on the compute queue, chained by events,
   * so while chunk k is uploaded and computed chunk k-1 is read back, and copies in both directions
   * overlap the kernels where the device allows. In place is safe: a chunk is read in before any
   * result of it is written out. RReLU's counter is the chunk's start plus the index.
   */
  private void stream(Activation f, boolean backward, HostArray x, HostArray g, HostArray y) {
    try {
      streamChunks(KernelPlan.elementwise(f, x.dtype(), backward), x, g, y);
    } catch (CLException e) {
      throw failure(f.function().id() + (backward ? " backward" : " forward"), e);
    }
  }

  private void streamChunks(KernelPlan.Elementwise plan, HostArray x, HostArray g, HostArray y) {
    DType t = x.dtype();
    int n = x.count();
    if (n == 0) return;
    if (slots == null) {
      // into locals first, so that a failure half way leaks nothing and is tried again next call
      cl_command_queue q = clCreateCommandQueueWithProperties(context, device.id(), null, null);
      Slot first = null;
      try {
        first = new Slot();
        slots = new Slot[] {first, new Slot()};
      } catch (CLException e) {
        if (first != null) first.release();
        clReleaseCommandQueue(q);
        throw e;
      }
      transfers = q;
    }
    long bytes = t.bytes();
    cl_kernel k = kernel(plan.kernel());
    try {
      int chunk = 0;
      // from += count, not += CHUNK: from + count <= n cannot pass Integer.MAX_VALUE (LimitsIT)
      for (int from = 0, count; from < n; from += count, chunk++) {
        count = Math.min(CHUNK, n - from);
        Slot s = slots[chunk % 2];
        drain(s, y);
        // x, then g, then (blending) y's old values: each write waits for the one before
        List<Object[]> uploads = new ArrayList<>();
        uploads.add(new Object[] {x, s.hx, s.dx});
        if (g != null) uploads.add(new Object[] {g, s.hg, s.dg});
        if (plan.readsOutput()) uploads.add(new Object[] {y, s.hy, s.dy});
        cl_event written = null;
        for (Object[] u : uploads) {
          ByteBuffer host = (ByteBuffer) u[1];
          ((HostArray) u[0]).copyTo(host, from, count);
          cl_event after = new cl_event();
          clEnqueueWriteBuffer(
              transfers,
              (cl_mem) u[2],
              false,
              0,
              count * bytes,
              Pointer.to(host),
              written == null ? 0 : 1,
              written == null ? null : new cl_event[] {written},
              after);
          if (written != null) clReleaseEvent(written);
          written = after;
        }
        setArgs(k, plan.args(s.dx, g == null ? null : s.dg, s.dy, count, from).toArray());
        cl_event computed = new cl_event();
        long global = ((long) count + LOCAL - 1) / LOCAL * LOCAL;
        clEnqueueNDRangeKernel(
            queue,
            k,
            1,
            null,
            new long[] {global},
            new long[] {LOCAL},
            1,
            new cl_event[] {written},
            computed);
        clReleaseEvent(written);
        s.done = new cl_event();
        clEnqueueReadBuffer(
            transfers,
            s.dy,
            false,
            0,
            count * bytes,
            Pointer.to(s.hy),
            1,
            new cl_event[] {computed},
            s.done);
        clReleaseEvent(computed);
        s.pendingFrom = from;
        s.pendingCount = count;
        clFlush(transfers);
        clFlush(queue);
      }
      drain(slots[0], y);
      drain(slots[1], y);
    } catch (CLException e) {
      clFinish(queue);
      clFinish(transfers);
      for (Slot s : slots) {
        if (s.done != null) clReleaseEvent(s.done);
        s.done = null;
        s.pendingFrom = -1;
      }
      throw e;
    }
  }

  /** Waits for the slot's last read-back and copies it into the output. */
  private static void drain(Slot s, HostArray y) {
    if (s.done == null) return;
    clWaitForEvents(1, new cl_event[] {s.done});
    clReleaseEvent(s.done);
    s.done = null;
    y.copyFrom(s.hy, s.pendingFrom, s.pendingCount);
    s.pendingFrom = -1;
  }

  private void checkOpen() {
    if (closed) throw new IllegalStateException("the OpenCL backend is closed");
  }

  @Override
  public void close() {
    synchronized (lock) {
      if (closed) return;
      closed = true;
      if (slots != null) {
        for (Slot slot : slots) slot.release();
        clReleaseCommandQueue(transfers);
      }
      for (cl_kernel k : kernels.values()) clReleaseKernel(k);
      kernels.clear();
      clReleaseProgram(program);
      clReleaseCommandQueue(queue);
      clReleaseContext(context);
    }
  }
}
