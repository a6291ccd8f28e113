package dev.rectifier.cuda;

import static jcuda.driver.JCudaDriver.*;

import dev.rectifier.BackendStatus;
import dev.rectifier.RectifierException;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;
import dev.rectifier.spi.NativeLibrary;
import dev.rectifier.spi.SmokeTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;

/**
 * The CUDA backend's provider (JCuda 12.0.0, driver API). JCuda's classes are touched only in
 * {@link #probe()} and {@link #open}, and each step of the probe is a reason when it fails, in this
 * order: the driver library is there ({@code libcuda.so.1}, looked for before JCuda loads it);
 * {@code java.io.tmpdir} is writable (JCuda extracts its JNI library there); the natives load; the
 * driver is CUDA 12.0 or later ({@code cuDriverGetVersion}, the one call an older driver is sure to
 * have: calling a symbol an old libcuda lacks kills the process); {@code cuInit}; a device; the
 * kernels' module loads; a smoke kernel gives the right answer.
 */
public final class CudaProvider implements BackendProvider {
  /** The backend's name. */
  public static final String NAME = "cuda";

  /** The system property that picks a GPU by index (as {@code info} lists them). */
  public static final String DEVICE_PROPERTY = "rectifier.cuda.device";

  /** CUDA 12.0, as {@code cuDriverGetVersion} reports it: the oldest driver JCuda 12 supports. */
  static final int MIN_DRIVER = 12000;

  private static final String DRIVER =
      "install the NVIDIA driver (CUDA 12.0 or later: driver 525 or newer); in a container, run it"
          + " with --gpus all on a host with the NVIDIA container toolkit";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public BackendStatus probe() {
    String missing = NativeLibrary.problem("libcuda.so.1", "CUDA driver library", DRIVER);
    if (missing != null) return BackendStatus.unusable(NAME, missing);
    String tmp = tmpProblem();
    if (tmp != null) return BackendStatus.unusable(NAME, tmp);
    Driver driver;
    try {
      driver = Driver.open();
    } catch (NoClassDefFoundError e) {
      return BackendStatus.unusable(
          NAME, "JCuda (org.jcuda:jcuda) is not on the classpath (" + e + "); add it");
    } catch (LinkageError e) {
      return BackendStatus.unusable(
          NAME, "JCuda's native library cannot be loaded (" + linkError(e) + "); " + DRIVER);
    } catch (RectifierException e) {
      return BackendStatus.unusable(NAME, e.getMessage());
    } catch (RuntimeException e) {
      return BackendStatus.unusable(NAME, "probing CUDA failed: " + e);
    }
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < driver.devices().size(); i++) {
      lines.add(
          i
              + ": "
              + driver.devices().get(i).describe()
              + (i == driver.chosen().index() ? " [chosen]" : ""));
    }
    Driver.Gpu gpu = driver.chosen();
    Map<String, String> details = new LinkedHashMap<>();
    details.put("device", gpu.name());
    details.put("compute_capability", gpu.major() + "." + gpu.minor());
    details.put("memory_mib", Long.toString(gpu.memory() >> 20));
    details.put("driver_cuda_version", Driver.version(driver.version()));
    try (CudaBackend b = new CudaBackend(gpu)) {
      String wrong = SmokeTest.relu(b);
      if (wrong != null) {
        return BackendStatus.unusable(
            NAME, wrong + " on " + gpu.name() + "; report it, or choose the cpu backend");
      }
    } catch (RectifierException e) {
      return BackendStatus.unusable(NAME, e.getMessage());
    } catch (RuntimeException | LinkageError e) {
      return BackendStatus.unusable(NAME, "the smoke test failed on " + gpu.name() + ": " + e);
    }
    return BackendStatus.usable(NAME, lines, details);
  }

  @Override
  public Backend open(BackendConfig config) {
    try {
      Driver driver = Driver.open();
      return new CudaBackend(
          config.cudaDevice() < 0 ? driver.chosen() : driver.device(config.cudaDevice()));
    } catch (LinkageError e) {
      throw new RectifierException("cuda: cannot open: " + linkError(e) + "; " + DRIVER, e);
    }
  }

  /**
   * JCuda extracts its JNI library into java.io.tmpdir; a read-only one is a reason, not a crash.
   */
  static String tmpProblem() {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir", "/tmp"));
    if (Files.isDirectory(tmp) && Files.isWritable(tmp)) return null;
    return "java.io.tmpdir ("
        + tmp
        + ") is not a writable directory, and JCuda extracts its native library there; start"
        + " Java with -Djava.io.tmpdir=<a writable directory>";
  }

  /** The line of a JNI loading error that says why (JCuda's message nests several attempts). */
  static String linkError(LinkageError e) {
    String m = String.valueOf(e.getMessage());
    for (String line : m.split("\n")) {
      if (line.contains("cannot open shared object") || line.contains("undefined symbol")) {
        return line.replaceFirst("^java\\.lang\\.UnsatisfiedLinkError: ", "").strip();
      }
    }
    return m.lines().findFirst().orElse(e.toString()).strip();
  }

  /**
   * The driver, initialized, and its GPUs: the probe's steps up to the device, in their order.
   *
   * @param version the driver's CUDA version, e.g. 12020 for 12.2
   */
  record Driver(int version, List<Gpu> devices, Gpu chosen) {
    /**
     * One GPU.
     *
     * @param index its ordinal, as {@code rectifier.cuda.device} takes it
     */
    record Gpu(int index, CUdevice device, String name, int major, int minor, long memory) {
      String describe() {
        return String.format(
            Locale.ROOT, "%s (compute capability %d.%d, %d MiB)", name, major, minor, memory >> 20);
      }
    }

    static String version(int v) {
      return (v / 1000) + "." + (v % 1000) / 10;
    }

    static Driver open() {
      setExceptionsEnabled(false);
      int[] v = new int[1];
      check(cuDriverGetVersion(v), "cuDriverGetVersion", "reinstall the NVIDIA driver");
      if (v[0] < MIN_DRIVER) {
        throw new RectifierException(
            "the NVIDIA driver supports CUDA "
                + version(v[0])
                + ", older than the 12.0 that JCuda 12 needs; update the driver (525 or newer)");
      }
      check(cuInit(0), "cuInit", "check the driver with nvidia-smi");
      int[] count = new int[1];
      check(cuDeviceGetCount(count), "cuDeviceGetCount", "check the driver with nvidia-smi");
      if (count[0] == 0) {
        throw new RectifierException(
            "the NVIDIA driver (CUDA "
                + version(v[0])
                + ") reports no CUDA device; check nvidia-smi, CUDA_VISIBLE_DEVICES, or --gpus in a"
                + " container");
      }
      List<Gpu> gpus = new ArrayList<>();
      for (int i = 0; i < count[0]; i++) {
        CUdevice d = new CUdevice();
        check(cuDeviceGet(d, i), "cuDeviceGet", "check nvidia-smi");
        byte[] name = new byte[256];
        check(cuDeviceGetName(name, name.length, d), "cuDeviceGetName", "check nvidia-smi");
        int[] major = new int[1];
        int[] minor = new int[1];
        check(
            cuDeviceGetAttribute(
                major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d),
            "cuDeviceGetAttribute",
            "check nvidia-smi");
        check(
            cuDeviceGetAttribute(
                minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d),
            "cuDeviceGetAttribute",
            "check nvidia-smi");
        long[] mem = new long[1];
        check(cuDeviceTotalMem(mem, d), "cuDeviceTotalMem", "check nvidia-smi");
        int n = 0;
        while (n < name.length && name[n] != 0) n++;
        gpus.add(new Gpu(i, d, new String(name, 0, n).strip(), major[0], minor[0], mem[0]));
      }
      return new Driver(v[0], gpus, choose(gpus));
    }

    /** The GPU of ordinal {@code index}, as {@code Rectifier.Builder.cudaDevice} asks for it. */
    Gpu device(int index) {
      if (index < devices.size()) return devices.get(index);
      throw new RectifierException(
          "cuda: the GPU of ordinal "
              + index
              + " was asked for (Rectifier.builder().cudaDevice), and the driver lists "
              + devices.size()
              + " (0.."
              + (devices.size() - 1)
              + "); check CUDA_VISIBLE_DEVICES and the GPU addresses the scheduler gives");
    }

    private static Gpu choose(List<Gpu> gpus) {
      String wanted = System.getProperty(DEVICE_PROPERTY);
      if (wanted == null || wanted.isBlank()) return gpus.get(0);
      try {
        int i = Integer.parseInt(wanted.trim());
        if (i >= 0 && i < gpus.size()) return gpus.get(i);
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new RectifierException(
          DEVICE_PROPERTY
              + "="
              + wanted
              + " is not a GPU index; `info` lists them (0.."
              + (gpus.size() - 1)
              + ")");
    }
  }

  /**
   * A driver call's result: nothing when it succeeded, else an error carrying the driver's own name
   * and description of the error, and what to do about it.
   */
  static void check(int result, String call, String fix) {
    if (result == CUresult.CUDA_SUCCESS) return;
    throw new RectifierException("cuda: " + call + " failed: " + describe(result) + "; " + fix);
  }

  /** {@code CUDA_ERROR_X (the driver's description)}. */
  static String describe(int result) {
    String name = CUresult.stringFor(result);
    String[] text = new String[1];
    try {
      if (cuGetErrorString(result, text) == CUresult.CUDA_SUCCESS && text[0] != null) {
        return name + " (" + text[0] + ")";
      }
    } catch (LinkageError e) {
      // a driver without cuGetErrorString: the name alone
    }
    return name;
  }
}
