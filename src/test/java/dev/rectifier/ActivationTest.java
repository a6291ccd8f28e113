package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class ActivationTest {
  private static void rejects(Executable e, String... words) {
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
    for (String w : words) assertTrue(x.getMessage().contains(w), x.getMessage() + " lacks " + w);
  }

  @Test
  void badParametersAreErrorsAtConstruction() {
    rejects(() -> Activation.leakyRelu(Double.NaN), "leaky_relu", "slope", "NaN");
    rejects(() -> Activation.leakyRelu(Double.POSITIVE_INFINITY), "slope", "finite");
    rejects(() -> Activation.celu(0), "celu", "alpha is 0");
    rejects(() -> Activation.hardtanh(2, 1), "hardtanh", "min_val", "max_val");
    rejects(() -> Activation.maxout(0), "maxout", "pieces");
    rejects(() -> Activation.rrelu(0.5, 0.1), "rrelu", "lower <= upper");
    rejects(() -> Activation.softplus(0, 20), "softplus", "beta");
    rejects(() -> Activation.threshold(Double.NaN, 0), "threshold", "NaN");
    rejects(
        () -> Activation.of("elu", Map.of("slope", 1.0), null),
        "unknown parameter 'slope'",
        "alpha");
    rejects(() -> Activation.of("relu", Map.of(), 1), "a channel axis is only for prelu");
    rejects(() -> Activation.crelu(Integer.MIN_VALUE), "out of range for any tensor");
    rejects(() -> Activation.maxout(2, Integer.MIN_VALUE), "out of range for any tensor");
    rejects(
        () -> Activation.of("maxout", Map.of("pieces", 1e30), null),
        "more than a channel axis can hold; give a whole number from 1 to 2147483647");
    rejects(() -> Activation.of("swish", Map.of(), null), "unknown function 'swish'", "silu");
    rejects(() -> Activation.of("maxout", Map.of(), null), "needs the parameter 'pieces'");
    rejects(() -> Activation.relu().training(3), "only rrelu");
  }

  @Test
  void maxoutPiecesMustDivideTheChannelsOfTheShape() {
    Activation m = Activation.maxout(4);
    rejects(() -> m.outputShape(Shape.of(2, 6, 3)), "pieces=4", "6 channels", "divide");
    assertEquals(Shape.of(2, 2, 3), m.outputShape(Shape.of(2, 8, 3)));
    rejects(
        () -> Activation.crelu(3).outputShape(Shape.of(2, 3)), "channel axis 3", "out of range");
  }

  @Test
  void defaultsAndShapes() {
    assertEquals(0.01, Activation.leakyRelu().param("slope"));
    assertEquals(1.0 / 8, Activation.rrelu().param("lower"));
    assertEquals(20, Activation.softplus().param("threshold"));
    assertEquals(Activation.elu(0.7), Activation.of("elu", Map.of("alpha", 0.7), null));
    assertEquals(Shape.of(2, 12, 5), Activation.crelu().outputShape(Shape.of(2, 6, 5)));
    assertEquals(Shape.of(2, 6, 10), Activation.crelu(-1).outputShape(Shape.of(2, 6, 5)));
    assertEquals(Shape.of(8), Activation.crelu().outputShape(Shape.of(4)));
    assertEquals("leaky_relu(slope=0.2)", Activation.leakyRelu(0.2).toString());
    assertEquals(
        "rrelu(lower=0.125, upper=0.5, training, seed=9)",
        Activation.rreluTraining(0.125, 0.5, 9).toString());
    rejects(() -> Activation.relu().param("slope"), "relu has no parameter 'slope'");
  }
}
