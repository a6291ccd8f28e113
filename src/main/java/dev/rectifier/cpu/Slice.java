package dev.rectifier.cpu;

/**
 * A window on a float[] or double[] read and written as double. The channelwise kernels use it to
 * serve both types with one body: every value they produce is a single product, a negation or a
 * selection, which double computes exactly and rounds once to float, so float results stay
 * bit-exact. Not for the hot elementwise loops.
 */
abstract class Slice {
  final int base;

  Slice(int base) {
    this.base = base;
  }

  abstract double get(long i);

  abstract void set(long i, double v);

  static Slice of(Object array, int offset) {
    return array instanceof float[] f ? new F(f, offset) : new D((double[]) array, offset);
  }

  /**
   * A window whose {@code set(i, v)} writes {@code alpha * v + beta * old} in the array's type,
   * rounding {@code v} to it first ({@link Blend}); {@code beta = 0} never reads the old value.
   */
  static Slice blended(Object array, int offset, double alpha, double beta) {
    if (array instanceof float[] f) {
      float a = (float) alpha;
      float b = (float) beta;
      return new F(f, offset) {
        @Override
        void set(long i, double v) {
          int k = base + (int) i;
          float r = (float) v;
          f[k] = b == 0 ? a * r : a * r + b * f[k];
        }
      };
    }
    double[] d = (double[]) array;
    return new D(d, offset) {
      @Override
      void set(long i, double v) {
        int k = base + (int) i;
        d[k] = beta == 0 ? alpha * v : alpha * v + beta * d[k];
      }
    };
  }

  static class F extends Slice {
    private final float[] a;

    F(float[] a, int base) {
      super(base);
      this.a = a;
    }

    @Override
    double get(long i) {
      return a[base + (int) i];
    }

    @Override
    void set(long i, double v) {
      a[base + (int) i] = (float) v;
    }
  }

  static class D extends Slice {
    private final double[] a;

    D(double[] a, int base) {
      super(base);
      this.a = a;
    }

    @Override
    double get(long i) {
      return a[base + (int) i];
    }

    @Override
    void set(long i, double v) {
      a[base + (int) i] = v;
    }
  }
}
