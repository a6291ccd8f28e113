package dev.rectifier;

import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.cuda.CudaProvider;
import org.junit.jupiter.api.Assumptions;

/**
 * The one rule for tests that need CUDA: skipped with the probe's reason printed where no GPU runs
 * (CI has none), unless {@code -Drectifier.test.require=cuda} makes the skip a failure.
 */
public final class ExpectCuda {
  private ExpectCuda() {}

  /** The system property listing backends whose absence fails the tests instead of skipping. */
  public static final String REQUIRE = "rectifier.test.require";

  /** Returns when CUDA runs here; else skips {@code who} saying why, or fails when required. */
  public static void here(String who) {
    BackendStatus s = new CudaProvider().probe();
    if (s.usable()) return;
    skipOrFail(who + ": CUDA cannot run here: " + s.reason());
  }

  /** Skips the test, printing {@code why}; a failure instead when CUDA is required. */
  public static void skipOrFail(String why) {
    if (System.getProperty(REQUIRE, "").contains("cuda")) fail(why + " (" + REQUIRE + "=cuda)");
    System.out.println("SKIPPED " + why);
    Assumptions.abort(why);
  }
}
