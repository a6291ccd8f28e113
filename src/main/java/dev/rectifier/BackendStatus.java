package dev.rectifier;

import java.util.List;
import java.util.Map;

/**
 * What a backend's probe found: whether it can run here and, when it cannot, why.
 *
 * @param name the backend's name ({@code cuda}, {@code opencl}, {@code cpu})
 * @param usable true when its smoke test ran and gave the right answer
 * @param reason why it cannot run, and what to do about it; for a usable backend that auto mode
 *     passed over, why; else null
 * @param devices one line per device it found (name, memory, driver), possibly empty
 * @param details further facts for {@code info --json} (thread count, driver version ...)
 */
public record BackendStatus(
    String name, boolean usable, String reason, List<String> devices, Map<String, String> details) {

  public BackendStatus {
    devices = List.copyOf(devices);
    details = Map.copyOf(details);
  }

  /** A usable backend with its devices. */
  public static BackendStatus usable(
      String name, List<String> devices, Map<String, String> details) {
    return new BackendStatus(name, true, null, devices, details);
  }

  /** An unusable backend and the reason, which should name the fix. */
  public static BackendStatus unusable(String name, String reason) {
    return new BackendStatus(name, false, reason, List.of(), Map.of());
  }
}
