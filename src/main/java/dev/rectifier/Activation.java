package dev.rectifier;

import dev.rectifier.spi.Text;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * One function of the ReLU family with its parameters: an immutable, thread-safe value that checks
 * its parameters when it is made. PyTorch's names, parameters and defaults. Backward computes
 * {@code grad_input = grad_output * f'(x)}.
 *
 * <table>
 *   <caption>The functions</caption>
 *   <tr><th>name</th><th>f(x)</th><th>parameters [default]</th></tr>
 *   <tr><td>relu</td><td>{@code x < 0 ? +0 : x}</td><td></td></tr>
 *   <tr><td>leaky_relu</td><td>{@code x < 0 ? slope*x : x}</td><td>slope [0.01]</td></tr>
 *   <tr><td>prelu</td><td>{@code x < 0 ? w[c]*x : x}, one weight per channel (or one for all)</td><td>channel axis [1]</td></tr>
 *   <tr><td>rrelu</td><td>inference: leaky_relu with slope {@code (lower+upper)/2}; training: a slope per element from {@link #rreluTraining}</td><td>lower [1/8], upper [1/3]</td></tr>
 *   <tr><td>elu</td><td>{@code x > 0 ? x : alpha*expm1(x)}</td><td>alpha [1]</td></tr>
 *   <tr><td>selu</td><td>{@code scale*(x > 0 ? x : alpha*expm1(x))}, alpha = 1.6732632423543772, scale = 1.0507009873554805</td><td></td></tr>
 *   <tr><td>celu</td><td>{@code x > 0 ? x : alpha*expm1(x/alpha)}</td><td>alpha [1], not 0</td></tr>
 *   <tr><td>relu6</td><td>hardtanh(0, 6)</td><td></td></tr>
 *   <tr><td>hardtanh</td><td>{@code x < min_val ? min_val : x > max_val ? max_val : x}</td><td>min_val [-1], max_val [1]</td></tr>
 *   <tr><td>threshold</td><td>{@code x <= threshold ? value : x}</td><td>threshold, value (required)</td></tr>
 *   <tr><td>crelu</td><td>{@code concat(relu(x), relu(-x))} along the channel axis</td><td>channel axis [1]</td></tr>
 *   <tr><td>maxout</td><td>max over groups of {@code pieces} consecutive channels</td><td>pieces (required), channel axis [1]</td></tr>
 *   <tr><td>gelu</td><td>{@code x*Phi(x) = x/2*erfc(-x/sqrt(2))}</td><td></td></tr>
 *   <tr><td>gelu_tanh</td><td>{@code x/2*(1+tanh(sqrt(2/pi)*(x+0.044715x^3)))}</td><td></td></tr>
 *   <tr><td>silu</td><td>{@code x*sigmoid(x)}</td><td></td></tr>
 *   <tr><td>mish</td><td>{@code x*tanh(softplus(x))}</td><td></td></tr>
 *   <tr><td>softplus</td><td>{@code beta*x > threshold ? x : log1p(exp(beta*x))/beta}</td><td>beta [1], threshold [20]</td></tr>
 * </table>
 *
 * <p>Edge conventions, the same on every backend: NaN in {@code x} gives NaN in {@code y} and in
 * {@code grad_input}; where {@code f'(x)} is zero the gradient is {@code +0.0} by selection (a NaN
 * or infinite {@code grad_output} does not leak there); at a kink the derivative takes the left
 * side ({@code relu'(0) = 0}, {@code relu6'(6) = 0}, {@code leaky_relu'(0) = slope}, {@code elu'(0)
 * = alpha}); {@code relu(-0.0) = -0.0}; gelu, silu and mish give {@code -0.0} at {@code -inf}.
 * Parameters of the piecewise-linear functions are rounded to the tensor's type before use, so
 * those functions are bit-exact; the others are within 4 ULP of the correctly rounded result.
 *
 * <p>The channel axis may be negative ({@code -1} is the last). Its default is 1, or 0 for a
 * one-dimensional tensor.
 */
public final class Activation {

  /** The functions of the family, by their PyTorch names. */
  public enum Function {
    RELU("relu", Kind.PIECEWISE_LINEAR),
    LEAKY_RELU("leaky_relu", Kind.PIECEWISE_LINEAR, "slope"),
    PRELU("prelu", Kind.CHANNELWISE),
    RRELU("rrelu", Kind.PIECEWISE_LINEAR, "lower", "upper"),
    ELU("elu", Kind.SMOOTH, "alpha"),
    SELU("selu", Kind.SMOOTH),
    CELU("celu", Kind.SMOOTH, "alpha"),
    RELU6("relu6", Kind.PIECEWISE_LINEAR),
    HARDTANH("hardtanh", Kind.PIECEWISE_LINEAR, "min_val", "max_val"),
    THRESHOLD("threshold", Kind.PIECEWISE_LINEAR, "threshold", "value"),
    CRELU("crelu", Kind.CHANNELWISE),
    MAXOUT("maxout", Kind.CHANNELWISE, "pieces"),
    GELU("gelu", Kind.SMOOTH),
    GELU_TANH("gelu_tanh", Kind.SMOOTH),
    SILU("silu", Kind.SMOOTH),
    MISH("mish", Kind.SMOOTH),
    SOFTPLUS("softplus", Kind.SMOOTH, "beta", "threshold");

    private final String id;
    private final Kind kind;
    private final List<String> params;

    Function(String id, Kind kind, String... params) {
      this.id = id;
      this.kind = kind;
      this.params = List.of(params);
    }

    /** PyTorch's name, e.g. {@code leaky_relu}. */
    public String id() {
      return id;
    }

    /** The names of the scalar parameters, e.g. {@code [slope]}. */
    public List<String> paramNames() {
      return params;
    }

    /** True for functions whose result is exactly one rounding (or none) of the input. */
    public boolean piecewiseLinear() {
      return kind != Kind.SMOOTH;
    }

    /** True for prelu, crelu and maxout, which need the tensor's shape and channel axis. */
    public boolean channelwise() {
      return kind == Kind.CHANNELWISE;
    }

    /** The function named {@code id}, or an error that lists the names. */
    public static Function byId(String id) {
      for (Function f : values()) {
        if (f.id.equals(id)) return f;
      }
      StringBuilder names = new StringBuilder();
      for (Function f : values()) names.append(names.length() == 0 ? "" : ", ").append(f.id);
      throw new IllegalArgumentException(
          "unknown function '" + Text.excerpt(id) + "'; use one of: " + names);
    }
  }

  private enum Kind {
    PIECEWISE_LINEAR,
    SMOOTH,
    CHANNELWISE
  }

  /** SELU's alpha and scale, to double precision (PyTorch's constants). */
  public static final double SELU_ALPHA = 1.6732632423543772848170429916717;

  /** See {@link #SELU_ALPHA}. */
  public static final double SELU_SCALE = 1.0507009873554804934193349852946;

  private static final int DEFAULT_AXIS = Integer.MIN_VALUE;

  private final Function function;
  private final Map<String, Double> params;
  private final int channelAxis;
  private final boolean training;
  private final long seed;
  private final double blendAlpha;
  private final double blendBeta;

  private Activation(
      Function function, Map<String, Double> params, int channelAxis, boolean training, long seed) {
    this(function, params, channelAxis, training, seed, 1, 0);
  }

  private Activation(
      Function function,
      Map<String, Double> params,
      int channelAxis,
      boolean training,
      long seed,
      double blendAlpha,
      double blendBeta) {
    this.function = function;
    this.params = Collections.unmodifiableMap(params);
    this.channelAxis = channelAxis;
    this.training = training;
    this.seed = seed;
    this.blendAlpha = blendAlpha;
    this.blendBeta = blendBeta;
  }

  private static Activation of(Function f, Object... namesAndValues) {
    Map<String, Double> p = new LinkedHashMap<>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      p.put((String) namesAndValues[i], ((Number) namesAndValues[i + 1]).doubleValue());
    }
    return validated(f, p, DEFAULT_AXIS, false, 0);
  }

  /** {@code relu(x) = x < 0 ? +0 : x}. */
  public static Activation relu() {
    return of(Function.RELU);
  }

  /** Leaky ReLU with slope 0.01. */
  public static Activation leakyRelu() {
    return leakyRelu(0.01);
  }

  /** Leaky ReLU: {@code x < 0 ? slope*x : x}; slope finite. */
  public static Activation leakyRelu(double slope) {
    return of(Function.LEAKY_RELU, "slope", slope);
  }

  /** PReLU with a learned weight per channel (given at the call) on channel axis 1. */
  public static Activation prelu() {
    return validated(Function.PRELU, new LinkedHashMap<>(), DEFAULT_AXIS, false, 0);
  }

  /** PReLU with a learned weight per channel (given at the call) on {@code channelAxis}. */
  public static Activation prelu(int channelAxis) {
    return validated(Function.PRELU, new LinkedHashMap<>(), given(channelAxis), false, 0);
  }

  /** RReLU in inference mode with lower 1/8 and upper 1/3. */
  public static Activation rrelu() {
    return rrelu(1.0 / 8, 1.0 / 3);
  }

  /**
   * RReLU in inference mode: leaky ReLU with slope {@code (lower+upper)/2}; 0 <= lower <= upper.
   */
  public static Activation rrelu(double lower, double upper) {
    return of(Function.RRELU, "lower", lower, "upper", upper);
  }

  /**
   * RReLU in training mode: for {@code x < 0}, {@code y = a_i * x} with a slope per element drawn
   * from {@code [lower, upper)} by a counter-based generator, the same on every backend and for
   * every thread count, so the backward call with the same activation sees the same slopes.
   *
   * <p>The generator: for the element at flat index {@code i} of the call (0 for its first
   * element), Philox4x32-10 (Salmon et al., SC'11; Random123's constants) with key {@code (seed mod
   * 2^32, seed >>> 32)} and counter {@code (i mod 2^32, i >>> 32, 0, 0)} gives words {@code r0,
   * r1}. In float32 {@code u = (r0 >>> 8) * 2^-24}; in float64 {@code u = ((r0 >>> 5) * 2^26 + (r1
   * >>> 6)) * 2^-53}. Then {@code a_i = fma(u, upper - lower, lower)} in the tensor's type, with
   * {@code lower} and {@code upper} (and their difference) rounded to that type.
   */
  public static Activation rreluTraining(double lower, double upper, long seed) {
    Map<String, Double> p = new LinkedHashMap<>();
    p.put("lower", lower);
    p.put("upper", upper);
    return validated(Function.RRELU, p, DEFAULT_AXIS, true, seed);
  }

  /** ELU with alpha 1. */
  public static Activation elu() {
    return elu(1.0);
  }

  /** ELU: {@code x > 0 ? x : alpha*expm1(x)}; alpha finite. */
  public static Activation elu(double alpha) {
    return of(Function.ELU, "alpha", alpha);
  }

  /** SELU with PyTorch's constants {@link #SELU_ALPHA} and {@link #SELU_SCALE}. */
  public static Activation selu() {
    return of(Function.SELU);
  }

  /** CELU with alpha 1. */
  public static Activation celu() {
    return celu(1.0);
  }

  /** CELU: {@code x > 0 ? x : alpha*expm1(x/alpha)}; alpha finite and not 0. */
  public static Activation celu(double alpha) {
    return of(Function.CELU, "alpha", alpha);
  }

  /** ReLU6: {@code hardtanh(x, 0, 6)}. */
  public static Activation relu6() {
    return of(Function.RELU6);
  }

  /** Hardtanh (clipped ReLU) on {@code [-1, 1]}. */
  public static Activation hardtanh() {
    return hardtanh(-1, 1);
  }

  /** Hardtanh, clipped to {@code [minVal, maxVal]}; neither NaN, {@code minVal <= maxVal}. */
  public static Activation hardtanh(double minVal, double maxVal) {
    return of(Function.HARDTANH, "min_val", minVal, "max_val", maxVal);
  }

  /** Threshold: {@code x <= threshold ? value : x}; neither NaN. */
  public static Activation threshold(double threshold, double value) {
    return of(Function.THRESHOLD, "threshold", threshold, "value", value);
  }

  /** CReLU on channel axis 1 (0 for a one-dimensional tensor). */
  public static Activation crelu() {
    return validated(Function.CRELU, new LinkedHashMap<>(), DEFAULT_AXIS, false, 0);
  }

  /**
   * CReLU: {@code concat(relu(x), relu(-x))} along {@code channelAxis}; the output has twice its
   * channels.
   */
  public static Activation crelu(int channelAxis) {
    return validated(Function.CRELU, new LinkedHashMap<>(), given(channelAxis), false, 0);
  }

  /** Maxout over groups of {@code pieces} consecutive channels on axis 1. */
  public static Activation maxout(int pieces) {
    Map<String, Double> p = new LinkedHashMap<>();
    p.put("pieces", (double) pieces);
    return validated(Function.MAXOUT, p, DEFAULT_AXIS, false, 0);
  }

  /**
   * Maxout: the max over each group of {@code pieces} consecutive channels on {@code channelAxis}
   * (NaN wins, the first index wins ties; the gradient goes to that index). {@code pieces >= 1};
   * that it divides the channel count is checked against the shape of each call.
   */
  public static Activation maxout(int pieces, int channelAxis) {
    Map<String, Double> p = new LinkedHashMap<>();
    p.put("pieces", (double) pieces);
    return validated(Function.MAXOUT, p, given(channelAxis), false, 0);
  }

  /** GELU with the exact (erf) form. */
  public static Activation gelu() {
    return of(Function.GELU);
  }

  /** GELU with the tanh approximation ({@code approximate='tanh'} in PyTorch). */
  public static Activation geluTanh() {
    return of(Function.GELU_TANH);
  }

  /** SiLU (swish): {@code x*sigmoid(x)}. */
  public static Activation silu() {
    return of(Function.SILU);
  }

  /** Mish: {@code x*tanh(softplus(x))}. */
  public static Activation mish() {
    return of(Function.MISH);
  }

  /** Softplus with beta 1 and threshold 20. */
  public static Activation softplus() {
    return softplus(1, 20);
  }

  /** Softplus: {@code beta*x > threshold ? x : log1p(exp(beta*x))/beta}; beta finite, not 0. */
  public static Activation softplus(double beta, double threshold) {
    return of(Function.SOFTPLUS, "beta", beta, "threshold", threshold);
  }

  /**
   * The activation named {@code name} with parameters by name (those not given take their
   * defaults), as the command-line tool builds it.
   *
   * @param channelAxis the channel axis, or null for the default
   * @throws IllegalArgumentException naming the unknown function or parameter, or the bad value
   */
  public static Activation of(String name, Map<String, Double> params, Integer channelAxis) {
    Function f = Function.byId(name);
    for (String k : params.keySet()) {
      if (!f.params.contains(k)) {
        throw new IllegalArgumentException(
            "unknown parameter '"
                + Text.excerpt(k)
                + "' for "
                + f.id
                + (f.params.isEmpty()
                    ? ", which takes none"
                    : "; it takes: " + String.join(", ", f.params)));
      }
    }
    if (channelAxis != null && !f.channelwise()) {
      throw new IllegalArgumentException(
          "a channel axis is only for prelu, crelu and maxout, not " + f.id);
    }
    Map<String, Double> p = new LinkedHashMap<>();
    Activation defaults = defaults(f, params);
    p.putAll(defaults.params);
    p.putAll(params);
    return validated(f, p, channelAxis == null ? DEFAULT_AXIS : given(channelAxis), false, 0);
  }

  /**
   * An axis the caller gave: every int but the one that stands for "the default" here, which no
   * tensor has (its rank would be 2^31).
   */
  private static int given(int channelAxis) {
    if (channelAxis == DEFAULT_AXIS) {
      throw new IllegalArgumentException(
          "the channel axis is "
              + channelAxis
              + ", out of range for any tensor; give an axis from -rank to rank - 1");
    }
    return channelAxis;
  }

  private static Activation defaults(Function f, Map<String, Double> given) {
    switch (f) {
      case LEAKY_RELU:
        return leakyRelu();
      case RRELU:
        return rrelu();
      case ELU:
        return elu();
      case CELU:
        return celu();
      case HARDTANH:
        return hardtanh();
      case SOFTPLUS:
        return softplus();
      case THRESHOLD:
      case MAXOUT:
        for (String k : f.params) {
          if (!given.containsKey(k)) {
            throw new IllegalArgumentException(
                f.id + " needs the parameter '" + k + "'; give its value");
          }
        }
        return new Activation(f, new LinkedHashMap<>(), DEFAULT_AXIS, false, 0);
      default:
        return new Activation(f, new LinkedHashMap<>(), DEFAULT_AXIS, false, 0);
    }
  }

  /** This activation in RReLU training mode with {@code seed}; only for rrelu. */
  public Activation training(long seed) {
    if (function != Function.RRELU) {
      throw new IllegalArgumentException("only rrelu has a training mode, not " + function.id);
    }
    return rreluTraining(param("lower"), param("upper"), seed).blend(blendAlpha, blendBeta);
  }

  /**
   * This activation writing its output blended with what the output holds, as cuDNN's alpha and
   * beta: forward {@code y = alpha * f(x) + beta * y}, backward {@code gradInput = alpha *
   * gradOutput * f'(x) + beta * gradInput} (PReLU's weight gradient is written, not blended).
   * {@code alpha} and {@code beta} are rounded to the tensor's type, and each product and the sum
   * is rounded in that type ({@code (alpha*v) + (beta*y)}, never fused), so every backend gives the
   * same bits. With {@code beta = 0} the output is not read at all (uninitialised or NaN contents
   * do not leak) and with {@code alpha = 1} nothing is multiplied: {@code blend(1, 0)} is the plain
   * activation. Lets a layer accumulate gradients ({@code beta = 1}) or scale a residual branch
   * without another pass over memory. Both must be finite.
   */
  public Activation blend(double alpha, double beta) {
    if (!Double.isFinite(alpha) || !Double.isFinite(beta)) {
      throw new IllegalArgumentException(
          "blend: alpha is " + alpha + " and beta is " + beta + "; give finite numbers");
    }
    // -0.0 and +0.0 say the same (the output is not read), so they compare equal here
    return new Activation(
        function, params, channelAxis, training, seed, alpha, beta == 0 ? 0 : beta);
  }

  /**
   * Whether backward can take the output {@code y = f(x)} in place of {@code x} ({@link
   * Rectifier#backwardFromOutput}, oneDNN's {@code use_dst_for_bwd}), so that a training loop may
   * run the forward in place and drop {@code x}: when {@code f'(x)} is a function of {@code y}.
   * That holds for relu, leaky_relu with slope >= 0, rrelu, relu6, hardtanh, threshold with value
   * <= threshold (the same kernels, with {@code y > 0} exactly where {@code x > 0} and the same
   * NaNs, so the gradients are bit for bit those from {@code x}; but where slope is 0 and {@code x
   * = -inf}, {@code y = 0 * -inf} is NaN and so is its gradient), and elu with alpha >= 0, where
   * {@code f'(x) = y + alpha} for {@code y <= 0}: that gradient is {@code gradOutput * (y + alpha)}
   * rounded once, which cancels where {@code y} is near {@code -alpha} ({@code x} below about -10):
   * exact for {@code y}, but further from {@code f'(x)} than backward from {@code x}.
   */
  public boolean backwardFromOutputAllowed() {
    return whyNotBackwardFromOutput() == null;
  }

  /**
   * Why backward cannot run from the output ({@link #backwardFromOutputAllowed}), in words that
   * name the fix where there is one, or null when it can.
   */
  public String whyNotBackwardFromOutput() {
    return switch (function) {
      case RELU, RRELU, RELU6, HARDTANH -> null;
      case LEAKY_RELU ->
          param("slope") >= 0 ? null : "with slope < 0, y > 0 for x < 0 too; give slope >= 0";
      case ELU ->
          param("alpha") >= 0 ? null : "with alpha < 0, y > 0 for x < 0 too; give alpha >= 0";
      case THRESHOLD ->
          param("value") <= param("threshold")
              ? null
              : "with value > threshold, y > threshold for x <= threshold too";
      default ->
          "its derivative is not a function of y (only relu, leaky_relu, rrelu, elu, relu6,"
              + " hardtanh and threshold have one)";
    };
  }

  /**
   * Whether the forward can emit a 1-bit mask and backward run from it ({@link
   * Rectifier#forward(Activation, float[], float[], int[])}, {@link Rectifier#backwardFromMask}):
   * for relu, leaky_relu (any slope), relu6 and hardtanh, whose {@code f'} takes two values and so
   * is one bit: 1 where {@code f'(x) = 1}, 0 where it is the slope (0 but for leaky_relu). The bit
   * is PyTorch's backward test: {@code !(x <= 0)} for relu, {@code x > 0} for leaky_relu, {@code
   * !(x <= min || x >= max)} for relu6 and hardtanh. Where {@code x} is not NaN the gradient is bit
   * for bit the one from {@code x}; where it is NaN a mask cannot say so (the forward's {@code y}
   * is NaN there): relu, relu6 and hardtanh pass {@code gradOutput} and leaky_relu gives {@code
   * slope * gradOutput}, as PyTorch's backward does.
   */
  public boolean maskAllowed() {
    return whyNoMask() == null;
  }

  /** Why the forward cannot emit a mask ({@link #maskAllowed}), or null when it can. */
  public String whyNoMask() {
    return switch (function) {
      case RELU, LEAKY_RELU, RELU6, HARDTANH -> null;
      default ->
          "its derivative takes more than two values (only relu, leaky_relu, relu6 and hardtanh"
              + " have a 1-bit mask)";
    };
  }

  /** The blend's alpha: 1 unless {@link #blend} set it. */
  public double blendAlpha() {
    return blendAlpha;
  }

  /** The blend's beta: 0 (the output not read) unless {@link #blend} set it. */
  public double blendBeta() {
    return blendBeta;
  }

  /** Whether the output is blended, not just written ({@link #blend} other than {@code (1, 0)}). */
  public boolean blends() {
    return blendAlpha != 1 || blendBeta != 0;
  }

  /**
   * Whether a call may be split into calls on consecutive parts of its arrays with the same
   * results: every function but the channel functions (PReLU, CReLU, Maxout: they need the whole
   * shape) and RReLU in training (its slopes are numbered from the start of a call).
   */
  public boolean splittable() {
    return !function.channelwise() && !(function == Function.RRELU && training);
  }

  /** Whether the output is read before it is written ({@code blendBeta() != 0}). */
  public boolean readsOutput() {
    return blendBeta != 0;
  }

  private static Activation validated(
      Function f, Map<String, Double> p, int axis, boolean training, long seed) {
    for (Map.Entry<String, Double> e : p.entrySet()) {
      if (Double.isNaN(e.getValue())) {
        throw new IllegalArgumentException(
            f.id + ": parameter " + e.getKey() + " is NaN; give a number");
      }
    }
    switch (f) {
      case LEAKY_RELU:
        requireFinite(f, p, "slope");
        break;
      case RRELU:
        requireFinite(f, p, "lower");
        requireFinite(f, p, "upper");
        if (!(p.get("lower") >= 0 && p.get("lower") <= p.get("upper"))) {
          throw new IllegalArgumentException(
              "rrelu: needs 0 <= lower <= upper, got lower="
                  + p.get("lower")
                  + " upper="
                  + p.get("upper"));
        }
        break;
      case ELU:
        requireFinite(f, p, "alpha");
        break;
      case CELU:
        requireFinite(f, p, "alpha");
        if (p.get("alpha") == 0) {
          throw new IllegalArgumentException(
              "celu: alpha is 0, which divides by zero (x/alpha); give a non-zero alpha");
        }
        break;
      case HARDTANH:
        if (p.get("min_val") > p.get("max_val")) {
          throw new IllegalArgumentException(
              "hardtanh: min_val ("
                  + p.get("min_val")
                  + ") is greater than max_val ("
                  + p.get("max_val")
                  + "); give min_val <= max_val");
        }
        break;
      case SOFTPLUS:
        requireFinite(f, p, "beta");
        if (p.get("beta") == 0) {
          throw new IllegalArgumentException("softplus: beta is 0; give a non-zero beta");
        }
        break;
      case MAXOUT:
        double pieces = p.get("pieces");
        if (!(pieces >= 1 && pieces == Math.rint(pieces) && pieces <= Integer.MAX_VALUE)) {
          String what =
              pieces > Integer.MAX_VALUE && pieces == Math.rint(pieces)
                  ? "more than a channel axis can hold"
                  : "not a whole number of 1 or more";
          throw new IllegalArgumentException(
              "maxout: pieces is "
                  + pieces
                  + ", "
                  + what
                  + "; give a whole number from 1 to "
                  + Integer.MAX_VALUE);
        }
        break;
      default:
        break;
    }
    return new Activation(f, p, axis, training, seed);
  }

  private static void requireFinite(Function f, Map<String, Double> p, String name) {
    if (!Double.isFinite(p.get(name))) {
      throw new IllegalArgumentException(
          f.id + ": parameter " + name + " is " + p.get(name) + "; give a finite number");
    }
  }

  /** The function. */
  public Function function() {
    return function;
  }

  /**
   * The value of the scalar parameter {@code name} (one of {@link Function#paramNames()}).
   *
   * @throws IllegalArgumentException when this function has no such parameter
   */
  public double param(String name) {
    Double v = params.get(name);
    if (v == null) {
      throw new IllegalArgumentException(
          function.id + " has no parameter '" + Text.excerpt(name) + "'");
    }
    return v;
  }

  /** The scalar parameters by name, in the order of {@link Function#paramNames()}. */
  public Map<String, Double> params() {
    return params;
  }

  /** Maxout's group size. */
  public int pieces() {
    return (int) param("pieces");
  }

  /** True for RReLU in training mode. */
  public boolean training() {
    return training;
  }

  /** The RReLU training seed (0 when not training). */
  public long seed() {
    return seed;
  }

  /**
   * The channel axis for a tensor of {@code shape}, resolved to {@code 0..rank-1}.
   *
   * @throws IllegalArgumentException when it is outside the shape
   */
  public int channelAxis(Shape shape) {
    if (channelAxis == DEFAULT_AXIS) return shape.rank() == 1 ? 0 : shape.resolveAxis(1);
    return shape.resolveAxis(channelAxis);
  }

  /**
   * The shape of {@code f(x)} for an input of {@code shape}: the same, but for crelu (twice the
   * channels) and maxout (channels / pieces).
   *
   * @throws IllegalArgumentException when the shape does not fit (maxout pieces that do not divide
   *     the channels, a channel axis outside the shape)
   */
  public Shape outputShape(Shape shape) {
    switch (function) {
      case CRELU:
        {
          int a = channelAxis(shape);
          return shape.withDim(a, Math.multiplyExact(shape.dim(a), 2));
        }
      case MAXOUT:
        {
          int a = channelAxis(shape);
          int c = shape.dim(a);
          if (c % pieces() != 0) {
            throw new IllegalArgumentException(
                "maxout: pieces="
                    + pieces()
                    + " does not divide the "
                    + c
                    + " channels on axis "
                    + a
                    + " of shape "
                    + shape
                    + "; give pieces that divide the channel count");
          }
          return shape.withDim(a, c / pieces());
        }
      case PRELU:
        channelAxis(shape);
        return shape;
      default:
        return shape;
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Activation a
        && function == a.function
        && params.equals(a.params)
        && channelAxis == a.channelAxis
        && training == a.training
        && seed == a.seed
        && blendAlpha == a.blendAlpha
        && blendBeta == a.blendBeta;
  }

  @Override
  public int hashCode() {
    return Objects.hash(function, params, channelAxis, training, seed, blendAlpha, blendBeta);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder(function.id).append('(');
    String sep = "";
    for (Map.Entry<String, Double> e : params.entrySet()) {
      s.append(sep).append(e.getKey()).append('=').append(fmt(e.getValue()));
      sep = ", ";
    }
    if (channelAxis != DEFAULT_AXIS) s.append(sep).append("channel_axis=").append(channelAxis);
    if (training) s.append(sep).append("training, seed=").append(seed);
    s.append(')');
    if (blends()) {
      s.append(".blend(").append(fmt(blendAlpha)).append(", ").append(fmt(blendBeta)).append(')');
    }
    return s.toString();
  }

  private static String fmt(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15
        ? String.format(Locale.ROOT, "%.0f", v)
        : Double.toString(v);
  }
}
