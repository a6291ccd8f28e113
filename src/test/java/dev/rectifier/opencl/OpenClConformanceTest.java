package dev.rectifier.opencl;

import dev.rectifier.BackendConformanceTest;
import dev.rectifier.ExpectOpenCl;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite on the OpenCL backend. In CI ({@code CI=true}) OpenCL on PoCL is expected,
 * and its absence fails the run; elsewhere the suite is skipped with the probe's reason printed.
 */
class OpenClConformanceTest extends BackendConformanceTest {
  @BeforeAll
  static void requireOpenCl() {
    ExpectOpenCl.here("OpenClConformanceTest");
  }

  /**
   * The kernels compute float32 in double and round once, as the CPU backend does: float32 agrees
   * bit for bit. float64 uses the device's exp, expm1 and erfc (PoCL's are within 1 ULP, as the
   * JDK's), so it agrees within the contract only.
   */
  @Override
  protected long oracleUlp(dev.rectifier.DType t) {
    return t == dev.rectifier.DType.FLOAT32 ? 0 : 2 * MAX_ULP;
  }

  @Override
  protected String backend() {
    return OpenClProvider.NAME;
  }
}
