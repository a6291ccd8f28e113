package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.cpu.CpuProvider;
import dev.rectifier.opencl.OpenClProvider;
import dev.rectifier.spi.BackendProvider;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An OpenCL device without double precision, on the real OpenCL backend (PoCL in CI) with its
 * float-only kernels ({@code rectifier.opencl.fp64=off}): forced, float64 calls are refused with
 * the fix; in auto mode float64 goes to the CPU backend and float32 stays on OpenCL.
 */
class FloatOnlyDeviceTest {
  private static final String FP64 = "rectifier.opencl.fp64";

  @BeforeAll
  static void requireOpenCl() {
    ExpectOpenCl.here("FloatOnlyDeviceTest");
  }

  @BeforeEach
  void floatOnly() {
    System.setProperty(FP64, "off");
  }

  @AfterEach
  void restore() {
    System.clearProperty(FP64);
  }

  @Test
  void infoSaysFloat32Only() {
    BackendStatus s = new OpenClProvider().probe();
    assertTrue(s.usable(), s.reason());
    assertTrue(s.details().get("float64").startsWith("no, float32 only"), s.details().toString());
  }

  @Test
  void aForcedFloatOnlyDeviceRefusesFloat64NamingTheFix() {
    try (Rectifier r = Rectifier.create("opencl")) {
      RectifierException e =
          assertThrows(
              RectifierException.class,
              () -> r.forward(Activation.relu(), new double[4], new double[4]));
      assertTrue(
          e.getMessage().startsWith("float64 cannot run on backend 'opencl'"), e.getMessage());
      assertTrue(e.getMessage().contains(FP64 + "=off"), e.getMessage());
      assertTrue(e.getMessage().contains("choose the cpu backend"), e.getMessage());
      float[] y = new float[3];
      r.forward(Activation.relu(), new float[] {-1, 2, Float.NaN}, y);
      assertArrayEquals(new float[] {0, 2, Float.NaN}, y);
    }
  }

  @Test
  void autoModeSendsFloat64ToTheCpuAndKeepsFloat32OnTheDevice() {
    double[] x = {-3, -0.5, 0, 0.75, 40};
    double[] want = new double[x.length];
    try (Rectifier cpu = Rectifier.create("cpu")) {
      cpu.forward(Activation.gelu(), x, want);
    }
    List<BackendProvider> providers = List.of(new StandInGpu(), new CpuProvider());
    try (Rectifier r = Rectifier.builder().providers(providers).failOnLeak(true).build()) {
      assertEquals("opencl", r.backend());
      assertEquals("opencl", r.backend(DType.FLOAT32));
      assertEquals("cpu", r.backend(DType.FLOAT64));
      BackendStatus last = r.selection().get(r.selection().size() - 1);
      assertEquals("cpu", last.name());
      assertTrue(last.reason().contains("computes float64, which opencl cannot"), last.reason());

      double[] y = new double[x.length];
      r.forward(Activation.gelu(), x, y);
      assertArrayEquals(want, y);
      try (DeviceBuffer bx = r.upload(x);
          DeviceBuffer by = r.allocate(DType.FLOAT64, x.length)) {
        r.forward(Activation.gelu(), Shape.vector(x.length), bx, by);
        assertArrayEquals(want, by.toDoubleArray());
      }
      float[] yf = new float[2];
      r.forward(Activation.silu(), new float[] {-1, 1}, yf);
      assertArrayEquals(new float[] {-0.26894143f, 0.7310586f}, yf);
    }
  }
}
