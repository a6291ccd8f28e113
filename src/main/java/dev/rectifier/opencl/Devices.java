package dev.rectifier.opencl;

import static org.jocl.CL.*;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

/**
 * The OpenCL platforms and devices present, and the choice among them: the device named by {@value
 * #DEVICE_PROPERTY} (an index into the list or part of its name), else GPUs first, then
 * accelerators, then CPU devices, and among devices of one kind those with {@code cl_khr_fp64}
 * first. A device without it computes float32 only (the kernels' float-only path); {@value
 * #FP64_PROPERTY}{@code =off} gives every device that path, which is how the tests run it.
 */
final class Devices {
  /** The system property that picks a device. */
  static final String DEVICE_PROPERTY = "rectifier.opencl.device";

  /** The system property that, set to {@code off}, builds the float-only kernels on any device. */
  static final String FP64_PROPERTY = "rectifier.opencl.fp64";

  record Device(
      cl_platform_id platform,
      cl_device_id id,
      String platformName,
      String name,
      String version,
      long type,
      long memory,
      boolean fp64) {

    String typeName() {
      if ((type & CL_DEVICE_TYPE_GPU) != 0) return "GPU";
      if ((type & CL_DEVICE_TYPE_ACCELERATOR) != 0) return "accelerator";
      if ((type & CL_DEVICE_TYPE_CPU) != 0) return "CPU";
      return "other";
    }

    int rank() {
      int kind =
          switch (typeName()) {
            case "GPU" -> 0;
            case "accelerator" -> 1;
            case "CPU" -> 2;
            default -> 3;
          };
      return 2 * kind + (fp64 ? 0 : 1);
    }

    /**
     * Whether the kernels are built with their float64 path: the device has {@code cl_khr_fp64} and
     * {@value #FP64_PROPERTY} is not {@code off}.
     */
    boolean doubles() {
      return fp64 && !"off".equalsIgnoreCase(System.getProperty(FP64_PROPERTY, "").trim());
    }

    /** Why float64 cannot run here, or null when it can. */
    String noDoubles() {
      if (doubles()) return null;
      return fp64
          ? FP64_PROPERTY + "=off builds the float32-only kernels"
          : name + " has no cl_khr_fp64 (double precision)";
    }

    String describe() {
      return String.format(
          Locale.ROOT,
          "%s (%s, %s, %s, %d MiB, fp64 %s)",
          name,
          typeName(),
          platformName,
          version,
          memory >> 20,
          fp64 ? "yes" : "no");
    }
  }

  private Devices() {}

  /** Every device of every platform; throws CLException when there is no platform. */
  static List<Device> all() {
    int[] count = new int[1];
    clGetPlatformIDs(0, null, count);
    cl_platform_id[] platforms = new cl_platform_id[count[0]];
    clGetPlatformIDs(platforms.length, platforms, null);
    List<Device> devices = new ArrayList<>();
    for (cl_platform_id p : platforms) {
      int[] n = new int[1];
      try {
        clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, null, n);
      } catch (org.jocl.CLException e) {
        continue; // CL_DEVICE_NOT_FOUND: a platform without devices
      }
      cl_device_id[] ids = new cl_device_id[n[0]];
      clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, ids.length, ids, null);
      String platformName = platformString(p, CL_PLATFORM_NAME);
      for (cl_device_id d : ids) {
        devices.add(
            new Device(
                p,
                d,
                platformName,
                deviceString(d, CL_DEVICE_NAME),
                deviceString(d, CL_DEVICE_VERSION),
                deviceLong(d, CL_DEVICE_TYPE),
                deviceLong(d, CL_DEVICE_GLOBAL_MEM_SIZE),
                deviceString(d, CL_DEVICE_EXTENSIONS).contains("cl_khr_fp64")));
      }
    }
    return devices;
  }

  /**
   * The device to use, or an error naming why none fits.
   *
   * @throws IllegalStateException with the reason
   */
  static Device choose(List<Device> devices) {
    if (devices.isEmpty()) {
      throw new IllegalStateException(
          "no OpenCL device on any platform; install a driver (pocl-opencl-icd gives one on the"
              + " CPU)");
    }
    String wanted = System.getProperty(DEVICE_PROPERTY);
    if (wanted != null && !wanted.isBlank()) {
      Device pick = null;
      try {
        int i = Integer.parseInt(wanted.trim());
        if (i >= 0 && i < devices.size()) pick = devices.get(i);
      } catch (NumberFormatException e) {
        for (Device d : devices) {
          if (d.name().toLowerCase(Locale.ROOT).contains(wanted.trim().toLowerCase(Locale.ROOT))) {
            pick = d;
            break;
          }
        }
      }
      if (pick == null) {
        throw new IllegalStateException(
            DEVICE_PROPERTY
                + "="
                + wanted
                + " matches no device; `info` lists them (0.."
                + (devices.size() - 1)
                + ")");
      }
      return pick;
    }
    Device best = null;
    for (Device d : devices) {
      if (best == null || d.rank() < best.rank()) best = d;
    }
    return best;
  }

  private static String platformString(cl_platform_id p, int param) {
    long[] size = new long[1];
    clGetPlatformInfo(p, param, 0, null, size);
    byte[] b = new byte[(int) size[0]];
    clGetPlatformInfo(p, param, b.length, Pointer.to(b), null);
    return cString(b);
  }

  static String deviceString(cl_device_id d, int param) {
    long[] size = new long[1];
    clGetDeviceInfo(d, param, 0, null, size);
    byte[] b = new byte[(int) size[0]];
    clGetDeviceInfo(d, param, b.length, Pointer.to(b), null);
    return cString(b);
  }

  private static long deviceLong(cl_device_id d, int param) {
    long[] v = new long[1];
    clGetDeviceInfo(d, param, Sizeof.cl_ulong, Pointer.to(v), null);
    return v[0];
  }

  static String cString(byte[] b) {
    int n = 0;
    while (n < b.length && b[n] != 0) n++;
    return new String(b, 0, n, StandardCharsets.UTF_8).trim();
  }
}
