package dev.rectifier.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.rectifier.BackendConformanceTest;
import dev.rectifier.DType;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite on the CPU backend, which runs everywhere, with the float32 loops this JVM
 * gets: the Vector API's in the build (surefire adds the module), which CI then requires.
 */
class CpuConformanceTest extends BackendConformanceTest {
  @Override
  protected String backend() {
    return CpuProvider.NAME;
  }

  /** The loops this suite must run; a subclass that forces others says so. */
  protected FloatLoops expectedLoops() {
    if (System.getenv("CI") != null) return FloatLoops.VECTOR_API;
    return FloatLoops.choose();
  }

  @Test
  void runsTheExpectedLoops() {
    assertEquals(expectedLoops(), FloatLoops.choose(), FloatLoops.choose().describe());
  }

  /**
   * The CPU backend computes the oracle's definitions: its results must equal them exactly, but for
   * the vectorized float32 loops, which are within 1 ULP of them.
   */
  @Override
  protected long oracleUlp(DType t) {
    return t == DType.FLOAT32 && FloatLoops.choose() != FloatLoops.SCALAR ? 1 : 0;
  }
}
