package dev.rectifier;

import dev.rectifier.cpu.Formulas;
import dev.rectifier.cpu.Philox;

/**
 * The contract restated one element at a time, plainly, with none of the kernels' tricks (no
 * branch-free selects, no splitting): what every backend must agree with on generated inputs. The
 * piecewise-linear functions in the tensor's own arithmetic (bit-exact); the smooth ones through
 * the double-precision definitions in {@link Formulas}, whose accuracy against the 50-digit
 * reference the golden tests measure.
 */
final class Oracle {
  private Oracle() {}

  static float forward(Activation f, float x, long index) {
    switch (f.function()) {
      case RELU:
        return x < 0 ? 0f : x;
      case LEAKY_RELU:
        return x < 0 ? (float) f.param("slope") * x : x;
      case RRELU:
        return x < 0 ? slope(f, index) * x : x;
      case RELU6:
        return x < 0 ? 0f : x > 6 ? 6f : x;
      case HARDTANH:
        {
          float lo = (float) f.param("min_val");
          float hi = (float) f.param("max_val");
          return x < lo ? lo : x > hi ? hi : x;
        }
      case THRESHOLD:
        return x <= (float) f.param("threshold") ? (float) f.param("value") : x;
      default:
        return (float) smooth(f, x, true, false);
    }
  }

  static double forward(Activation f, double x, long index) {
    switch (f.function()) {
      case RELU:
        return x < 0 ? 0.0 : x;
      case LEAKY_RELU:
        return x < 0 ? f.param("slope") * x : x;
      case RRELU:
        return x < 0 ? slope64(f, index) * x : x;
      case RELU6:
        return x < 0 ? 0.0 : x > 6 ? 6.0 : x;
      case HARDTANH:
        return x < f.param("min_val")
            ? f.param("min_val")
            : x > f.param("max_val") ? f.param("max_val") : x;
      case THRESHOLD:
        return x <= f.param("threshold") ? f.param("value") : x;
      default:
        return smooth(f, x, false, false);
    }
  }

  static float backward(Activation f, float x, float g, long index) {
    if (Float.isNaN(x)) return x;
    switch (f.function()) {
      case RELU:
        return x > 0 ? g : 0f;
      case LEAKY_RELU:
      case RRELU:
        {
          float s =
              f.function() == Activation.Function.RRELU
                  ? slope(f, index)
                  : (float) f.param("slope");
          return x > 0 ? g : s == 0 ? 0f : s * g;
        }
      case RELU6:
        return x > 0 && x < 6 ? g : 0f;
      case HARDTANH:
        return x > (float) f.param("min_val") && x < (float) f.param("max_val") ? g : 0f;
      case THRESHOLD:
        return x > (float) f.param("threshold") ? g : 0f;
      default:
        {
          if (f.function() == Activation.Function.ELU && (float) f.param("alpha") == 0) {
            return x > 0 ? g : 0f;
          }
          if (zeroDerivative(f, x)) return 0f;
          double d = smooth(f, x, true, true);
          return d == 0 && Float.isInfinite(x) ? 0f : (float) (g * d);
        }
    }
  }

  static double backward(Activation f, double x, double g, long index) {
    if (Double.isNaN(x)) return x;
    switch (f.function()) {
      case RELU:
        return x > 0 ? g : 0.0;
      case LEAKY_RELU:
      case RRELU:
        {
          double s =
              f.function() == Activation.Function.RRELU ? slope64(f, index) : f.param("slope");
          return x > 0 ? g : s == 0 ? 0.0 : s * g;
        }
      case RELU6:
        return x > 0 && x < 6 ? g : 0.0;
      case HARDTANH:
        return x > f.param("min_val") && x < f.param("max_val") ? g : 0.0;
      case THRESHOLD:
        return x > f.param("threshold") ? g : 0.0;
      default:
        {
          if (f.function() == Activation.Function.ELU && f.param("alpha") == 0) {
            return x > 0 ? g : 0.0;
          }
          if (zeroDerivative(f, x)) return 0.0;
          double d = smooth(f, x, false, true);
          return d == 0 && Double.isInfinite(x) ? 0.0 : g * d;
        }
    }
  }

  /** Where the contract takes a smooth derivative as exactly 0 (+0 by selection). */
  private static boolean zeroDerivative(Activation f, double x) {
    return f.function() == Activation.Function.GELU && x < Formulas.GELU_ZERO_DERIVATIVE_BELOW
        || f.function() == Activation.Function.GELU_TANH
            && x < Formulas.GELU_TANH_ZERO_DERIVATIVE_BELOW;
  }

  private static float slope(Activation f, long index) {
    float lo = (float) f.param("lower");
    float hi = (float) f.param("upper");
    if (!f.training()) return (float) ((f.param("lower") + f.param("upper")) / 2);
    return Math.fma(Philox.uniformFloat(f.seed(), index), hi - lo, lo);
  }

  private static double slope64(Activation f, long index) {
    double lo = f.param("lower");
    double hi = f.param("upper");
    if (!f.training()) return (lo + hi) / 2;
    return Math.fma(Philox.uniformDouble(f.seed(), index), hi - lo, lo);
  }

  /** f(x) or f'(x) of a smooth function, parameters rounded to float for float32. */
  private static double smooth(Activation f, double x, boolean f32, boolean derivative) {
    java.util.function.DoubleUnaryOperator p = v -> f32 ? (double) (float) v : v;
    switch (f.function()) {
      case ELU:
        return derivative
            ? Formulas.eluPrime(x, p.applyAsDouble(f.param("alpha")))
            : Formulas.elu(x, p.applyAsDouble(f.param("alpha")));
      case SELU:
        return derivative ? Formulas.seluPrime(x) : Formulas.selu(x);
      case CELU:
        return derivative
            ? Formulas.celuPrime(x, p.applyAsDouble(f.param("alpha")))
            : Formulas.celu(x, p.applyAsDouble(f.param("alpha")));
      case GELU:
        return derivative ? Formulas.geluPrime(x) : Formulas.gelu(x);
      case GELU_TANH:
        return derivative ? Formulas.geluTanhPrime(x) : Formulas.geluTanh(x);
      case SILU:
        return derivative ? Formulas.siluPrime(x) : Formulas.silu(x);
      case MISH:
        return derivative ? Formulas.mishPrime(x) : Formulas.mish(x);
      case SOFTPLUS:
        {
          double b = p.applyAsDouble(f.param("beta"));
          double t = p.applyAsDouble(f.param("threshold"));
          return derivative ? Formulas.softplusPrime(x, b, t) : Formulas.softplus(x, b, t);
        }
      default:
        throw new IllegalArgumentException(f.function().id());
    }
  }
}
