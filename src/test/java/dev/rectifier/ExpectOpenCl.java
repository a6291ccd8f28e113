package dev.rectifier;

import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.opencl.OpenClProvider;
import org.junit.jupiter.api.Assumptions;

/**
 * The one rule for tests that need OpenCL: in CI ({@code CI=true}) PoCL is expected, and its
 * absence fails the test; elsewhere the test is skipped with the probe's reason printed.
 */
public final class ExpectOpenCl {
  private ExpectOpenCl() {}

  /** Returns when OpenCL runs here; else fails in CI, or skips {@code who} saying why. */
  public static void here(String who) {
    BackendStatus s = new OpenClProvider().probe();
    if (s.usable()) return;
    String why = "OpenCL cannot run here: " + s.reason();
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(why + " (CI expects PoCL: .ci/run installs pocl-opencl-icd)");
    }
    System.out.println("SKIPPED " + who + ": " + why);
    Assumptions.abort(why);
  }
}
