package dev.rectifier.cuda;

import dev.rectifier.BackendConformanceTest;
import dev.rectifier.DType;
import dev.rectifier.ExpectCuda;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite on the CUDA backend. It needs a GPU: without one it is skipped with the
 * probe's reason printed (CI has no GPU), unless {@code -Drectifier.test.require=cuda} makes every
 * CUDA skip a failure (how it runs on a GPU machine and in the CUDA container).
 */
class CudaConformanceTest extends BackendConformanceTest {
  @BeforeAll
  static void requireCuda() {
    ExpectCuda.here("CudaConformanceTest");
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
