package dev.rectifier.spi;

import dev.rectifier.Activation;
import dev.rectifier.DType;
import dev.rectifier.Shape;

/**
 * An open compute backend. Thread-safe: the engine calls it from many threads at once. Arguments
 * arrive checked by the engine (types agree, lengths fit the shapes, buffers are open and belong to
 * this backend, outputs do not partly overlap inputs), so a backend validates nothing twice.
 *
 * <p>Each output may alias its input exactly (same memory, same offset): in-place calls.
 */
public interface Backend extends AutoCloseable {
  /** The name of the backend, as its provider has it. */
  String name();

  /**
   * Why this backend cannot compute {@code dtype} (an OpenCL device without double precision), or
   * null when it can. Buffers of such a type may still be made and copied.
   */
  default String unsupported(DType dtype) {
    return null;
  }

  /** A buffer of {@code length} elements of {@code dtype}, contents unspecified. */
  BackendBuffer allocate(DType dtype, long length);

  /** Copies {@code src} into {@code dst} from element {@code dstOffset}. */
  void upload(HostArray src, BackendBuffer dst, long dstOffset);

  /** Copies elements of {@code src} from {@code srcOffset} into {@code dst}. */
  void download(BackendBuffer src, long srcOffset, HostArray dst);

  /**
   * {@code y = f(x)} for a tensor of {@code shape}.
   *
   * @param weight PReLU's weights (one per channel, or one), null for other functions
   */
  void forward(Activation f, Shape shape, Operand x, Operand weight, Operand y);

  /**
   * {@code y = f(x)} as {@link #forward} computes it, and the statistics of {@code y} (as written,
   * blended or not) in {@link StatsRecords}' records of {@link StatsRecords#PER_RECORD} elements,
   * computed in that order.
   *
   * @param sums {@code 3 * StatsRecords.records(y.length())} elements of y's type
   * @param counts as many {@link DType#INT32} elements
   */
  void forwardWithStats(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand y,
      Operand sums,
      Operand counts);

  /**
   * {@code y = f(x)} as {@link #forward} computes it, and the statistics of each channel of {@code
   * y} seen as {@code [y.length() / (channels * inner), channels, inner]}: channel {@code c}'s
   * outputs, in memory order, are an array of their own, whose {@link StatsRecords} records go to
   * {@code sums} and {@code counts} from record {@code c * StatsRecords.records(y.length() /
   * channels)}.
   */
  void forwardWithChannelStats(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand y,
      long channels,
      long inner,
      Operand sums,
      Operand counts);

  /**
   * {@code gradInput = gradOutput * f'(x)}; for PReLU also {@code gradWeight[c] = sum of gradOutput
   * * x over the elements of channel c with !(x > 0)}, reduced in a fixed order.
   *
   * @param weight PReLU's weights, null for other functions
   * @param gradWeight PReLU's weight gradient (the length of {@code weight}), null otherwise
   */
  void backward(
      Activation f,
      Shape shape,
      Operand x,
      Operand weight,
      Operand gradOutput,
      Operand gradInput,
      Operand gradWeight);

  /**
   * {@code gradInput = gradOutput * f'(x)} from the output {@code y = f(x)} of an elementwise
   * function that allows it ({@link Activation#backwardFromOutputAllowed}).
   */
  void backwardFromOutput(Activation f, Operand y, Operand gradOutput, Operand gradInput);

  /**
   * {@code y = f(x)} and the 1-bit mask of {@code f} ({@link Activation#maskAllowed}): bit {@code i
   * & 31} of {@code mask}'s word {@code i >>> 5} set where {@code f'(x[i])} is 1, the bits past
   * {@code x}'s length 0. {@code mask} is {@link DType#INT32} with {@code ceil(n / 32)} words; it
   * is computed from {@code x} before {@code y} is written ({@code y} may be {@code x}).
   */
  void forwardWithMask(Activation f, Operand x, Operand y, Operand mask);

  /**
   * {@code gradInput = gradOutput * f'(x)} with {@code f'(x)} read from the mask that {@link
   * #forwardWithMask} wrote: {@code gradOutput} where the bit is set, else {@code slope *
   * gradOutput} (leaky_relu) or {@code +0}.
   */
  void backwardFromMask(Activation f, Operand mask, Operand gradOutput, Operand gradInput);

  /**
   * Widens elements {@code [from, from + wide.length())} of {@code half}, a {@link DType#FLOAT16}
   * or {@link DType#BFLOAT16} buffer, into the {@link DType#FLOAT64} buffer {@code wide}, exactly.
   * Only called on the backend that computes float64.
   */
  void widen(Operand half, long from, Operand wide);

  /**
   * Rounds the {@link DType#FLOAT64} buffer {@code wide} into elements {@code [from, from +
   * wide.length())} of the 16-bit buffer {@code half}, once, to nearest, ties to even, each value
   * first corrected by {@link HalfRounding#tieBroken}{@code (half.dtype(), tieSign, x[i],
   * wide[i])}.
   *
   * @param x the widened input of the call, as long as {@code wide}; null when {@code tieSign} is 0
   */
  void narrow(Operand wide, Operand x, int tieSign, Operand half, long from);

  /** Frees everything the backend holds. Idempotent. */
  @Override
  void close();
}
