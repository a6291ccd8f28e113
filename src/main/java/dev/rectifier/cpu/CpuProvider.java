package dev.rectifier.cpu;

import dev.rectifier.Activation;
import dev.rectifier.BackendStatus;
import dev.rectifier.RectifierException;
import dev.rectifier.Shape;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;
import dev.rectifier.spi.HostArray;
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
    // The same smoke test as every backend: a relu over a few values, -0 and NaN among them.
    try (Backend b = new CpuBackend(new BackendConfig(1))) {
      float[] x = {-1f, -0f, 2f, Float.NaN};
      float[] y = new float[4];
      b.forward(
          Activation.relu(), Shape.vector(4), new HostArray(x, 0, 4), null, new HostArray(y, 0, 4));
      boolean right =
          Float.floatToRawIntBits(y[0]) == 0
              && Float.floatToRawIntBits(y[1]) == Float.floatToRawIntBits(-0f)
              && y[2] == 2f
              && Float.isNaN(y[3]);
      if (!right) {
        return BackendStatus.unusable(
            NAME, "the smoke test gave wrong results; report this as a bug in Rectifier");
      }
      int cores = Runtime.getRuntime().availableProcessors();
      String jvm = System.getProperty("java.vm.name") + " " + System.getProperty("java.version");
      return BackendStatus.usable(
          NAME,
          List.of(System.getProperty("os.arch") + ", " + cores + " cores, " + jvm),
          Map.of("cores", Integer.toString(cores), "jvm", jvm));
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
