package dev.rectifier.cpu;

/**
 * PReLU, CReLU and Maxout on a tensor seen as {@code [outer, channels, inner]} around its channel
 * axis. Each method handles the outer indices {@code [from, to)}, so the backend can split the
 * work; the results do not depend on the split.
 */
final class ChannelKernels {
  private ChannelKernels() {}

  /** {@code y = x < 0 ? w[c]*x : x}; {@code w} holds one weight per channel, or one. */
  static void preluForward(
      Slice x, Slice w, int weights, Slice y, long from, long to, int channels, long inner) {
    for (long o = from; o < to; o++) {
      for (int c = 0; c < channels; c++) {
        double wc = w.get(weights == 1 ? 0 : c);
        long base = (o * channels + c) * inner;
        for (long i = base; i < base + inner; i++) {
          double v = x.get(i);
          y.set(i, v < 0 ? wc * v : v);
        }
      }
    }
  }

  /** {@code dx = x > 0 ? g : w[c]*g} (+0 where w[c] is 0, NaN where x is). */
  static void preluBackwardInput(
      Slice x,
      Slice w,
      int weights,
      Slice g,
      Slice dx,
      long from,
      long to,
      int channels,
      long inner) {
    for (long o = from; o < to; o++) {
      for (int c = 0; c < channels; c++) {
        double wc = w.get(weights == 1 ? 0 : c);
        long base = (o * channels + c) * inner;
        for (long i = base; i < base + inner; i++) {
          double v = x.get(i);
          dx.set(i, v > 0 ? g.get(i) : (v <= 0 ? (wc == 0 ? 0.0 : wc * g.get(i)) : v));
        }
      }
    }
  }

  /**
   * {@code gw[c]}: the sum of {@code g*x} over the elements of channel {@code c} (of every channel
   * when there is one weight) with {@code !(x > 0)}, in double, in flat C order: outer index, then
   * inner index. The order is fixed, so the result does not depend on threads. Channels {@code
   * [cFrom, cTo)} only.
   */
  static void preluBackwardWeight(
      Slice x,
      Slice g,
      Slice gw,
      int weights,
      int cFrom,
      int cTo,
      long outer,
      int channels,
      long inner) {
    if (weights == 1) {
      double sum = 0;
      long n = outer * channels * inner;
      for (long i = 0; i < n; i++) {
        double v = x.get(i);
        if (!(v > 0)) sum += g.get(i) * v;
      }
      gw.set(0, sum);
      return;
    }
    for (int c = cFrom; c < cTo; c++) {
      double sum = 0;
      for (long o = 0; o < outer; o++) {
        long base = (o * channels + c) * inner;
        for (long i = base; i < base + inner; i++) {
          double v = x.get(i);
          if (!(v > 0)) sum += g.get(i) * v;
        }
      }
      gw.set(c, sum);
    }
  }

  /** {@code y[o, c] = relu(x[o, c])}, {@code y[o, C + c] = relu(-x[o, c])}. */
  static void creluForward(Slice x, Slice y, long from, long to, int channels, long inner) {
    for (long o = from; o < to; o++) {
      for (int c = 0; c < channels; c++) {
        long src = (o * channels + c) * inner;
        long pos = (o * 2 * channels + c) * inner;
        long neg = pos + (long) channels * inner;
        for (long i = 0; i < inner; i++) {
          double v = x.get(src + i);
          y.set(pos + i, v < 0 ? 0.0 : v);
          y.set(neg + i, -v < 0 ? 0.0 : -v);
        }
      }
    }
  }

  /** {@code dx = x > 0 ? g[o, c] : x < 0 ? -g[o, C + c] : +0} (NaN where x is). */
  static void creluBackward(
      Slice x, Slice g, Slice dx, long from, long to, int channels, long inner) {
    for (long o = from; o < to; o++) {
      for (int c = 0; c < channels; c++) {
        long src = (o * channels + c) * inner;
        long pos = (o * 2 * channels + c) * inner;
        long neg = pos + (long) channels * inner;
        for (long i = 0; i < inner; i++) {
          double v = x.get(src + i);
          double d;
          if (v > 0) d = g.get(pos + i);
          else if (v < 0) d = -g.get(neg + i);
          else d = v == 0 ? 0.0 : v;
          dx.set(src + i, d);
        }
      }
    }
  }

  /**
   * The index within its group of the element Maxout picks: the largest, the first NaN if there is
   * one, the first of equals.
   */
  private static int argmax(Slice x, long first, long stride, int pieces) {
    double best = x.get(first);
    int at = 0;
    for (int k = 1; k < pieces && best == best; k++) {
      double v = x.get(first + k * stride);
      if (v > best || v != v) {
        best = v;
        at = k;
      }
    }
    return at;
  }

  static void maxoutForward(
      Slice x, Slice y, long from, long to, int channels, long inner, int pieces) {
    int groups = channels / pieces;
    for (long o = from; o < to; o++) {
      for (int j = 0; j < groups; j++) {
        long src = (o * channels + (long) j * pieces) * inner;
        long dst = (o * groups + j) * inner;
        for (long i = 0; i < inner; i++) {
          int k = argmax(x, src + i, inner, pieces);
          y.set(dst + i, x.get(src + i + k * inner));
        }
      }
    }
  }

  /** The gradient goes to the element Maxout picked (NaN there if it is NaN); +0 elsewhere. */
  static void maxoutBackward(
      Slice x, Slice g, Slice dx, long from, long to, int channels, long inner, int pieces) {
    int groups = channels / pieces;
    for (long o = from; o < to; o++) {
      for (int j = 0; j < groups; j++) {
        long src = (o * channels + (long) j * pieces) * inner;
        long dst = (o * groups + j) * inner;
        for (long i = 0; i < inner; i++) {
          int k = argmax(x, src + i, inner, pieces);
          double picked = x.get(src + i + k * inner);
          double grad = picked != picked ? picked : g.get(dst + i);
          for (int q = 0; q < pieces; q++) {
            dx.set(src + i + q * inner, q == k ? grad : 0.0);
          }
        }
      }
    }
  }
}
