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
    String why = absent(who);
    if (why != null) Assumptions.abort(why);
  }

  /**
   * For a test with an OpenCL part beside others: whether OpenCL runs here; else fails in CI, or
   * prints that {@code who} is skipped and why and returns false, so the other parts still run.
   */
  public static boolean present(String who) {
    return absent(who) == null;
  }

  private static String absent(String who) {
    BackendStatus s = new OpenClProvider().probe();
    if (s.usable()) return null;
    String why = "OpenCL cannot run here: " + s.reason();
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(why + " (CI expects PoCL: .ci/run installs pocl-opencl-icd)");
    }
    System.out.println("SKIPPED " + who + ": " + why);
    return why;
  }
}
