package dev.rectifier.opencl;

import dev.rectifier.BackendStatus;
import dev.rectifier.RectifierException;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;
import dev.rectifier.spi.SmokeTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
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
    try (OpenClBackend b = new OpenClBackend(chosen)) {
      String wrong = SmokeTest.relu(b);
      if (wrong != null) {
        return BackendStatus.unusable(
            NAME, wrong + " on " + chosen.name() + "; report it, or use --backend cpu");
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
   * On Linux, looks for {@code libOpenCL.so} (what JOCL's native code opens) in the directories the
   * dynamic loader searches, before JOCL does: JOCL reports a missing library by printing to the
   * process's stdout, which would corrupt {@code info --json}. Null when an ELF file is there or
   * this is another system (JOCL then reports through a {@link LinkageError}).
   */
  static String libraryProblem() {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
      return null;
    }
    List<Path> dirs = new ArrayList<>();
    String ld = System.getenv("LD_LIBRARY_PATH");
    if (ld != null) for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(Path.of(d));
    try (var confs = Files.newDirectoryStream(Path.of("/etc/ld.so.conf.d"), "*.conf")) {
      for (Path conf : confs) {
        for (String line : Files.readAllLines(conf)) {
          line = line.strip();
          if (line.startsWith("/")) dirs.add(Path.of(line));
        }
      }
    } catch (IOException | RuntimeException e) {
      // no ld.so.conf.d: the standard directories below still apply
    }
    for (String d :
        new String[] {
          "/lib/x86_64-linux-gnu",
          "/usr/lib/x86_64-linux-gnu",
          "/lib/aarch64-linux-gnu",
          "/usr/lib/aarch64-linux-gnu",
          "/lib64",
          "/usr/lib64",
          "/lib",
          "/usr/lib",
          "/usr/local/lib"
        }) {
      dirs.add(Path.of(d));
    }
    for (Path dir : dirs) {
      Path lib = dir.resolve("libOpenCL.so");
      if (!Files.exists(lib)) continue;
      // Looked at, not loaded: System.load would make HotSpot warn about ocl-icd's executable
      // stack flag, which JOCL's own dlopen does not.
      try (var in = Files.newInputStream(lib)) {
        byte[] head = in.readNBytes(4);
        boolean elf =
            head.length == 4
                && head[0] == 0x7F
                && head[1] == 'E'
                && head[2] == 'L'
                && head[3] == 'F';
        return elf
            ? null
            : "the OpenCL library " + lib + " cannot be loaded (not a shared library); " + INSTALL;
      } catch (IOException | SecurityException e) {
        return "the OpenCL library "
            + lib
            + " cannot be loaded ("
            + e.getMessage()
            + "); "
            + INSTALL;
      }
    }
    return "no OpenCL library (libOpenCL.so) in " + new LinkedHashSet<>(dirs) + "; " + INSTALL;
  }

  /**
   * An OpenCL device that is a CPU (PoCL) is no faster than the CPU backend for memory-bound
   * functions on host arrays, and pays copies besides: auto mode passes it over. {@code --backend
   * opencl} still uses it.
   */
  @Override
  public String autoSkipReason(BackendStatus status) {
    if ("CPU".equals(status.details().get("device_type"))) {
      return "its device is a CPU ("
          + status.details().get("device")
          + "), no faster than the cpu backend for host arrays; --backend opencl uses it";
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
