package dev.rectifier.cpu;

import dev.rectifier.BackendStatus;
import dev.rectifier.RectifierException;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;
import dev.rectifier.spi.SmokeTest;
import java.util.List;
import java.util.Map;

/** The CPU backend's provider: pure Java, so it runs wherever the JVM does. */
public final class CpuProvider implements BackendProvider {
  /** The backend's name. */
  public static final String NAME = "cpu";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public BackendStatus probe() {
    try (Backend b = new CpuBackend(new BackendConfig(1))) {
      String wrong = SmokeTest.relu(b);
      if (wrong != null) {
        return BackendStatus.unusable(NAME, wrong + "; report this as a bug in Rectifier");
      }
      int cores = Runtime.getRuntime().availableProcessors();
      String jvm = System.getProperty("java.vm.name") + " " + System.getProperty("java.version");
      FloatLoops loops = FloatLoops.choose();
      return BackendStatus.usable(
          NAME,
          List.of(
              System.getProperty("os.arch")
                  + ", "
                  + cores
                  + " cores, "
                  + jvm
                  + "; "
                  + loops.describe()),
          Map.of(
              "cores",
              Integer.toString(cores),
              "jvm",
              jvm,
              "float32_loops",
              loops.name().toLowerCase(java.util.Locale.ROOT)));
    } catch (RuntimeException | LinkageError e) {
      return BackendStatus.unusable(NAME, "the smoke test failed: " + e);
    }
  }

  @Override
  public Backend open(BackendConfig config) {
    try {
      return new CpuBackend(config);
    } catch (RuntimeException e) {
      throw new RectifierException("cpu: cannot open: " + e.getMessage(), e);
    }
  }
}
