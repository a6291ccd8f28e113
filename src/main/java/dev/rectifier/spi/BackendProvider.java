package dev.rectifier.spi;

import dev.rectifier.BackendStatus;

/** Finds out whether a backend can run here and opens it. Stateless and thread-safe. */
public interface BackendProvider {
  /** The backend's name as users force it: {@code cuda}, {@code opencl}, {@code cpu}. */
  String name();

  /**
   * Whether the backend can run here, found by running a real smoke kernel. Never throws: any
   * failure, {@link LinkageError}s from missing native libraries included, is a reason.
   */
  BackendStatus probe();

  /**
   * Why auto mode should pass over this backend although it runs (a device no faster than the next
   * backend for host arrays), or null to take it. {@code status} is what {@link #probe()} returned.
   * Forcing the backend ignores this.
   */
  default String autoSkipReason(BackendStatus status) {
    return null;
  }

  /**
   * Opens the backend. The caller closes it.
   *
   * @throws dev.rectifier.RectifierException naming the cause and the fix when it cannot
   */
  Backend open(BackendConfig config);
}
