package dev.rectifier.spi;

import dev.rectifier.Activation;
import dev.rectifier.Shape;
import java.util.Arrays;

/** The check every probe runs on its opened backend: a relu of -1, -0, 2 and NaN. */
public final class SmokeTest {
  private SmokeTest() {}

  /**
   * Runs relu on {@code backend}; null when the answer is right (+0, -0, 2, NaN), else what went
   * wrong. It covers the conventions a miscompiled kernel breaks first: the sign of zero and NaN.
   */
  public static String relu(Backend backend) {
    float[] x = {-1f, -0f, 2f, Float.NaN};
    float[] y = new float[4];
    backend.forward(
        Activation.relu(), Shape.vector(4), new HostArray(x, 0, 4), null, new HostArray(y, 0, 4));
    boolean right =
        Float.floatToRawIntBits(y[0]) == 0
            && Float.floatToRawIntBits(y[1]) == Float.floatToRawIntBits(-0f)
            && y[2] == 2f
            && Float.isNaN(y[3]);
    return right
        ? null
        : "the smoke test gave wrong results: relu of -1, -0, 2, NaN gave " + Arrays.toString(y);
  }
}
