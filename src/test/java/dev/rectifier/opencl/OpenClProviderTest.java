package dev.rectifier.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.BackendStatus;
import dev.rectifier.ExpectOpenCl;
import dev.rectifier.Rectifier;
import dev.rectifier.RectifierException;
import org.jocl.CL;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenCL provider on the real device (PoCL in CI): build errors, device choice, auto mode. */
class OpenClProviderTest {
  @BeforeAll
  static void requireOpenCl() {
    ExpectOpenCl.here("OpenClProviderTest");
  }

  @AfterEach
  void clearProperty() {
    System.clearProperty(Devices.DEVICE_PROPERTY);
  }

  @Test
  void aKernelThatDoesNotBuildIsAnErrorCarryingTheBuildLog() {
    CL.setExceptionsEnabled(true);
    Devices.Device d = Devices.choose(Devices.all());
    RectifierException e =
        assertThrows(
            RectifierException.class,
            () -> new OpenClBackend(d, "__kernel void broken(__global float* x) { x[0] = y; }"));
    assertTrue(e.getMessage().contains("CL_PROGRAM_BUILD_LOG"), e.getMessage());
    assertTrue(e.getMessage().contains("CL_BUILD_PROGRAM_FAILURE"), e.getMessage());
    assertTrue(e.getMessage().contains("'y'"), "the compiler's words: " + e.getMessage());
  }

  @Test
  void aDevicePropertyThatMatchesNothingIsAReason() {
    System.setProperty(Devices.DEVICE_PROPERTY, "no-such-device-name");
    BackendStatus s = new OpenClProvider().probe();
    assertFalse(s.usable());
    assertTrue(s.reason().contains("matches no device"), s.reason());
    System.setProperty(Devices.DEVICE_PROPERTY, "0");
    assertTrue(new OpenClProvider().probe().usable());
  }

  @Test
  void infoListsTheDevicesAndTheChosenOne() {
    BackendStatus s = new OpenClProvider().probe();
    assertTrue(s.devices().stream().anyMatch(l -> l.contains("[chosen]") && l.contains("fp64")));
    assertTrue(s.details().containsKey("device_type"));
  }

  @Test
  void autoModePassesOverAnOpenClCpuDeviceButForcingUsesIt() {
    BackendStatus s = new OpenClProvider().probe();
    try (Rectifier auto = Rectifier.create();
        Rectifier forced = Rectifier.create("opencl")) {
      assertEquals("opencl", forced.backend());
      if ("CPU".equals(s.details().get("device_type"))) {
        assertEquals("cpu", auto.backend());
        BackendStatus first =
            auto.selection().stream().filter(b -> b.name().equals("opencl")).findFirst().get();
        assertTrue(first.reason().contains("passes it over"), first.reason());
      } else {
        assertEquals("opencl", auto.backend());
      }
    }
  }
}
