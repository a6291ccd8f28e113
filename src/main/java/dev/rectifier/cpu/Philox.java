package dev.rectifier.cpu;

/**
 * Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC'11),
 * with Random123's multipliers and Weyl constants: the counter-based generator behind RReLU's
 * training slopes. Written here because no maintained Java library exposes the raw Philox block
 * function that the CUDA and OpenCL kernels must reproduce bit for bit. Stateless; thread-safe.
 */
public final class Philox {
  private Philox() {}

  private static final long M0 = 0xD2511F53L;
  private static final long M1 = 0xCD9E8D57L;
  private static final int W0 = 0x9E3779B9;
  private static final int W1 = 0xBB67AE85;

  /** The four output words for counter {@code c0..c3} and key {@code k0, k1}. */
  public static int[] block(int c0, int c1, int c2, int c3, int k0, int k1) {
    for (int round = 0; round < 10; round++) {
      long p0 = M0 * (c0 & 0xFFFFFFFFL);
      long p1 = M1 * (c2 & 0xFFFFFFFFL);
      int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
      int n1 = (int) p1;
      int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
      int n3 = (int) p0;
      c0 = n0;
      c1 = n1;
      c2 = n2;
      c3 = n3;
      k0 += W0;
      k1 += W1;
    }
    return new int[] {c0, c1, c2, c3};
  }

  /** RReLU's uniform in [0, 1) for float32 at element {@code index}: 24 bits of word 0. */
  public static float uniformFloat(long seed, long index) {
    int[] r = block((int) index, (int) (index >>> 32), 0, 0, (int) seed, (int) (seed >>> 32));
    return (r[0] >>> 8) * 0x1p-24f;
  }

  /** RReLU's uniform in [0, 1) for float64 at element {@code index}: 27 + 26 bits of words 0, 1. */
  public static double uniformDouble(long seed, long index) {
    int[] r = block((int) index, (int) (index >>> 32), 0, 0, (int) seed, (int) (seed >>> 32));
    return ((r[0] >>> 5) * 0x1p26 + (r[1] >>> 6)) * 0x1p-53;
  }
}
