package dev.rectifier;

import dev.rectifier.FaultyDevice.Fault;
import dev.rectifier.cpu.CpuProvider;
import java.util.List;
import java.util.Locale;

/**
 * Engines whose OpenCL backend is the stand-in {@link FaultyDevice}, for tests outside this package
 * (the command-line tool's). Named as what it is: a fault a real device cannot be made to produce.
 */
public final class FaultyEngine {
  private FaultyEngine() {}

  /**
   * An engine on {@code backend} among the stand-in OpenCL backend and the real CPU backend, the
   * stand-in failing as {@code fault} (a {@link Fault} name, any case) from call {@code failAt} on;
   * the fallback as the system property {@value Rectifier#FALLBACK_PROPERTY} says.
   */
  public static Rectifier open(String backend, String fault, int failAt) {
    FaultyDevice device = new FaultyDevice(Fault.valueOf(fault.toUpperCase(Locale.ROOT)), failAt);
    return Rectifier.builder()
        .providers(List.of(device, new CpuProvider()))
        .backend(backend)
        .failOnLeak(true)
        .build();
  }
}
