package dev.rectifier;

import dev.rectifier.opencl.OpenClProvider;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;

/**
 * A stand-in, named as such, for a GPU behind OpenCL: the real OpenCL provider and backend (PoCL in
 * CI), except that auto mode does not pass it over as it passes over a CPU device. It lets the
 * tests take auto mode's GPU paths (float64 routing, host-array dispatch) on real kernels.
 */
final class StandInGpu implements BackendProvider {
  private final OpenClProvider real = new OpenClProvider();

  @Override
  public String name() {
    return real.name();
  }

  @Override
  public BackendStatus probe() {
    return real.probe();
  }

  @Override
  public Backend open(BackendConfig config) {
    return real.open(config);
  }
}
