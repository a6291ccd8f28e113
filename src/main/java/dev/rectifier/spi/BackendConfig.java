package dev.rectifier.spi;

/**
 * Settings a backend is opened with.
 *
 * @param threads host threads a CPU backend may use (1 or more)
 */
public record BackendConfig(int threads) {
  public BackendConfig {
    if (threads < 1) {
      throw new IllegalArgumentException("threads is " + threads + "; give 1 or more");
    }
  }

  /** One thread per available processor. */
  public static BackendConfig defaults() {
    return new BackendConfig(Runtime.getRuntime().availableProcessors());
  }
}
