package dev.rectifier.cpu;

import dev.rectifier.Activation;

/**
 * Output blending ({@link Activation#blend}) for the CPU: {@code out = alpha * v + beta * out},
 * each product and the sum rounded in the array's type (Java never fuses them), as the device
 * kernels' {@code STORE} does; {@code beta = 0} never reads {@code out}. The elementwise loops
 * write their values into a tile of {@link #TILE} elements that stays in cache and is blended from
 * there, so the blend costs no extra pass over memory and the hand-tuned loops stay as they are.
 */
final class Blend {
  /** 8 KiB of float32: small enough for L1 beside the inputs, large enough to amortise a call. */
  static final int TILE = 2048;

  private Blend() {}

  static void into(float[] v, float[] out, int oo, int n, float alpha, float beta) {
    if (beta == 0) {
      for (int i = 0; i < n; i++) out[oo + i] = alpha * v[i];
    } else {
      for (int i = 0; i < n; i++) out[oo + i] = alpha * v[i] + beta * out[oo + i];
    }
  }

  static void into(double[] v, double[] out, int oo, int n, double alpha, double beta) {
    if (beta == 0) {
      for (int i = 0; i < n; i++) out[oo + i] = alpha * v[i];
    } else {
      for (int i = 0; i < n; i++) out[oo + i] = alpha * v[i] + beta * out[oo + i];
    }
  }
}
