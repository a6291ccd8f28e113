package dev.rectifier.cuda;

import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.BackendConformanceTest;
import dev.rectifier.BackendStatus;
import dev.rectifier.DType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite on the CUDA backend. It needs a GPU: without one it is skipped with the
 * probe's reason printed (CI has no GPU), unless {@code -Drectifier.test.require=cuda} makes every
 * CUDA skip a failure (how it runs on a GPU machine and in the CUDA container).
 */
class CudaConformanceTest extends BackendConformanceTest {
  /** The system property listing backends whose absence fails the tests instead of skipping. */
  static final String REQUIRE = "rectifier.test.require";

  @BeforeAll
  static void requireCuda() {
    BackendStatus s = new CudaProvider().probe();
    if (s.usable()) return;
    skipOrFail("CUDA cannot run here: " + s.reason());
  }

  static void skipOrFail(String why) {
    if (System.getProperty(REQUIRE, "").contains("cuda")) fail(why + " (" + REQUIRE + "=cuda)");
    System.out.println("SKIPPED " + why);
    Assumptions.abort(why);
  }

  /**
   * The kernels compute float32 in double and round once, as the CPU backend does, with CUDA's
   * libdevice exp, expm1, erfc and log1p (within 2 ULP in double): float32 agrees bit for bit but
   * in the rare element where a double result lies at a float rounding boundary, float64 within the
   * contract.
   */
  @Override
  protected long oracleUlp(DType t) {
    return t == DType.FLOAT32 ? 1 : 2 * MAX_ULP;
  }

  @Override
  protected String backend() {
    return CudaProvider.NAME;
  }
}
