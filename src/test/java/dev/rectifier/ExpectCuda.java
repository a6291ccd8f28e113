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

  /** Returns when CUDA runs here; else skips {@code who} saying why, or fails when required. */
  public static void here(String who) {
    BackendStatus s = new CudaProvider().probe();
    if (s.usable()) return;
    String why = "CUDA cannot run here: " + s.reason();
    if (System.getProperty("rectifier.test.require", "").contains("cuda")) {
      fail(why + " (rectifier.test.require=cuda)");
    }
    System.out.println("SKIPPED " + who + ": " + why);
    Assumptions.abort(why);
  }
}
