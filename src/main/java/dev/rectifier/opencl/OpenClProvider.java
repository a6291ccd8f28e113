package dev.rectifier.opencl;

import dev.rectifier.BackendStatus;
import dev.rectifier.RectifierException;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;
import dev.rectifier.spi.NativeLibrary;
import dev.rectifier.spi.SmokeTest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jocl.CL;
import org.jocl.CLException;

/**
 * The OpenCL backend's provider (JOCL). JOCL's classes are touched only in {@link #probe()} and
 * {@link #open}: a missing JNI library or OpenCL loader is a {@link LinkageError}, no platform is
 * {@code CL_PLATFORM_NOT_FOUND_KHR}; both become reasons.
 */
public final class OpenClProvider implements BackendProvider {
  /** The backend's name. */
  public static final String NAME = "opencl";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public BackendStatus probe() {
    List<Devices.Device> devices;
    Devices.Device chosen;
    String missing = libraryProblem();
    if (missing != null) return BackendStatus.unusable(NAME, missing);
    try {
      CL.setExceptionsEnabled(true);
      devices = Devices.all();
      chosen = Devices.choose(devices);
    } catch (LinkageError e) {
      return BackendStatus.unusable(
          NAME, "the OpenCL library cannot be loaded (" + e.getMessage() + "); " + INSTALL);
    } catch (CLException e) {
      String code = CL.stringFor_errorCode(e.getStatus());
      return BackendStatus.unusable(
          NAME,
          e.getStatus() == CL.CL_PLATFORM_NOT_FOUND_KHR
              ? "no OpenCL platform ("
                  + code
                  + "); install a driver (pocl-opencl-icd gives one on"
                  + " the CPU)"
              : "listing the OpenCL devices failed (" + code + "); check the driver (clinfo)");
    } catch (IllegalStateException e) {
      return BackendStatus.unusable(NAME, e.getMessage());
    } catch (RuntimeException e) {
      return BackendStatus.unusable(NAME, "probing OpenCL failed: " + e);
    }
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < devices.size(); i++) {
      Devices.Device d = devices.get(i);
      lines.add(i + ": " + d.describe() + (d == chosen ? " [chosen]" : ""));
    }
    Map<String, String> details = new LinkedHashMap<>();
    details.put("device", chosen.name());
    details.put("device_type", chosen.typeName());
    details.put("version", chosen.version());
    details.put(
        "float64", chosen.noDoubles() == null ? "yes" : "no, float32 only: " + chosen.noDoubles());
    try (OpenClBackend b = new OpenClBackend(chosen)) {
      String wrong = SmokeTest.relu(b);
      if (wrong != null) {
        return BackendStatus.unusable(
            NAME, wrong + " on " + chosen.name() + "; report it, or choose the cpu backend");
      }
    } catch (RectifierException e) {
      return BackendStatus.unusable(NAME, e.getMessage());
    } catch (CLException e) {
      return BackendStatus.unusable(
          NAME,
          "the smoke test failed on "
              + chosen.name()
              + ": "
              + CL.stringFor_errorCode(e.getStatus()));
    } catch (RuntimeException | LinkageError e) {
      return BackendStatus.unusable(NAME, "the smoke test failed on " + chosen.name() + ": " + e);
    }
    return BackendStatus.usable(NAME, lines, details);
  }

  private static final String INSTALL =
      "install an OpenCL ICD loader and a driver (Debian: ocl-icd-libopencl1 ocl-icd-opencl-dev,"
          + " and pocl-opencl-icd for the CPU)";

  /**
   * Looks for {@code libOpenCL.so} (what JOCL's native code opens) before JOCL does: JOCL reports a
   * missing library by printing to the process's stdout, which would corrupt {@code info --json}.
   * Looked at, not loaded: System.load would make HotSpot warn about ocl-icd's executable stack
   * flag, which JOCL's own dlopen does not.
   */
  static String libraryProblem() {
    return NativeLibrary.problem("libOpenCL.so", "OpenCL library", INSTALL);
  }

  /**
   * An OpenCL device that is a CPU (PoCL) is no faster than the CPU backend for memory-bound
   * functions on host arrays, and pays copies besides: auto mode passes it over. Forcing the opencl
   * backend still uses it.
   */
  @Override
  public String autoSkipReason(BackendStatus status) {
    if ("CPU".equals(status.details().get("device_type"))) {
      return "its device is a CPU ("
          + status.details().get("device")
          + "), no faster than the cpu backend for host arrays; forcing the opencl backend uses it";
    }
    return null;
  }

  @Override
  public Backend open(BackendConfig config) {
    try {
      CL.setExceptionsEnabled(true);
      return new OpenClBackend(Devices.choose(Devices.all()));
    } catch (CLException e) {
      throw new RectifierException(
          "opencl: cannot open: " + CL.stringFor_errorCode(e.getStatus()) + "; see `info`", e);
    } catch (IllegalStateException e) {
      throw new RectifierException("opencl: cannot open: " + e.getMessage(), e);
    }
  }
}
