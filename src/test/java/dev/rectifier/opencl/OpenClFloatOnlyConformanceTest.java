package dev.rectifier.opencl;

import dev.rectifier.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite on OpenCL's float-only path, the one devices without {@code cl_khr_fp64}
 * get: the program is built with {@code -DRECTIFIER_NO_FP64} ({@code rectifier.opencl.fp64=off}),
 * so no double is compiled in and float32 is computed in float-float. Every float32 case must meet
 * the contract; every float64 call must be refused with an error that names the fix.
 *
 * <p>The property is read when an engine opens; JUnit runs test classes one after another here (no
 * parallel execution is configured), so it does not reach the other suites.
 */
class OpenClFloatOnlyConformanceTest extends OpenClConformanceTest {
  @BeforeAll
  static void floatOnly() {
    System.setProperty(Devices.FP64_PROPERTY, "off");
  }

  @AfterAll
  static void restore() {
    System.clearProperty(Devices.FP64_PROPERTY);
  }

  @Override
  public String label() {
    return "opencl-float-only";
  }

  @Override
  protected boolean computesFloat64() {
    return false;
  }

  /**
   * float-float carries about 48 bits where the CPU backend carries double's 53: results are
   * rounded once from values a little less precise, so they may differ from the CPU's by one ULP.
   */
  @Override
  protected long oracleUlp(DType t) {
    return t == DType.FLOAT32 ? 1 : 2 * MAX_ULP;
  }
}
