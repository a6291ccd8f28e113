package dev.rectifier.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Random123's known-answer vectors (kat_vectors) for Philox4x32-10, and RReLU's uniforms. */
class PhiloxTest {
  @Test
  void knownAnswers() {
    assertArrayEquals(
        new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, Philox.block(0, 0, 0, 0, 0, 0));
    assertArrayEquals(
        new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        Philox.block(-1, -1, -1, -1, -1, -1));
    assertArrayEquals(
        new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
        Philox.block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0));
  }

  @Test
  void uniformsAreInTheUnitIntervalAndFollowTheWrittenRule() {
    int[] r = Philox.block(5, 0, 0, 0, 42, 0);
    assertEquals((r[0] >>> 8) * 0x1p-24f, Philox.uniformFloat(42, 5));
    assertEquals(((r[0] >>> 5) * 0x1p26 + (r[1] >>> 6)) * 0x1p-53, Philox.uniformDouble(42, 5));
    double sum = 0;
    for (long i = 0; i < 100_000; i++) {
      float u = Philox.uniformFloat(7, i);
      assertTrue(u >= 0 && u < 1);
      sum += u;
    }
    assertEquals(0.5, sum / 100_000, 0.005);
  }
}
