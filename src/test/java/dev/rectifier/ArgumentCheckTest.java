package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The engine refuses bad calls before anything is written. */
class ArgumentCheckTest {
  private final Rectifier r = Rectifier.builder().backend("cpu").failOnLeak(true).build();

  @AfterEach
  void close() {
    r.close();
  }

  private static void rejects(Executable e, String words) {
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
    assertTrue(x.getMessage().contains(words), x.getMessage() + " lacks " + words);
  }

  @Test
  void lengthsTypesWeightsAndOverlaps() {
    float[] x = {1, -2, 3, -4};
    float[] y = new float[4];
    rejects(
        () -> r.forward(Activation.relu(), x, new float[3]), "y has 3 elements; the call needs 4");
    rejects(() -> r.forward(Activation.relu(), x, 2, y, 0, 3), "do not fit its array");
    rejects(
        () -> r.forward(Activation.relu(), x, 0, x, 1, 3),
        "overlaps an input at a different offset");
    r.forward(Activation.crelu(), Shape.of(2, 2), x, new float[8]);
    rejects(
        () -> r.forward(Activation.crelu(), Shape.of(2, 2), x, y),
        "y has 4 elements; the call needs 8");
    float[] big = new float[12];
    rejects(() -> r.forward(Activation.crelu(0), big, 0, big, 2, 4), "cannot run in place");
    rejects(() -> r.forward(Activation.prelu(), Shape.of(1, 4), x, y), "prelu needs its weight");
    rejects(
        () -> r.forward(Activation.prelu(), Shape.of(1, 4), x, new float[3], y),
        "needs 4 (one per channel");
    rejects(() -> r.forward(Activation.relu(), Shape.of(4), x, new float[1], y), "only for prelu");
    rejects(() -> r.forward(Activation.relu(), Shape.of(5), x, y), "x has 4 elements");
    float[] dx = new float[4];
    rejects(
        () -> r.backward(Activation.prelu(), Shape.of(1, 4), x, new float[4], x, dx, dx),
        "overlap");
    try (DeviceBuffer a = r.allocate(DType.FLOAT32, 4);
        DeviceBuffer b = r.allocate(DType.FLOAT64, 4)) {
      rejects(() -> r.forward(Activation.relu(), Shape.of(4), a, b), "y is f64 but x is f32");
      rejects(() -> a.copyFrom(new double[4]), "holds FLOAT32");
      rejects(() -> a.copyFrom(new float[5]), "src has 5 elements but the buffer 4");
      rejects(() -> a.copyFrom(new float[3]), "src has 3 elements but the buffer 4");
      rejects(() -> a.copyTo(new float[3]), "dst has 3 elements but the buffer 4");
      rejects(() -> a.copyFrom(new float[5], 0, 0, 5), "outside the buffer");
    }
    assertTrue(r.liveBuffers() == 0);
  }

  /** Whole arrays are taken whole: a longer one would keep a tail the call never wrote. */
  @Test
  void wholeArraysMatchTheirShapesExactly() {
    float[] x = {1, -2, 3, -4};
    float[] y6 = {9, 9, 9, 9, 9, 9};
    rejects(() -> r.forward(Activation.relu(), x, y6), "y has 6 elements; the call needs 4");
    assertTrue(y6[4] == 9 && y6[0] == 9, "nothing written");
    rejects(
        () -> r.forward(Activation.relu(), Shape.of(2, 3), new float[7], new float[6]),
        "x has 7 elements; the call needs 6 (the shape [2, 3])");
    rejects(
        () -> r.forward(Activation.relu(), Shape.of(2, 3), new float[6], new float[7]),
        "y has 7 elements; the call needs 6");
    rejects(
        () -> r.backward(Activation.gelu(), x, new float[5], new float[4]),
        "gradOutput has 5 elements; the call needs 4");
    rejects(
        () -> r.backward(Activation.gelu(), x, new float[4], new float[5]),
        "gradInput has 5 elements; the call needs 4");
    rejects(
        () -> r.backwardFromOutput(Activation.relu(), x, new float[4], new float[3]),
        "gradInput has 3 elements; the call needs 4 (as long as y)");
    rejects(
        () -> r.forwardWithStats(Activation.relu(), x, new float[5]),
        "y has 5 elements; the call needs 4");
    rejects(
        () -> r.forward(Activation.relu(), DType.FLOAT16, new short[4], new short[5]),
        "y has 5 elements; the call needs 4");
    // the range overloads still take part of an array
    r.forward(Activation.relu(), x, 0, y6, 1, 4);
    assertTrue(y6[0] == 9 && y6[1] == 1 && y6[2] == 0 && y6[5] == 9);
  }
}
