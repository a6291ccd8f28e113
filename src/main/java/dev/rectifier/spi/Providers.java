package dev.rectifier.spi;

import dev.rectifier.cpu.CpuProvider;
import dev.rectifier.cuda.CudaProvider;
import dev.rectifier.opencl.OpenClProvider;
import java.util.List;

/**
 * The backends in the fixed order auto mode tries them: the fastest first (CUDA, OpenCL); the CPU
 * backend is last because it always runs.
 */
public final class Providers {
  private Providers() {}

  /** The providers, fastest first. */
  public static List<BackendProvider> all() {
    return List.of(new CudaProvider(), new OpenClProvider(), new CpuProvider());
  }
}
