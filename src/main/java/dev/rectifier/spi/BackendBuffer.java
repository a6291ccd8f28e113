package dev.rectifier.spi;

/**
 * Memory a backend allocated for one tensor. Owned by the {@link dev.rectifier.DeviceBuffer} that
 * wraps it; {@link #close()} is idempotent and is called from the owner's thread, never from a
 * cleaner or finalizer.
 */
public interface BackendBuffer extends Operand, AutoCloseable {
  /** Frees the memory. Idempotent. */
  @Override
  void close();
}
