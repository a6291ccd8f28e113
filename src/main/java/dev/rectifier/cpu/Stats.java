package dev.rectifier.cpu;

import dev.rectifier.spi.StatsRecords;

/**
 * The records of {@link StatsRecords} on the CPU: the kernels' work-group fold, lane for lane, so
 * the sums are theirs bit for bit. One instance per thread: it holds the lanes of the fold.
 *
 * <p>The loops have no branch on what is as random as the inputs' signs (whether an output is
 * zero): the counts are arithmetic on the bits, and min and max branch only where a value passes
 * them, which grows rare; a zero found as either takes its sign from the zeros counted (-0 below
 * +0). {@link Math#min} would do that itself, but it branches on zeros, and relu's outputs are half
 * zeros: it made the statistics cost 25 times relu itself.
 */
final class Stats {
  private static final int LANES = StatsRecords.LANES;

  /**
   * Elements a {@link Producer} computes at a time: 16 KiB of float32, in L1 cache with their
   * inputs when their records are taken.
   */
  static final int TILE = 16 * LANES;

  /** Computes outputs {@code [from, to)} of the call before their records are taken. */
  @FunctionalInterface
  interface Producer {
    void run(int from, int to);
  }

  private final boolean single;
  private final boolean vectorApi;
  private final float[] floatLanes = new float[LANES];
  private final float[] extremes = new float[2];
  private final int[] vectorCounts = new int[3];
  private final double[] doubleLanes = new double[LANES];
  private final double[] leafSums = new double[LANES];

  private double min;
  private double max;
  private int zeros;
  private int nans;
  private int infinities;

  /**
   * For float32 records when {@code single}, float64 otherwise; whole float leaves by {@link
   * VectorApiLoops#statsLeaves} when {@code loops} are the Vector API's.
   */
  Stats(boolean single, FloatLoops loops) {
    this.single = single;
    this.vectorApi = single && loops == FloatLoops.VECTOR_API;
  }

  /**
   * Writes the record over {@code y[yo + from, yo + to)}, at most {@link StatsRecords#PER_RECORD}
   * elements, into {@code sums} from {@code sumsAt} and {@code counts} from {@code countsAt}.
   */
  void record(
      Object y, int yo, int from, int to, Object sums, int sumsAt, int[] counts, int countsAt) {
    record(y, yo, from, to, sums, sumsAt, counts, countsAt, null);
  }

  /**
   * The same, computing the outputs first, a {@link #TILE} at a time, by {@code produce} (null when
   * they are there already).
   */
  void record(
      Object y,
      int yo,
      int from,
      int to,
      Object sums,
      int sumsAt,
      int[] counts,
      int countsAt,
      Producer produce) {
    min = Double.POSITIVE_INFINITY;
    max = Double.NEGATIVE_INFINITY;
    zeros = 0;
    nans = 0;
    infinities = 0;
    int leaves = 0;
    for (int tile = from; tile < to; tile += TILE) {
      int end = Math.min(to, tile + TILE);
      if (produce != null) produce.run(tile, end);
      int at = tile;
      if (vectorApi) {
        int whole = (end - tile) / LANES;
        vectorCounts[0] = zeros;
        vectorCounts[1] = nans;
        vectorCounts[2] = infinities;
        VectorApiLoops.statsLeaves(
            (float[]) y, yo + at, whole, leafSums, leaves, floatLanes, extremes, vectorCounts);
        zeros = vectorCounts[0];
        nans = vectorCounts[1];
        infinities = vectorCounts[2];
        if (whole > 0) {
          min = Math.min(min, extremes[0]);
          max = Math.max(max, extremes[1]);
        }
        leaves += whole;
        at += whole * LANES;
      }
      for (; at < end; at += LANES, leaves++) {
        int count = Math.min(LANES, end - at);
        leafSums[leaves] =
            y instanceof float[] f ? leaf(f, yo + at, count) : leaf((double[]) y, yo + at, count);
      }
    }
    java.util.Arrays.fill(leafSums, leaves, LANES, 0);
    double sum = fold(leafSums);
    if (sums instanceof float[] s) {
      s[sumsAt] = (float) sum;
      s[sumsAt + 1] = (float) min;
      s[sumsAt + 2] = (float) max;
    } else {
      double[] s = (double[]) sums;
      s[sumsAt] = sum;
      s[sumsAt + 1] = min;
      s[sumsAt + 2] = max;
    }
    counts[countsAt] = zeros;
    counts[countsAt + 1] = nans;
    counts[countsAt + 2] = infinities;
  }

  /** One leaf record's sum over {@code count <= LANES} floats; min, max and counts accumulate. */
  private float leaf(float[] y, int at, int count) {
    float[] lane = floatLanes;
    float lo = (float) min;
    float hi = (float) max;
    int z = 0;
    int nan = 0;
    int inf = 0;
    int negativeZeros = 0;
    for (int l = 0; l < count; l++) {
      float v = y[at + l];
      int raw = Float.floatToRawIntBits(v);
      int bits = raw & 0x7fffffff;
      int zero = (bits - 1) >>> 31; // bits == 0
      z += zero;
      negativeZeros += zero & (raw >>> 31);
      nan += (0x7f800000 - bits) >>> 31; // bits above infinity's
      inf += ((0x7f7fffff - bits) >>> 31) - ((0x7f800000 - bits) >>> 31); // infinity's alone
      lane[l] = bits < 0x7f800000 ? Float.intBitsToFloat(bits) : 0f;
      if (v < lo) lo = v; // NaN compares false
      if (v > hi) hi = v;
    }
    java.util.Arrays.fill(lane, count, LANES, 0f);
    // a 0 found as min or max takes its sign from the zeros seen: -0 below +0
    if (lo == 0 && negativeZeros > 0) lo = -0f;
    if (hi == 0 && negativeZeros < z) hi = 0f;
    for (int d = LANES / 2; d > 0; d >>= 1) {
      for (int l = 0; l < d; l++) lane[l] += lane[l + d];
    }
    min = lo;
    max = hi;
    zeros += z;
    nans += nan;
    infinities += inf;
    return lane[0];
  }

  /** One leaf record's sum over {@code count <= LANES} doubles; see the float overload. */
  private double leaf(double[] y, int at, int count) {
    double[] lane = doubleLanes;
    double lo = min;
    double hi = max;
    int z = 0;
    int nan = 0;
    int inf = 0;
    int negativeZeros = 0;
    for (int l = 0; l < count; l++) {
      double v = y[at + l];
      long raw = Double.doubleToRawLongBits(v);
      long bits = raw & 0x7fffffffffffffffL;
      int zero = (int) ((bits - 1) >>> 63);
      z += zero;
      negativeZeros += zero & (int) (raw >>> 63);
      nan += (int) ((0x7ff0000000000000L - bits) >>> 63);
      inf +=
          (int) ((0x7fefffffffffffffL - bits) >>> 63) - (int) ((0x7ff0000000000000L - bits) >>> 63);
      lane[l] = bits < 0x7ff0000000000000L ? Double.longBitsToDouble(bits) : 0;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    java.util.Arrays.fill(lane, count, LANES, 0);
    if (lo == 0 && negativeZeros > 0) lo = -0.0;
    if (hi == 0 && negativeZeros < z) hi = 0.0;
    for (int d = LANES / 2; d > 0; d >>= 1) {
      for (int l = 0; l < d; l++) lane[l] += lane[l + d];
    }
    min = lo;
    max = hi;
    zeros += z;
    nans += nan;
    infinities += inf;
    return lane[0];
  }

  /**
   * The fold of {@link #LANES} leaf sums: floats held in doubles when {@link #single}, each sum
   * taken in double and rounded to float, which is the float sum (rounding twice is harmless for a
   * sum when the wider type has at least 2p + 2 bits: 53 against 2 * 24 + 2).
   */
  private double fold(double[] lane) {
    for (int d = LANES / 2; d > 0; d >>= 1) {
      for (int l = 0; l < d; l++) {
        double s = lane[l] + lane[l + d];
        lane[l] = single ? (float) s : s;
      }
    }
    return lane[0];
  }
}
