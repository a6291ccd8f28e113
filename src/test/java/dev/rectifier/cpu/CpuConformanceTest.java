package dev.rectifier.cpu;

import dev.rectifier.BackendConformanceTest;

/** The conformance suite on the CPU backend, which runs everywhere. */
class CpuConformanceTest extends BackendConformanceTest {
  @Override
  protected String backend() {
    return CpuProvider.NAME;
  }
}
