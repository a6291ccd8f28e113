package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.FaultyDevice.Fault;
import dev.rectifier.cpu.CpuProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Backends that fail in the middle of a call: the real OpenCL backend (PoCL in CI) behind the
 * stand-in {@link FaultyDevice}, and PoCL's own out-of-memory error. The error names the backend,
 * the operation and the cause; the engine stays usable; with {@code rectifier.fallback=cpu} a call
 * on host arrays re-runs on the CPU with a warning and gives the CPU's result, in place from the
 * input as it was.
 */
class FaultTest {
  private final List<String> warnings = new ArrayList<>();
  private final Logger log = Logger.getLogger(Rectifier.class.getName());
  private final Handler capture =
      new Handler() {
        @Override
        public void publish(LogRecord r) {
          synchronized (warnings) {
            warnings.add(r.getMessage());
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  @BeforeEach
  void listen() {
    ExpectOpenCl.here("FaultTest");
    log.addHandler(capture);
  }

  @AfterEach
  void stopListening() {
    log.removeHandler(capture);
  }

  private static Rectifier engine(FaultyDevice device, String fallback) {
    return Rectifier.builder()
        .providers(List.of(device, new CpuProvider()))
        .backend("opencl")
        .fallback(fallback)
        .failOnLeak(true)
        .build();
  }

  private static float[] inputs(int n, long seed) {
    Random r = new Random(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * 4);
    return x;
  }

  /** What the CPU backend gives: the fallback's answer exactly, the device's within 1 ULP. */
  private static float[] onCpu(Activation f, float[] x) {
    float[] y = new float[x.length];
    try (Rectifier cpu = Rectifier.create("cpu")) {
      cpu.forward(f, x, y);
    }
    return y;
  }

  private static void assertWithinOneUlp(float[] want, float[] got) {
    for (int i = 0; i < want.length; i++) {
      if (Ulp.distance(want[i], got[i]) > 1) {
        fail("at " + i + ": " + got[i] + ", want " + want[i]);
      }
    }
  }

  @Test
  void aFailureMidCallNamesTheBackendTheOperationAndTheCauseAndTheEngineGoesOn() {
    FaultyDevice device = new FaultyDevice(Fault.ONCE_MID_CALL, 1);
    Activation silu = Activation.silu();
    float[] x = inputs(50_000, 1);
    float[] want = onCpu(silu, x);
    try (Rectifier r = engine(device, "none")) {
      float[] y = new float[x.length];
      r.forward(silu, x, y);
      assertWithinOneUlp(want, y);
      RectifierException e =
          assertThrows(RectifierException.class, () -> r.forward(silu, x, new float[x.length]));
      String m = e.getMessage();
      for (String part :
          new String[] {
            "opencl failed in forward silu() on host arrays (f32, 50000 elements)",
            "CL_DEVICE_NOT_AVAILABLE",
            "the engine stays usable",
            "-Drectifier.fallback=cpu"
          }) {
        assertTrue(m.contains(part), "missing '" + part + "' in: " + m);
      }
      y = new float[x.length];
      r.forward(silu, x, y); // the next call works, on the device
      assertWithinOneUlp(want, y);
      assertEquals(1, device.injected.get());
    }
  }

  @Test
  void withFallbackALostDeviceLeavesHostArrayCallsToTheCpuWithAWarning() {
    FaultyDevice device = new FaultyDevice(Fault.LOST, 0);
    Activation gelu = Activation.gelu();
    float[] x = inputs(70_000, 2);
    float[] want = onCpu(gelu, x);
    try (Rectifier r = engine(device, "cpu")) {
      float[] y = new float[x.length];
      r.forward(gelu, x, y);
      assertArrayEquals(want, y);

      // in place: the device wrote half of x before failing; the CPU starts from x as it was
      float[] inPlace = x.clone();
      r.forward(gelu, inPlace, inPlace);
      assertArrayEquals(want, inPlace);

      float[] g = inputs(x.length, 3);
      float[] dx = new float[x.length];
      float[] wantDx = new float[x.length];
      r.backward(gelu, x, g, dx);
      try (Rectifier cpu = Rectifier.create("cpu")) {
        cpu.backward(gelu, x, g, wantDx);
      }
      assertArrayEquals(wantDx, dx);

      // buffers live on the device: no fallback, an error naming the copy
      try (DeviceBuffer b = r.allocate(DType.FLOAT32, 16)) {
        RectifierException e =
            assertThrows(RectifierException.class, () -> b.copyFrom(new float[16]));
        assertTrue(
            e.getMessage().startsWith("opencl failed to copy 16 elements to a buffer"),
            e.getMessage());
      }
      assertEquals(0, r.liveBuffers());
    }
    synchronized (warnings) {
      assertEquals(3, warnings.size(), warnings.toString());
      for (String w : warnings) {
        assertTrue(w.startsWith("opencl failed in "), w);
        assertTrue(w.endsWith("re-running it on cpu (rectifier.fallback=cpu)"), w);
      }
    }
    assertTrue(device.injected.get() >= 4);
  }

  @Test
  void withoutFallbackAnInPlaceFailureSaysTheArrayIsUndefined() {
    FaultyDevice device = new FaultyDevice(Fault.ONCE_MID_CALL, 0);
    float[] x = inputs(10_000, 4);
    try (Rectifier r = engine(device, "none")) {
      RectifierException e =
          assertThrows(RectifierException.class, () -> r.forward(Activation.elu(), x, x));
      assertTrue(
          e.getMessage().contains("the array of this in-place call is undefined now"),
          e.getMessage());
    }
  }

  @Test
  void outOfDeviceMemoryIsAnErrorOnBuffersAndFallsBackOnHostArrays() {
    FaultyDevice device = new FaultyDevice(Fault.OUT_OF_MEMORY, 0);
    float[] x = inputs(5_000, 5);
    try (Rectifier r = engine(device, "cpu")) {
      RectifierException e =
          assertThrows(RectifierException.class, () -> r.allocate(DType.FLOAT32, 1 << 20));
      assertTrue(
          e.getMessage().startsWith("opencl failed to allocate 1048576 f32 elements"),
          e.getMessage());
      assertTrue(e.getMessage().contains("CL_MEM_OBJECT_ALLOCATION_FAILURE"), e.getMessage());
      float[] y = new float[x.length];
      r.forward(Activation.mish(), x, y);
      assertArrayEquals(onCpu(Activation.mish(), x), y);
    }
  }

  /** PoCL refuses a buffer larger than its largest allocation: a real out-of-memory error. */
  @Test
  void aRealOutOfMemoryOnPoclLeavesTheEngineUsable() {
    try (Rectifier r = Rectifier.builder().backend("opencl").failOnLeak(true).build()) {
      RectifierException e =
          assertThrows(RectifierException.class, () -> r.allocate(DType.FLOAT64, 1L << 40));
      System.out.println("PoCL, 2^40 doubles: " + e.getMessage());
      assertTrue(e.getMessage().startsWith("opencl"), e.getMessage());
      float[] x = inputs(1000, 6);
      float[] y = new float[x.length];
      r.forward(Activation.relu(), x, y);
      assertArrayEquals(onCpu(Activation.relu(), x), y);
    }
  }

  @Test
  void theFallbackSettingIsCheckedAndNamed() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Rectifier.builder().fallback("gpu"));
    assertEquals(
        "fallback is 'gpu'; give cpu (re-run failed calls on the CPU) or none", e.getMessage());
    System.setProperty(Rectifier.FALLBACK_PROPERTY, "yes");
    try {
      e = assertThrows(IllegalArgumentException.class, () -> Rectifier.create("cpu"));
      assertTrue(e.getMessage().startsWith("-Drectifier.fallback is 'yes'"), e.getMessage());
    } finally {
      System.clearProperty(Rectifier.FALLBACK_PROPERTY);
    }
    // on the CPU itself there is nothing to fall back to, and nothing more is opened
    try (Rectifier r = Rectifier.builder().backend("cpu").fallback("cpu").build()) {
      assertEquals(1, r.selection().size());
    }
  }
}
