package dev.rectifier.cpu;

import static dev.rectifier.cpu.VectorLoopsTest.check;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.rectifier.Activation;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Vector API loops against the scalar definitions on 3M inputs across the whole float range
 * (every exponent, NaNs, the tails), out of place, at another offset and in place: within 1 ULP,
 * bit-equal on the special values and for relu everywhere. The build runs the tests with the
 * module, so these run in CI; without it they would fail at the first call rather than skip.
 */
class VectorApiLoopsTest {
  @BeforeAll
  static void moduleIsThere() {
    assertNull(FloatLoops.vectorApiReason(), "the Vector API loops cannot run here");
  }

  @Test
  void reluIsTheSelectBitForBit() {
    check("VectorApiLoops.relu", VectorApiLoops::relu, v -> v < 0 ? 0.0 : v, 0);
  }

  @Test
  void eluIsWithinOneUlp() {
    check(
        "VectorApiLoops.elu",
        (x, xo, y, yo, n) -> VectorApiLoops.elu(x, xo, y, yo, n, 1, 0.7f),
        v -> Formulas.eluForFloat(v, 0.7f));
  }

  @Test
  void seluIsWithinOneUlp() {
    check(
        "VectorApiLoops.selu",
        (x, xo, y, yo, n) ->
            VectorApiLoops.elu(x, xo, y, yo, n, Activation.SELU_SCALE, Formulas.SELU_SCALE_ALPHA),
        Formulas::seluForFloat);
  }

  @Test
  void celuIsWithinOneUlp() {
    check(
        "VectorApiLoops.celu",
        (x, xo, y, yo, n) -> VectorApiLoops.celu(x, xo, y, yo, n, 0.3f),
        v -> Formulas.celu(v, 0.3f));
  }

  @Test
  void siluIsWithinOneUlp() {
    check("VectorApiLoops.silu", VectorApiLoops::silu, Formulas::silu);
  }

  @Test
  void mishIsWithinOneUlp() {
    check("VectorApiLoops.mish", VectorApiLoops::mish, Formulas::mish);
  }

  @Test
  void geluIsWithinOneUlp() {
    check("VectorApiLoops.gelu", VectorApiLoops::gelu, Formulas::gelu);
  }

  @Test
  void geluTanhIsWithinOneUlp() {
    check("VectorApiLoops.gelu_tanh", VectorApiLoops::geluTanh, Formulas::geluTanh);
  }

  @Test
  void softplusIsWithinOneUlp() {
    check(
        "VectorApiLoops.softplus",
        (x, xo, y, yo, n) -> VectorApiLoops.softplus(x, xo, y, yo, n, 1.5f, 20),
        v -> Formulas.softplus(v, 1.5f, 20));
  }
}
