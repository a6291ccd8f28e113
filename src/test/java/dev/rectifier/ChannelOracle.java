package dev.rectifier;

import dev.rectifier.Activation.Function;

/** PReLU, CReLU and Maxout restated one element at a time, in double, for the suite. */
final class ChannelOracle {
  private ChannelOracle() {}

  static void compute(
      Activation f,
      double[] x,
      double[] w,
      double[] g,
      double[] y,
      double[] dx,
      double[] gw,
      long outer,
      int channels,
      long inner) {
    for (long o = 0; o < outer; o++) {
      for (int c = 0; c < channels; c++) {
        for (long i = 0; i < inner; i++) {
          int at = (int) ((o * channels + c) * inner + i);
          double v = x[at];
          if (f.function() == Function.PRELU) {
            y[at] = v < 0 ? w[c] * v : v;
            dx[at] = Double.isNaN(v) ? v : v > 0 ? g[at] : w[c] == 0 ? 0.0 : w[c] * g[at];
          } else if (f.function() == Function.CRELU) {
            int pos = (int) ((o * 2 * channels + c) * inner + i);
            int neg = (int) ((o * 2 * channels + channels + c) * inner + i);
            y[pos] = v < 0 ? 0.0 : v;
            y[neg] = -v < 0 ? 0.0 : -v;
            dx[at] = Double.isNaN(v) ? v : v > 0 ? g[pos] : v < 0 ? -g[neg] : 0.0;
          }
        }
      }
    }
    if (f.function() == Function.PRELU) {
      for (int c = 0; c < channels; c++) {
        double sum = 0;
        for (long o = 0; o < outer; o++) {
          for (long i = 0; i < inner; i++) {
            int at = (int) ((o * channels + c) * inner + i);
            if (!(x[at] > 0)) sum += g[at] * x[at];
          }
        }
        gw[c] = sum;
      }
    }
    if (f.function() == Function.MAXOUT) {
      int p = f.pieces();
      int groups = channels / p;
      for (long o = 0; o < outer; o++) {
        for (int j = 0; j < groups; j++) {
          for (long i = 0; i < inner; i++) {
            int best = -1;
            for (int k = 0; k < p; k++) {
              int at = (int) ((o * channels + j * p + k) * inner + i);
              if (best < 0) best = at;
              else if (Double.isNaN(x[best])) break;
              else if (Double.isNaN(x[at]) || x[at] > x[best]) best = at;
            }
            int out = (int) ((o * groups + j) * inner + i);
            y[out] = x[best];
            for (int k = 0; k < p; k++) {
              int at = (int) ((o * channels + j * p + k) * inner + i);
              dx[at] = at == best ? (Double.isNaN(x[at]) ? x[at] : g[out]) : 0.0;
            }
          }
        }
      }
    }
  }
}
