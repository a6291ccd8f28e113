package dev.rectifier.cpu;

import dev.rectifier.BackendConformanceTest;

/** The conformance suite on the CPU backend, which runs everywhere. */
class CpuConformanceTest extends BackendConformanceTest {
  @Override
  protected String backend() {
    return CpuProvider.NAME;
  }

  /** The CPU backend computes the oracle's definitions: its results must equal them exactly. */
  @Override
  protected long oracleUlp(dev.rectifier.DType t) {
    return 0;
  }
}
