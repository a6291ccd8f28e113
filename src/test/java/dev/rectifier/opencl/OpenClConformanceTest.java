package dev.rectifier.opencl;

import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.BackendConformanceTest;
import dev.rectifier.BackendStatus;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite on the OpenCL backend. In CI ({@code CI=true}) OpenCL on PoCL is expected,
 * and its absence fails the run; elsewhere the suite is skipped with the probe's reason printed.
 */
class OpenClConformanceTest extends BackendConformanceTest {
  @BeforeAll
  static void requireOpenCl() {
    BackendStatus s = new OpenClProvider().probe();
    if (s.usable()) return;
    String why = "OpenCL cannot run here: " + s.reason();
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(why + " (CI expects PoCL: .ci/run installs pocl-opencl-icd)");
    }
    System.out.println("SKIPPED OpenClConformanceTest: " + why);
    Assumptions.abort(why);
  }

  @Override
  protected String backend() {
    return OpenClProvider.NAME;
  }
}
