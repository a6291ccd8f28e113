package dev.rectifier.spi;

/**
 * Settings a backend is opened with.
 *
 * @param threads host threads a CPU backend may use (1 or more)
 * @param cudaDevice the CUDA device ordinal a CUDA backend opens, or -1 for the one the system
 *     property {@code rectifier.cuda.device} names (else the first)
 */
public record BackendConfig(int threads, int cudaDevice) {
  public BackendConfig {
    if (threads < 1) {
      throw new IllegalArgumentException("threads is " + threads + "; give 1 or more");
    }
    if (cudaDevice < -1) {
      throw new IllegalArgumentException(
          "cudaDevice is "
              + cudaDevice
              + "; give a GPU ordinal (0 or more), or -1 for the default");
    }
  }

  /** {@code threads} host threads, the default CUDA device. */
  public BackendConfig(int threads) {
    this(threads, -1);
  }

  /** One thread per available processor. */
  public static BackendConfig defaults() {
    return new BackendConfig(Runtime.getRuntime().availableProcessors());
  }
}
