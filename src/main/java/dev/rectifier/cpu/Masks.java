package dev.rectifier.cpu;

import dev.rectifier.Activation;
import dev.rectifier.Activation.Function;

/**
 * 1-bit masks ({@link Activation#maskAllowed}): bit {@code i & 31} of word {@code i >>> 5} is 1
 * where {@code f'(x[i]) = 1}. The test is PyTorch's backward test, as the kernels have it: {@code x
 * > lo && !(x >= hi)}, or NaN where the function passes the gradient at NaN (relu, relu6, hardtanh:
 * {@code !(x <= lo || x >= hi)}); leaky_relu's is {@code x > 0}. {@code hi} is NaN (never reached)
 * for relu and leaky_relu.
 */
final class Masks {
  /** Elements a thread packs and computes at a time, so that {@code x} is read from cache twice. */
  static final int TILE = Blend.TILE;

  private Masks() {}

  /** Words of a mask over {@code n} elements. */
  static int words(int n) {
    return (int) (((long) n + 31) >>> 5);
  }

  /**
   * Packs the bits of {@code count} elements of {@code x} (from {@code xo}) into words from {@code
   * mo}; the bits of a last partial word past {@code count} are 0.
   */
  static void pack(Activation f, Object x, int xo, int count, int[] mask, int mo) {
    boolean nanOn = f.function() != Function.LEAKY_RELU;
    double lo =
        switch (f.function()) {
          case HARDTANH -> f.param("min_val");
          default -> 0;
        };
    double hi =
        switch (f.function()) {
          case HARDTANH -> f.param("max_val");
          case RELU6 -> 6;
          default -> Double.NaN;
        };
    if (x instanceof float[] xf) {
      float l = (float) lo;
      float h = (float) hi;
      for (int w = 0; w * 32 < count; w++) {
        int bits = 0;
        int base = xo + w * 32;
        int m = Math.min(32, count - w * 32);
        for (int j = 0; j < m; j++) {
          float v = xf[base + j];
          // non-short-circuit & and |, and a select: no branch on the data (random signs made a
          // branchy loop 12x slower than the forward itself)
          bits |= ((v > l & !(v >= h)) | (nanOn & v != v) ? 1 : 0) << j;
        }
        mask[mo + w] = bits;
      }
    } else {
      double[] xd = (double[]) x;
      for (int w = 0; w * 32 < count; w++) {
        int bits = 0;
        int base = xo + w * 32;
        int m = Math.min(32, count - w * 32);
        for (int j = 0; j < m; j++) {
          double v = xd[base + j];
          bits |= ((v > lo & !(v >= hi)) | (nanOn & v != v) ? 1 : 0) << j;
        }
        mask[mo + w] = bits;
      }
    }
  }

  /**
   * Elements {@code [from, from + count)} of backward from a mask into {@code out} from {@code oo}:
   * {@code g} where the bit is set, else {@code slope * g} rounded in the type, or {@code +0} where
   * the slope is 0.
   */
  static void backward(
      int[] mask, int mo, double slope, Object g, int go, int from, int count, Object out, int oo) {
    // Selects by bit masks, not branches: the bits are as random as the signs of x, and a branch
    // on them made this loop 8x slower than backward from x.
    if (g instanceof float[] gf) {
      float s = (float) slope;
      float[] o = (float[]) out;
      for (int i = 0; i < count; i++) {
        int at = from + i;
        int on = -(mask[mo + (at >>> 5)] >>> (at & 31) & 1); // all ones where the bit is set
        float v = gf[go + at];
        int off = s == 0 ? 0 : Float.floatToRawIntBits(s * v); // +0 where the slope is 0
        o[oo + i] = Float.intBitsToFloat((Float.floatToRawIntBits(v) & on) | (off & ~on));
      }
    } else {
      double[] gd = (double[]) g;
      double[] o = (double[]) out;
      for (int i = 0; i < count; i++) {
        int at = from + i;
        long on = -(long) (mask[mo + (at >>> 5)] >>> (at & 31) & 1);
        double v = gd[go + at];
        long off = slope == 0 ? 0 : Double.doubleToRawLongBits(slope * v);
        o[oo + i] = Double.longBitsToDouble((Double.doubleToRawLongBits(v) & on) | (off & ~on));
      }
    }
  }
}
