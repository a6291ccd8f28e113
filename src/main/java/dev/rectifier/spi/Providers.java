package dev.rectifier.spi;

import dev.rectifier.BackendStatus;
import dev.rectifier.RectifierException;
import dev.rectifier.cpu.CpuProvider;
import dev.rectifier.cuda.CudaProvider;
import dev.rectifier.opencl.OpenClProvider;
import java.util.List;
import java.util.function.Supplier;

/**
 * The backends in the fixed order auto mode tries them: the fastest first (CUDA, OpenCL); the CPU
 * backend is last because it always runs.
 */
public final class Providers {
  private Providers() {}

  /**
   * The providers, fastest first. Lambdas, not constructor references: a reference would resolve
   * the provider's class here, outside {@link #load}'s guard.
   */
  public static List<BackendProvider> all() {
    return List.of(
        load("cuda", () -> new CudaProvider(), "JCuda (org.jcuda:jcuda)"),
        load("opencl", () -> new OpenClProvider(), "JOCL (org.jocl:jocl)"),
        new CpuProvider());
  }

  /**
   * The provider, or, when its binding's classes are missing (a library user who left JOCL or JCuda
   * off the classpath: the provider's class cannot even be verified), one that says so.
   */
  private static BackendProvider load(String name, Supplier<BackendProvider> make, String jar) {
    try {
      return make.get();
    } catch (LinkageError e) {
      String why =
          jar + " is not on the classpath (" + e + "); add it to use the " + name + " backend";
      return new BackendProvider() {
        @Override
        public String name() {
          return name;
        }

        @Override
        public BackendStatus probe() {
          return BackendStatus.unusable(name, why);
        }

        @Override
        public Backend open(BackendConfig config) {
          throw new RectifierException(name + ": " + why);
        }
      };
    }
  }
}
