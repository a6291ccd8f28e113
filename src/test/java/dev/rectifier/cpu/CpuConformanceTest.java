package dev.rectifier.cpu;

import dev.rectifier.BackendConformanceTest;

/** The conformance suite on the CPU backend, which runs everywhere. */
class CpuConformanceTest extends BackendConformanceTest {
  @Override
  protected String backend() {
    return CpuProvider.NAME;
  }

  /**
   * The CPU backend computes the oracle's definitions: its results must equal them exactly, but for
   * the float32 loops of {@link VectorLoops} (used from JDK 25 on), which are within 1 ULP of them.
   */
  @Override
  protected long oracleUlp(dev.rectifier.DType t) {
    return t == dev.rectifier.DType.FLOAT32 && VectorLoops.ENABLED ? 1 : 0;
  }
}
