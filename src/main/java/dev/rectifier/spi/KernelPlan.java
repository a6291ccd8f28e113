package dev.rectifier.spi;

import dev.rectifier.Activation;
import dev.rectifier.DType;
import dev.rectifier.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a device backend launches for one call: the kernels of {@code kernels-opencl/rectifier.cl}
 * and {@code kernels-cuda/rectifier.cu} (the same names and arguments in both), in order, with
 * their sizes and arguments, so that the OpenCL and CUDA backends differ only in how they move
 * memory and launch.
 *
 * <p>Arguments are {@link Operand}s (memory, which the backend maps to its own) or scalars: {@link
 * Long} for {@code ulong}, {@link Float} or {@link Double} for the element type. The inputs are
 * listed before the outputs: a backend that copies host arrays in must copy the inputs first, since
 * an output may be the same range as an input (in place). An output that is blended into ({@link
 * Activation#readsOutput()}) is listed among the inputs too.
 *
 * <p>Every kernel that writes {@code y} or {@code dx} ends its arguments with the blend's {@code
 * alpha, beta} ({@link Activation#blend}), in the element type.
 *
 * @param launches the kernels in order
 * @param inputs the operands the kernels read
 * @param outputs the operands the kernels write
 * @param scratch device memory that lives for the call only ({@link Scratch}): its contents are
 *     neither copied in nor out
 */
public record KernelPlan(
    List<Launch> launches, List<Operand> inputs, List<Operand> outputs, List<Operand> scratch) {
  /** A plan without scratch memory. */
  public KernelPlan(List<Launch> launches, List<Operand> inputs, List<Operand> outputs) {
    this(launches, inputs, outputs, List.of());
  }

  /**
   * One kernel launch: one work-item (thread) per element of {@code size}.
   *
   * @param kernel the kernel's full name, e.g. {@code gelu_forward_f32}
   * @param size how many work-items
   * @param args the kernel's arguments in order
   * @param group the work-group (block) size the kernel requires, or 0 for the backend's own
   */
  public record Launch(String kernel, long size, List<Object> args, int group) {
    /** A launch in the backend's own work-group size. */
    public Launch(String kernel, long size, List<Object> args) {
      this(kernel, size, args, 0);
    }
  }

  /**
   * Device memory of {@code length} elements that one plan uses and the backend frees after it.
   * Compared by identity, as every operand is.
   */
  public static final class Scratch implements Operand {
    private final DType dtype;
    private final long length;

    Scratch(DType dtype, long length) {
      this.dtype = dtype;
      this.length = length;
    }

    @Override
    public DType dtype() {
      return dtype;
    }

    @Override
    public long length() {
      return length;
    }
  }

  /**
   * An elementwise function's kernel and its parameters, for backends that stream host arrays in
   * chunks and launch one kernel per chunk.
   *
   * @param kernel the full kernel name
   * @param p0 the first parameter, rounded to the type as the CPU backend rounds it
   * @param p1 the second parameter, likewise
   * @param seed RReLU training's seed (0 otherwise)
   * @param alpha the blend's alpha, in the type
   * @param beta the blend's beta, in the type
   * @param readsOutput whether the output must be copied in before the kernel runs (beta not 0)
   */
  public record Elementwise(
      String kernel,
      Object p0,
      Object p1,
      long seed,
      Object alpha,
      Object beta,
      boolean readsOutput) {
    /**
     * The arguments for {@code n} elements whose first has flat index {@code index0} in the call:
     * {@code (x, y, n, p0, p1, seed, index0, alpha, beta)}, or {@code (x, g, dx, ...)} with {@code
     * g} not null.
     */
    public List<Object> args(Object x, Object g, Object y, long n, long index0) {
      List<Object> a = new ArrayList<>(Arrays.asList(x));
      if (g != null) a.add(g);
      a.addAll(Arrays.asList(y, n, p0, p1, seed, index0, alpha, beta));
      return a;
    }

    /** The same arguments for another kernel. */
    Elementwise withKernel(String name) {
      return new Elementwise(name, p0, p1, seed, alpha, beta, readsOutput);
    }
  }

  /** The elementwise kernel of {@code f} (not a channel function) in type {@code t}. */
  public static Elementwise elementwise(Activation f, DType t, boolean backward) {
    String base;
    double p0 = 0;
    double p1 = 0;
    switch (f.function()) {
      case LEAKY_RELU -> {
        base = "leaky_relu";
        p0 = f.param("slope");
      }
      case RRELU -> {
        if (f.training()) {
          base = "rrelu_train";
          p0 = f.param("lower");
          p1 = f.param("upper");
        } else {
          base = "leaky_relu";
          p0 = (f.param("lower") + f.param("upper")) / 2;
        }
      }
      case RELU6 -> {
        base = "hardtanh";
        p1 = 6;
      }
      case HARDTANH -> {
        base = "hardtanh";
        p0 = f.param("min_val");
        p1 = f.param("max_val");
      }
      case THRESHOLD -> {
        base = "threshold";
        p0 = f.param("threshold");
        p1 = f.param("value");
      }
      case ELU, CELU -> {
        base = f.function().id();
        p0 = f.param("alpha");
      }
      case SOFTPLUS -> {
        base = "softplus";
        p0 = f.param("beta");
        p1 = f.param("threshold");
      }
      case PRELU, CRELU, MAXOUT ->
          throw new IllegalArgumentException(f.function().id() + " is a channel function");
      default -> base = f.function().id();
    }
    String name = base + (backward ? "_backward_" : "_forward_") + t.shortName();
    return new Elementwise(
        name,
        typed(p0, t),
        typed(p1, t),
        f.seed(),
        typed(f.blendAlpha(), t),
        typed(f.blendBeta(), t),
        f.readsOutput());
  }

  /**
   * The kernel of {@code f}'s backward from its output ({@link
   * Activation#backwardFromOutputAllowed}): ELU's own, the backward kernel for the others (their
   * formulas read {@code y} as they read {@code x}). Its first argument is {@code y}.
   */
  public static Elementwise fromOutput(Activation f, DType t) {
    Elementwise e = elementwise(f, t, true);
    if (f.function() != Activation.Function.ELU) return e;
    return e.withKernel("elu_backward_from_output_" + t.shortName());
  }

  /** {@code gradInput = gradOutput * f'(x)} from {@code y = f(x)}, one elementwise launch. */
  public static KernelPlan backwardFromOutput(
      Activation f, Operand y, Operand gradOutput, Operand gradInput) {
    return backwardLaunch(f, fromOutput(f, y.dtype()), y, gradOutput, gradInput);
  }

  /**
   * One backward launch of {@code e} over the whole call, reading {@code first} (y or a mask) and
   * {@code gradOutput}, and {@code gradInput} too when {@code f} blends into it.
   */
  private static KernelPlan backwardLaunch(
      Activation f, Elementwise e, Operand first, Operand gradOutput, Operand gradInput) {
    long n = gradOutput.length();
    List<Operand> in = new ArrayList<>(List.of(first, gradOutput));
    if (f.readsOutput()) in.add(gradInput);
    return new KernelPlan(
        List.of(new Launch(e.kernel(), n, e.args(first, gradOutput, gradInput, n, 0))),
        in,
        List.of(gradInput));
  }

  /**
   * {@code y = f(x)} and its 1-bit mask ({@link Activation#maskAllowed}): kernel {@code
   * <f>_forward_mask_<t>}, the forward's arguments then {@code mask}. Its launches are sized to
   * whole work-groups of 32-element words: a work-group gathers its bits before it writes them.
   */
  public static KernelPlan forwardWithMask(Activation f, Operand x, Operand y, Operand mask) {
    Elementwise e = elementwise(f, x.dtype(), false);
    long n = x.length();
    List<Object> args = e.args(x, null, y, n, 0);
    args.add(mask);
    List<Operand> in = new ArrayList<>(List.of(x));
    if (f.readsOutput()) in.add(y);
    return new KernelPlan(
        List.of(new Launch(e.kernel().replace("_forward_", "_forward_mask_"), n, args)),
        in,
        List.of(y, mask));
  }

  /**
   * The kernel of backward from a mask, {@code mask_backward_<t>}, with {@code p0} the slope where
   * the bit is 0 (leaky_relu's; 0 for the others). Its first argument is the mask.
   */
  public static Elementwise fromMask(Activation f, DType t) {
    return new Elementwise(
        "mask_backward_" + t.shortName(),
        typed(maskSlope(f), t),
        typed(0, t),
        0,
        typed(f.blendAlpha(), t),
        typed(f.blendBeta(), t),
        f.readsOutput());
  }

  /**
   * The factor of {@code gradOutput} where a mask bit is 0: leaky_relu's slope, 0 for relu, relu6
   * and hardtanh ({@link Activation#maskAllowed}).
   */
  public static double maskSlope(Activation f) {
    return f.function() == Activation.Function.LEAKY_RELU ? f.param("slope") : 0;
  }

  /** {@code gradInput = gradOutput * f'(x)} from the mask, one elementwise launch. */
  public static KernelPlan backwardFromMask(
      Activation f, Operand mask, Operand gradOutput, Operand gradInput) {
    return backwardLaunch(f, fromMask(f, gradOutput.dtype()), mask, gradOutput, gradInput);
  }

  /** {@link Backend#widen}: {@code widen_<f16|bf16>(half, from, wide, n)}. */
  public static KernelPlan widen(Operand half, long from, Operand wide) {
    long n = wide.length();
    return new KernelPlan(
        List.of(new Launch("widen_" + half.dtype().shortName(), n, List.of(half, from, wide, n))),
        List.of(half),
        List.of(wide));
  }

  /**
   * {@link Backend#narrow}: {@code narrow_<f16|bf16>(wide, x, tie, half, from, n)}, {@code x} the
   * wide buffer itself when there is none (its values are then not read: the tie is 0).
   */
  public static KernelPlan narrow(Operand wide, Operand x, int tieSign, Operand half, long from) {
    long n = wide.length();
    Operand xs = x == null ? wide : x;
    return new KernelPlan(
        List.of(
            new Launch(
                "narrow_" + half.dtype().shortName(),
                n,
                List.of(wide, xs, (double) tieSign, half, from, n))),
        xs == wide ? List.of(wide) : List.of(wide, xs),
        List.of(half));
  }

  private static Object typed(double v, DType t) {
    return t == DType.FLOAT32 ? (Object) (float) v : (Object) v;
  }

  /** {@code y = f(x)}; {@code weight} is PReLU's, null otherwise. */
  public static KernelPlan forward(
      Activation f, Shape shape, Operand x, Operand weight, Operand y) {
    String t = "_" + x.dtype().shortName();
    long n = x.length();
    List<Launch> l = new ArrayList<>();
    List<Operand> in = new ArrayList<>(List.of(x));
    if (f.function().channelwise()) {
      int axis = f.channelAxis(shape);
      long channels = shape.dim(axis);
      long inner = shape.inner(axis);
      switch (f.function()) {
        case PRELU -> {
          in.add(weight);
          l.add(
              blended(
                  f, "prelu_forward" + t, n, x, weight, y, n, channels, inner, weight.length()));
        }
        case CRELU -> l.add(blended(f, "crelu_forward" + t, n, x, y, n, channels, inner));
        default ->
            l.add(
                blended(
                    f,
                    "maxout_forward" + t,
                    y.length(),
                    x,
                    y,
                    y.length(),
                    channels,
                    inner,
                    (long) f.pieces()));
      }
    } else {
      Elementwise e = elementwise(f, x.dtype(), false);
      l.add(new Launch(e.kernel(), n, e.args(x, null, y, n, 0)));
    }
    if (f.readsOutput()) in.add(y);
    return new KernelPlan(l, in, List.of(y));
  }

  /**
   * {@code y = f(x)} and its statistics records ({@link StatsRecords}): the forward's kernel with
   * statistics ({@code <f>_forward_stats_<t>}: its arguments, then the records of its work-groups
   * of {@link StatsRecords#LANES}), or for crelu, whose work-items write their two outputs apart,
   * the forward then {@code stats_<t>} over {@code y}; then {@code stats_reduce_<t>} folds each
   * {@link StatsRecords#LANES} of those into one record of {@code sums} ({@code 3} per record, the
   * type of {@code y}) and {@code counts} ({@link DType#INT32}, {@code 3} per record).
   */
  public static KernelPlan forwardWithStats(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand y,
      Operand sums,
      Operand counts) {
    KernelPlan forward = forward(f, shape, x, weight, y);
    DType t = y.dtype();
    long m = y.length();
    long leaves = StatsRecords.leaves(m);
    Scratch leafSums = new Scratch(t, 3 * leaves);
    Scratch leafCounts = new Scratch(DType.INT32, 3 * leaves);
    int group = StatsRecords.LANES;
    Launch plain = forward.launches().get(0);
    List<Launch> l = new ArrayList<>();
    if (f.function() == Activation.Function.CRELU) {
      l.add(plain);
      l.add(launchIn(group, "stats_" + t.shortName(), m, y, m, leafSums, leafCounts));
    } else {
      List<Object> args = new ArrayList<>(plain.args());
      args.add(leafSums);
      args.add(leafCounts);
      String name = plain.kernel().replace("_forward_", "_forward_stats_");
      l.add(new Launch(name, plain.size(), args, group));
    }
    l.add(reduce(t, 1, leaves, leafSums, leafCounts, sums, counts));
    return new KernelPlan(
        l, forward.inputs(), List.of(y, sums, counts), List.of(leafSums, leafCounts));
  }

  /**
   * {@code y = f(x)}, then the statistics records of each channel of {@code y} seen as {@code
   * [outer, channels, inner]}: channel {@code c}'s outputs in memory order, as an array of their
   * own, make {@link StatsRecords#records} records from record {@code c * records} ({@code
   * channel_stats_<t>} over {@code y}, a pass of its own, then {@code stats_reduce_<t>} channel by
   * channel).
   */
  public static KernelPlan forwardWithChannelStats(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand y,
      long channels,
      long inner,
      Operand sums,
      Operand counts) {
    KernelPlan forward = forward(f, shape, x, weight, y);
    DType t = y.dtype();
    long perChannel = y.length() / channels;
    long leaves = StatsRecords.leaves(perChannel);
    Scratch leafSums = new Scratch(t, 3 * channels * leaves);
    Scratch leafCounts = new Scratch(DType.INT32, 3 * channels * leaves);
    List<Launch> l = new ArrayList<>(forward.launches());
    l.add(
        launchIn(
            StatsRecords.LANES,
            "channel_stats_" + t.shortName(),
            channels * leaves * StatsRecords.LANES,
            y,
            perChannel,
            channels,
            inner,
            leaves,
            leafSums,
            leafCounts));
    l.add(reduce(t, channels, leaves, leafSums, leafCounts, sums, counts));
    return new KernelPlan(
        l, forward.inputs(), List.of(y, sums, counts), List.of(leafSums, leafCounts));
  }

  /**
   * {@code stats_reduce_<t>} over {@code segments} runs of {@code leaves} leaf records each, each
   * run folded into {@link StatsRecords#LANES} times fewer records.
   */
  private static Launch reduce(
      DType t,
      long segments,
      long leaves,
      Operand leafSums,
      Operand leafCounts,
      Operand sums,
      Operand counts) {
    long groups = (leaves + StatsRecords.LANES - 1) / StatsRecords.LANES;
    return launchIn(
        StatsRecords.LANES,
        "stats_reduce_" + t.shortName(),
        segments * groups * StatsRecords.LANES,
        leafSums,
        leafCounts,
        leaves,
        groups,
        sums,
        counts);
  }

  /**
   * {@code gradInput = gradOutput * f'(x)}; for PReLU also {@code gradWeight}, computed first,
   * since {@code gradInput} may be {@code x} or {@code gradOutput}.
   */
  public static KernelPlan backward(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand gradOutput,
      Operand gradInput,
      Operand gradWeight) {
    String t = "_" + x.dtype().shortName();
    long n = x.length();
    List<Launch> l = new ArrayList<>();
    List<Operand> in = new ArrayList<>(List.of(x, gradOutput));
    List<Operand> out = new ArrayList<>(List.of(gradInput));
    Operand g = gradOutput;
    Operand dx = gradInput;
    if (f.function().channelwise()) {
      int axis = f.channelAxis(shape);
      long channels = shape.dim(axis);
      long inner = shape.inner(axis);
      switch (f.function()) {
        case PRELU -> {
          in.add(weight);
          out.add(gradWeight);
          long w = weight.length();
          l.add(
              launch(
                  "prelu_weight" + t, w, x, g, gradWeight, shape.outer(axis), channels, inner, w));
          l.add(blended(f, "prelu_backward" + t, n, x, weight, g, dx, n, channels, inner, w));
        }
        case CRELU -> l.add(blended(f, "crelu_backward" + t, n, x, g, dx, n, channels, inner));
        default ->
            l.add(
                blended(
                    f,
                    "maxout_backward" + t,
                    g.length(),
                    x,
                    g,
                    dx,
                    g.length(),
                    channels,
                    inner,
                    (long) f.pieces()));
      }
    } else {
      Elementwise e = elementwise(f, x.dtype(), true);
      l.add(new Launch(e.kernel(), n, e.args(x, g, dx, n, 0)));
    }
    if (f.readsOutput()) in.add(gradInput);
    return new KernelPlan(l, in, out);
  }

  private static Launch launch(String kernel, long size, Object... args) {
    return new Launch(kernel, size, Arrays.asList(args));
  }

  private static Launch launchIn(int group, String kernel, long size, Object... args) {
    return new Launch(kernel, size, Arrays.asList(args), group);
  }

  /** A launch of a kernel that writes its output blended: {@code args} then alpha and beta. */
  private static Launch blended(Activation f, String kernel, long size, Object... args) {
    DType t = ((Operand) args[0]).dtype();
    List<Object> a = new ArrayList<>(Arrays.asList(args));
    a.add(typed(f.blendAlpha(), t));
    a.add(typed(f.blendBeta(), t));
    return new Launch(kernel, size, a);
  }
}
