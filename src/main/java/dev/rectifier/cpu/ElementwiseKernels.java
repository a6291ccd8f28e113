package dev.rectifier.cpu;

import dev.rectifier.Activation;
import dev.rectifier.Activation.Function;

/**
 * The elementwise functions over array ranges, one loop per function so that the JIT compiles each
 * on its own. float32 piecewise-linear functions are computed in float (one rounding, bit-exact);
 * smooth float32 functions in double through {@link Formulas}, rounded once. Parameters are rounded
 * to the array's type first. {@code index0} is the flat index of element 0 of the range within the
 * call, RReLU training's counter.
 *
 * <p>The float and double halves repeat each other on purpose: Java has no generics over
 * primitives, and each loop must stay monomorphic on one array type for C2 to vectorize it (a
 * shared body behind an interface or {@link Slice} costs a call per element).
 */
final class ElementwiseKernels {
  private ElementwiseKernels() {}

  // 2^75: two multiplications send every non-zero float to magnitude >= 2 (see relu).
  private static final float TWO_75 = 0x1p75f;

  static void forward(
      Activation f, float[] x, int xo, float[] y, int yo, int n, long index0, FloatLoops loops) {
    boolean api = loops == FloatLoops.VECTOR_API;
    boolean autoVectorized = loops == FloatLoops.AUTO_VECTORIZED;
    switch (f.function()) {
      case RELU:
        if (api) VectorApiLoops.relu(x, xo, y, yo, n);
        else relu(x, xo, y, yo, n);
        break;
      case LEAKY_RELU:
        leaky(x, xo, y, yo, n, (float) f.param("slope"));
        break;
      case RRELU:
        if (f.training()) {
          float lo = (float) f.param("lower");
          float width = (float) f.param("upper") - lo;
          for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            y[yo + i] = v < 0 ? rreluSlope(f.seed(), index0 + i, lo, width) * v : v;
          }
        } else {
          leaky(x, xo, y, yo, n, rreluInferenceSlopeFloat(f));
        }
        break;
      case RELU6:
        clamp(x, xo, y, yo, n, 0f, 6f);
        break;
      case HARDTANH:
        clamp(x, xo, y, yo, n, (float) f.param("min_val"), (float) f.param("max_val"));
        break;
      case THRESHOLD:
        {
          float t = (float) f.param("threshold");
          float value = (float) f.param("value");
          for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            y[yo + i] = v <= t ? value : v;
          }
          break;
        }
      case ELU:
        {
          double a = (float) f.param("alpha");
          if (api) VectorApiLoops.elu(x, xo, y, yo, n, 1, a);
          else for (int i = 0; i < n; i++) y[yo + i] = (float) Formulas.eluForFloat(x[xo + i], a);
          break;
        }
      case SELU:
        if (api) {
          VectorApiLoops.elu(x, xo, y, yo, n, Activation.SELU_SCALE, Formulas.SELU_SCALE_ALPHA);
        } else {
          for (int i = 0; i < n; i++) y[yo + i] = (float) Formulas.seluForFloat(x[xo + i]);
        }
        break;
      case CELU:
        {
          double a = (float) f.param("alpha");
          if (api) VectorApiLoops.celu(x, xo, y, yo, n, a);
          else for (int i = 0; i < n; i++) y[yo + i] = (float) Formulas.celu(x[xo + i], a);
          break;
        }
      case GELU:
        if (api) VectorApiLoops.gelu(x, xo, y, yo, n);
        else if (autoVectorized) VectorLoops.gelu(x, xo, y, yo, n);
        else for (int i = 0; i < n; i++) y[yo + i] = (float) Formulas.gelu(x[xo + i]);
        break;
      case GELU_TANH:
        if (api) VectorApiLoops.geluTanh(x, xo, y, yo, n);
        else for (int i = 0; i < n; i++) y[yo + i] = (float) Formulas.geluTanh(x[xo + i]);
        break;
      case SILU:
        if (api) VectorApiLoops.silu(x, xo, y, yo, n);
        else if (autoVectorized) VectorLoops.silu(x, xo, y, yo, n);
        else for (int i = 0; i < n; i++) y[yo + i] = (float) Formulas.silu(x[xo + i]);
        break;
      case MISH:
        if (api) VectorApiLoops.mish(x, xo, y, yo, n);
        else if (autoVectorized) VectorLoops.mish(x, xo, y, yo, n);
        else for (int i = 0; i < n; i++) y[yo + i] = (float) Formulas.mish(x[xo + i]);
        break;
      case SOFTPLUS:
        {
          double b = (float) f.param("beta");
          double t = (float) f.param("threshold");
          if (api) VectorApiLoops.softplus(x, xo, y, yo, n, b, t);
          else for (int i = 0; i < n; i++) y[yo + i] = (float) Formulas.softplus(x[xo + i], b, t);
          break;
        }
      default:
        throw new IllegalArgumentException(f.function().id() + " is not elementwise");
    }
  }

  /**
   * relu without a branch, so that C2 vectorizes it: {@code min(max(x, +0), u)}, {@code u = w (w +
   * 1)}, {@code w = x * 2^150}. {@code max(x, +0)} is relu but for -0, which it turns into +0; u
   * puts the -0 back: it is -0 for x = -0, positive for every negative x (w <= -2 even for the
   * smallest subnormal, so w (w + 1) >= 2, or +inf) and at least x for positive x; NaN stays NaN.
   * Two min/max where the form before had three: a 4K call 0.61 to 0.39 us (JDK 17, one core).
   */
  private static void relu(float[] x, int xo, float[] y, int yo, int n) {
    if (xo == yo) {
      // One index for both arrays: C2 then knows that even if x is y no element is read after it
      // is written, and vectorizes; with two offsets it cannot rule that out (3x slower here).
      for (int i = xo; i < xo + n; i++) {
        float v = x[i];
        float w = v * TWO_75 * TWO_75;
        y[i] = Math.min(Math.max(v, 0f), w * (w + 1f));
      }
      return;
    }
    for (int i = 0; i < n; i++) {
      float v = x[xo + i];
      float w = v * TWO_75 * TWO_75;
      y[yo + i] = Math.min(Math.max(v, 0f), w * (w + 1f));
    }
  }

  /**
   * For 0 < slope <= 1, {@code max(x, slope*x)} equals the select {@code x < 0 ? slope*x : x} bit
   * for bit (rounding is monotonic; -0 and NaN come through) and vectorizes.
   */
  private static void leaky(float[] x, int xo, float[] y, int yo, int n, float s) {
    if (s > 0 && s <= 1 && xo == yo) { // one index: see relu
      for (int i = xo; i < xo + n; i++) {
        float v = x[i];
        y[i] = Math.max(v, s * v);
      }
    } else if (s > 0 && s <= 1) {
      for (int i = 0; i < n; i++) {
        float v = x[xo + i];
        y[yo + i] = Math.max(v, s * v);
      }
    } else {
      for (int i = 0; i < n; i++) {
        float v = x[xo + i];
        y[yo + i] = v < 0 ? s * v : v;
      }
    }
  }

  private static void clamp(float[] x, int xo, float[] y, int yo, int n, float lo, float hi) {
    int loBits = Float.floatToRawIntBits(lo);
    boolean hiFits = hi > 0 || Float.floatToRawIntBits(hi) == 0;
    if (xo == yo && hiFits && loBits == 0) {
      // lo = +0 (relu6): min(relu(x), hi), relu as above, equals the select bit for bit.
      for (int i = xo; i < xo + n; i++) {
        float v = x[i];
        float w = v * TWO_75 * TWO_75;
        y[i] = Math.min(Math.min(Math.max(v, 0f), w * (w + 1f)), hi);
      }
      return;
    }
    if (xo == yo && hiFits && (lo < 0 || loBits == 0x80000000)) {
      // min(max(x, lo), hi) equals the select bit for bit when lo < 0 <= hi: Java's max and min
      // keep NaN and order -0 below +0, so a zero input keeps its sign. It vectorizes.
      for (int i = xo; i < xo + n; i++) y[i] = Math.min(Math.max(x[i], lo), hi);
      return;
    }
    for (int i = 0; i < n; i++) {
      float v = x[xo + i];
      y[yo + i] = v < lo ? lo : (v > hi ? hi : v);
    }
  }

  static float rreluInferenceSlopeFloat(Activation f) {
    return (float) ((f.param("lower") + f.param("upper")) / 2);
  }

  static double rreluInferenceSlope(Activation f) {
    return (f.param("lower") + f.param("upper")) / 2;
  }

  static float rreluSlope(long seed, long index, float lower, float width) {
    return Math.fma(Philox.uniformFloat(seed, index), width, lower);
  }

  static double rreluSlope(long seed, long index, double lower, double width) {
    return Math.fma(Philox.uniformDouble(seed, index), width, lower);
  }

  static void backward(
      Activation f, float[] x, int xo, float[] g, int go, float[] dx, int dxo, int n, long index0) {
    switch (f.function()) {
      case RELU:
        passAbove(x, xo, g, go, dx, dxo, n, 0f);
        break;
      case LEAKY_RELU:
        slopeBackward(x, xo, g, go, dx, dxo, n, (float) f.param("slope"));
        break;
      case RRELU:
        if (f.training()) {
          float lo = (float) f.param("lower");
          float width = (float) f.param("upper") - lo;
          for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            float d;
            if (v > 0) d = g[go + i];
            else if (v <= 0) {
              float a = rreluSlope(f.seed(), index0 + i, lo, width);
              d = a == 0 ? 0f : a * g[go + i];
            } else d = v;
            dx[dxo + i] = d;
          }
        } else {
          slopeBackward(x, xo, g, go, dx, dxo, n, rreluInferenceSlopeFloat(f));
        }
        break;
      case RELU6:
        clampBackward(x, xo, g, go, dx, dxo, n, 0f, 6f);
        break;
      case HARDTANH:
        clampBackward(
            x, xo, g, go, dx, dxo, n, (float) f.param("min_val"), (float) f.param("max_val"));
        break;
      case THRESHOLD:
        {
          passAbove(x, xo, g, go, dx, dxo, n, (float) f.param("threshold"));
          break;
        }
      case ELU:
        {
          double a = (float) f.param("alpha");
          if (a == 0) {
            slopeBackward(x, xo, g, go, dx, dxo, n, 0f);
            break;
          }
          for (int i = 0; i < n; i++) {
            dx[dxo + i] = times(g[go + i], Formulas.eluPrime(x[xo + i], a), x[xo + i]);
          }
          break;
        }
      case SELU:
        for (int i = 0; i < n; i++)
          dx[dxo + i] = times(g[go + i], Formulas.seluPrime(x[xo + i]), x[xo + i]);
        break;
      case CELU:
        {
          double a = (float) f.param("alpha");
          for (int i = 0; i < n; i++) {
            dx[dxo + i] = times(g[go + i], Formulas.celuPrime(x[xo + i], a), x[xo + i]);
          }
          break;
        }
      case GELU:
        for (int i = 0; i < n; i++)
          dx[dxo + i] =
              x[xo + i] < Formulas.GELU_ZERO_DERIVATIVE_BELOW
                  ? 0
                  : times(g[go + i], Formulas.geluPrime(x[xo + i]), x[xo + i]);
        break;
      case GELU_TANH:
        for (int i = 0; i < n; i++) {
          dx[dxo + i] =
              x[xo + i] < Formulas.GELU_TANH_ZERO_DERIVATIVE_BELOW
                  ? 0
                  : times(g[go + i], Formulas.geluTanhPrime(x[xo + i]), x[xo + i]);
        }
        break;
      case SILU:
        for (int i = 0; i < n; i++)
          dx[dxo + i] = times(g[go + i], Formulas.siluPrime(x[xo + i]), x[xo + i]);
        break;
      case MISH:
        for (int i = 0; i < n; i++)
          dx[dxo + i] = times(g[go + i], Formulas.mishPrime(x[xo + i]), x[xo + i]);
        break;
      case SOFTPLUS:
        {
          double b = (float) f.param("beta");
          double t = (float) f.param("threshold");
          for (int i = 0; i < n; i++) {
            dx[dxo + i] = times(g[go + i], Formulas.softplusPrime(x[xo + i], b, t), x[xo + i]);
          }
          break;
        }
      default:
        throw new IllegalArgumentException(f.function().id() + " is not elementwise");
    }
  }

  /**
   * grad * f'(x) rounded once to float. At x = +-inf the derivative is a limit, exactly 0 where it
   * is 0, so that gradient is +0 by selection; at finite x a zero derivative is an underflow, and
   * keeps its sign through the product.
   */
  private static float times(float grad, double derivative, float x) {
    return derivative == 0 && Float.isInfinite(x) ? 0f : (float) (grad * derivative);
  }

  /*
   * The piecewise-linear backward loops select bits through masks instead of branching: a branch on
   * the sign of x mispredicts half the time on real data. C2 makes the int selects conditional
   * moves; measured on 16M floats, one thread: 73 ms with branches, 14 ms so. Each is bit for bit
   * the select it replaces: g where x is inside, +0 where outside (never g * 0, which would let an
   * infinite or NaN g through), x itself where x is NaN.
   */

  /** {@code x > t ? g : (x <= t ? +0 : x)}: relu ({@code t = 0}) and threshold. */
  private static void passAbove(
      float[] x, int xo, float[] g, int go, float[] dx, int dxo, int n, float t) {
    for (int i = 0; i < n; i++) {
      float v = x[xo + i];
      int keep = v > t ? -1 : 0;
      int nan = v != v ? -1 : 0;
      dx[dxo + i] =
          Float.intBitsToFloat(
              (Float.floatToRawIntBits(g[go + i]) & keep) | (Float.floatToRawIntBits(v) & nan));
    }
  }

  /** {@code x > 0 ? g : (x <= 0 ? (s == 0 ? +0 : s * g) : x)}. */
  private static void slopeBackward(
      float[] x, int xo, float[] g, int go, float[] dx, int dxo, int n, float s) {
    int slope = s == 0 ? 0 : -1;
    for (int i = 0; i < n; i++) {
      float v = x[xo + i];
      float gv = g[go + i];
      int keep = v > 0 ? -1 : 0;
      int scaled = v <= 0 ? slope : 0;
      int nan = v != v ? -1 : 0;
      dx[dxo + i] =
          Float.intBitsToFloat(
              (Float.floatToRawIntBits(gv) & keep)
                  | (Float.floatToRawIntBits(s * gv) & scaled)
                  | (Float.floatToRawIntBits(v) & nan));
    }
  }

  /** {@code lo < x < hi ? g : (x is NaN ? x : +0)}. */
  private static void clampBackward(
      float[] x, int xo, float[] g, int go, float[] dx, int dxo, int n, float lo, float hi) {
    for (int i = 0; i < n; i++) {
      float v = x[xo + i];
      int keep = (v > lo) & (v < hi) ? -1 : 0;
      int nan = v != v ? -1 : 0;
      dx[dxo + i] =
          Float.intBitsToFloat(
              (Float.floatToRawIntBits(g[go + i]) & keep) | (Float.floatToRawIntBits(v) & nan));
    }
  }

  // ---------------------------------------------------------------- float64

  static void forward(Activation f, double[] x, int xo, double[] y, int yo, int n, long index0) {
    switch (f.function()) {
      case RELU:
        for (int i = 0; i < n; i++) {
          double v = x[xo + i];
          y[yo + i] = v < 0 ? 0.0 : v;
        }
        break;
      case LEAKY_RELU:
        leaky(x, xo, y, yo, n, f.param("slope"));
        break;
      case RRELU:
        if (f.training()) {
          double lo = f.param("lower");
          double width = f.param("upper") - lo;
          for (int i = 0; i < n; i++) {
            double v = x[xo + i];
            y[yo + i] = v < 0 ? rreluSlope(f.seed(), index0 + i, lo, width) * v : v;
          }
        } else {
          leaky(x, xo, y, yo, n, rreluInferenceSlope(f));
        }
        break;
      case RELU6:
        clamp(x, xo, y, yo, n, 0, 6);
        break;
      case HARDTANH:
        clamp(x, xo, y, yo, n, f.param("min_val"), f.param("max_val"));
        break;
      case THRESHOLD:
        {
          double t = f.param("threshold");
          double value = f.param("value");
          for (int i = 0; i < n; i++) {
            double v = x[xo + i];
            y[yo + i] = v <= t ? value : v;
          }
          break;
        }
      case ELU:
        {
          double a = f.param("alpha");
          for (int i = 0; i < n; i++) y[yo + i] = Formulas.elu(x[xo + i], a);
          break;
        }
      case SELU:
        for (int i = 0; i < n; i++) y[yo + i] = Formulas.selu(x[xo + i]);
        break;
      case CELU:
        {
          double a = f.param("alpha");
          for (int i = 0; i < n; i++) y[yo + i] = Formulas.celu(x[xo + i], a);
          break;
        }
      case GELU:
        for (int i = 0; i < n; i++) y[yo + i] = Formulas.gelu(x[xo + i]);
        break;
      case GELU_TANH:
        for (int i = 0; i < n; i++) y[yo + i] = Formulas.geluTanh(x[xo + i]);
        break;
      case SILU:
        for (int i = 0; i < n; i++) y[yo + i] = Formulas.silu(x[xo + i]);
        break;
      case MISH:
        for (int i = 0; i < n; i++) y[yo + i] = Formulas.mish(x[xo + i]);
        break;
      case SOFTPLUS:
        {
          double b = f.param("beta");
          double t = f.param("threshold");
          for (int i = 0; i < n; i++) y[yo + i] = Formulas.softplus(x[xo + i], b, t);
          break;
        }
      default:
        throw new IllegalArgumentException(f.function().id() + " is not elementwise");
    }
  }

  private static void leaky(double[] x, int xo, double[] y, int yo, int n, double s) {
    for (int i = 0; i < n; i++) {
      double v = x[xo + i];
      y[yo + i] = v < 0 ? s * v : v;
    }
  }

  private static void clamp(double[] x, int xo, double[] y, int yo, int n, double lo, double hi) {
    for (int i = 0; i < n; i++) {
      double v = x[xo + i];
      y[yo + i] = v < lo ? lo : (v > hi ? hi : v);
    }
  }

  static void backward(
      Activation f,
      double[] x,
      int xo,
      double[] g,
      int go,
      double[] dx,
      int dxo,
      int n,
      long index0) {
    switch (f.function()) {
      case RELU:
        passAbove(x, xo, g, go, dx, dxo, n, 0.0);
        break;
      case LEAKY_RELU:
        slopeBackward(x, xo, g, go, dx, dxo, n, f.param("slope"));
        break;
      case RRELU:
        if (f.training()) {
          double lo = f.param("lower");
          double width = f.param("upper") - lo;
          for (int i = 0; i < n; i++) {
            double v = x[xo + i];
            double d;
            if (v > 0) d = g[go + i];
            else if (v <= 0) {
              double a = rreluSlope(f.seed(), index0 + i, lo, width);
              d = a == 0 ? 0.0 : a * g[go + i];
            } else d = v;
            dx[dxo + i] = d;
          }
        } else {
          slopeBackward(x, xo, g, go, dx, dxo, n, rreluInferenceSlope(f));
        }
        break;
      case RELU6:
        clampBackward(x, xo, g, go, dx, dxo, n, 0, 6);
        break;
      case HARDTANH:
        clampBackward(x, xo, g, go, dx, dxo, n, f.param("min_val"), f.param("max_val"));
        break;
      case THRESHOLD:
        {
          double t = f.param("threshold");
          passAbove(x, xo, g, go, dx, dxo, n, t);
          break;
        }
      case ELU:
        {
          double a = f.param("alpha");
          if (a == 0) {
            slopeBackward(x, xo, g, go, dx, dxo, n, 0.0);
            break;
          }
          for (int i = 0; i < n; i++) {
            dx[dxo + i] = times(g[go + i], Formulas.eluPrime(x[xo + i], a), x[xo + i]);
          }
          break;
        }
      case SELU:
        for (int i = 0; i < n; i++)
          dx[dxo + i] = times(g[go + i], Formulas.seluPrime(x[xo + i]), x[xo + i]);
        break;
      case CELU:
        {
          double a = f.param("alpha");
          for (int i = 0; i < n; i++) {
            dx[dxo + i] = times(g[go + i], Formulas.celuPrime(x[xo + i], a), x[xo + i]);
          }
          break;
        }
      case GELU:
        for (int i = 0; i < n; i++)
          dx[dxo + i] =
              x[xo + i] < Formulas.GELU_ZERO_DERIVATIVE_BELOW
                  ? 0
                  : times(g[go + i], Formulas.geluPrime(x[xo + i]), x[xo + i]);
        break;
      case GELU_TANH:
        for (int i = 0; i < n; i++) {
          dx[dxo + i] =
              x[xo + i] < Formulas.GELU_TANH_ZERO_DERIVATIVE_BELOW
                  ? 0
                  : times(g[go + i], Formulas.geluTanhPrime(x[xo + i]), x[xo + i]);
        }
        break;
      case SILU:
        for (int i = 0; i < n; i++)
          dx[dxo + i] = times(g[go + i], Formulas.siluPrime(x[xo + i]), x[xo + i]);
        break;
      case MISH:
        for (int i = 0; i < n; i++)
          dx[dxo + i] = times(g[go + i], Formulas.mishPrime(x[xo + i]), x[xo + i]);
        break;
      case SOFTPLUS:
        {
          double b = f.param("beta");
          double t = f.param("threshold");
          for (int i = 0; i < n; i++) {
            dx[dxo + i] = times(g[go + i], Formulas.softplusPrime(x[xo + i], b, t), x[xo + i]);
          }
          break;
        }
      default:
        throw new IllegalArgumentException(f.function().id() + " is not elementwise");
    }
  }

  private static double times(double grad, double derivative, double x) {
    return derivative == 0 && Double.isInfinite(x) ? 0.0 : grad * derivative;
  }

  /** {@code x > t ? g : (x <= t ? +0 : x)}, through masks as the float version. */
  private static void passAbove(
      double[] x, int xo, double[] g, int go, double[] dx, int dxo, int n, double t) {
    for (int i = 0; i < n; i++) {
      double v = x[xo + i];
      long keep = v > t ? -1L : 0L;
      long nan = v != v ? -1L : 0L;
      dx[dxo + i] =
          Double.longBitsToDouble(
              (Double.doubleToRawLongBits(g[go + i]) & keep)
                  | (Double.doubleToRawLongBits(v) & nan));
    }
  }

  /** {@code x > 0 ? g : (x <= 0 ? (s == 0 ? +0 : s * g) : x)}, through masks. */
  private static void slopeBackward(
      double[] x, int xo, double[] g, int go, double[] dx, int dxo, int n, double s) {
    long slope = s == 0 ? 0L : -1L;
    for (int i = 0; i < n; i++) {
      double v = x[xo + i];
      double gv = g[go + i];
      long keep = v > 0 ? -1L : 0L;
      long scaled = v <= 0 ? slope : 0L;
      long nan = v != v ? -1L : 0L;
      dx[dxo + i] =
          Double.longBitsToDouble(
              (Double.doubleToRawLongBits(gv) & keep)
                  | (Double.doubleToRawLongBits(s * gv) & scaled)
                  | (Double.doubleToRawLongBits(v) & nan));
    }
  }

  /** {@code lo < x < hi ? g : (x is NaN ? x : +0)}, through masks. */
  private static void clampBackward(
      double[] x, int xo, double[] g, int go, double[] dx, int dxo, int n, double lo, double hi) {
    for (int i = 0; i < n; i++) {
      double v = x[xo + i];
      long keep = (v > lo) & (v < hi) ? -1L : 0L;
      long nan = v != v ? -1L : 0L;
      dx[dxo + i] =
          Double.longBitsToDouble(
              (Double.doubleToRawLongBits(g[go + i]) & keep)
                  | (Double.doubleToRawLongBits(v) & nan));
    }
  }

  /** True for the functions whose cost is memory traffic, not arithmetic. */
  static boolean memoryBound(Activation f) {
    Function fn = f.function();
    return fn.piecewiseLinear() && !(fn == Function.RRELU && f.training());
  }
}
