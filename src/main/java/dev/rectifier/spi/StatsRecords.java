package dev.rectifier.spi;

/**
 * The shape of the fixed-order reduction behind {@code Rectifier.forwardWithStats}, which every
 * backend follows so that all give the same statistics bit for bit.
 *
 * <p>Output element {@code j} is leaf {@code j % LANES} of leaf record {@code j / LANES}. A record
 * holds the sum of {@code |y|} over finite {@code y} (in the element type), the min and max over
 * {@code y} that is not NaN ({@code -0} below {@code +0}; {@code +inf} and {@code -inf} where there
 * is none), and the counts of zeros, NaNs and infinities. {@link #LANES} leaves fold into one
 * record by the tree that halves the lanes: lane {@code l} takes lane {@code l + d} for {@code d =
 * LANES/2, ..., 1}, each sum rounded to the element type, missing lanes being the identities. The
 * same fold makes one record of {@link #PER_RECORD} elements from {@link #LANES} leaf records; a
 * backend returns those, and the engine sums them exactly ({@code ActivationStats}). That is the
 * kernels' work-group fold ({@code STATS_FOLD} in {@code rectifier.cl} and {@code rectifier.cu}).
 *
 * <p>Records are stored as {@code sums[3r .. 3r + 2] = (sum, min, max)} in the element type and
 * {@code counts[3r .. 3r + 2] = (zeros, NaNs, infinities)} as int.
 */
public final class StatsRecords {
  private StatsRecords() {}

  /** Leaves per fold: the kernels' work-group size for statistics. */
  public static final int LANES = 256;

  /** Elements per record that a backend returns: two folds. */
  public static final int PER_RECORD = LANES * LANES;

  /** The leaf records over {@code m} outputs. */
  public static long leaves(long m) {
    return (m + LANES - 1) / LANES;
  }

  /** The records a backend returns over {@code m} outputs. */
  public static long records(long m) {
    return (m + PER_RECORD - 1) / PER_RECORD;
  }
}
