package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.Dispatch.Cost;
import dev.rectifier.Dispatch.Costs;
import dev.rectifier.cpu.CpuProvider;
import dev.rectifier.spi.BackendProvider;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Auto mode's per-call choice for host arrays between a device and the CPU: the rule on costs made
 * up for the purpose (a PCIe GPU's shape), and the whole path on the real OpenCL backend (PoCL).
 */
class DispatchTest {
  /** Made-up costs of the usual shape: a GPU with 20 us per call and 12 GB/s each way. */
  private static final Costs RELU_ON_A_GPU =
      new Costs(
          new Cost(20e-6, 8 / 12e9), // copies dominate: 8 bytes per float there and back
          new Cost(1e-6, 8 / 25e9)); // the CPU at its copy bandwidth

  private static final Costs GELU_ON_A_GPU =
      new Costs(new Cost(20e-6, 8 / 12e9), new Cost(1e-6, 4e-9)); // gelu: 4 ns per float on CPU

  @Test
  void memoryBoundCallsStayOnTheCpuAndHeavyOnesGoToTheDeviceWhenLargeEnough() {
    for (long n : new long[] {1, 4096, 1 << 20, 1 << 26}) {
      assertFalse(Dispatch.onDevice(RELU_ON_A_GPU, DType.FLOAT32, n), "relu at " + n);
    }
    assertFalse(Dispatch.onDevice(GELU_ON_A_GPU, DType.FLOAT32, 1024));
    assertTrue(Dispatch.onDevice(GELU_ON_A_GPU, DType.FLOAT32, 1 << 20));
    long even = Dispatch.breakEven(GELU_ON_A_GPU.device(), GELU_ON_A_GPU.cpu());
    assertTrue(even > 1024 && even < (1 << 20), "break-even at " + even);
    assertFalse(Dispatch.onDevice(GELU_ON_A_GPU, DType.FLOAT32, even - 1));
    assertTrue(Dispatch.onDevice(GELU_ON_A_GPU, DType.FLOAT32, even));
    // float64 counts twice: the same bytes reach the break-even at half the elements
    assertTrue(Dispatch.onDevice(GELU_ON_A_GPU, DType.FLOAT64, (even + 1) / 2));
    assertEquals(-1, Dispatch.breakEven(RELU_ON_A_GPU.device(), RELU_ON_A_GPU.cpu()));
    Map<String, Costs> measured = new LinkedHashMap<>();
    measured.put("relu", RELU_ON_A_GPU);
    measured.put("gelu", GELU_ON_A_GPU);
    String rule = Dispatch.describe("cuda", measured);
    assertTrue(rule.contains("relu never"), rule);
    assertTrue(rule.contains("gelu from " + even + " elements"), rule);
  }

  @Test
  void channelFunctionsAreMeasuredAsReluAndElementwiseOnesAsThemselves() {
    assertEquals(Activation.relu(), Dispatch.representative(Activation.prelu()));
    Activation silu = Activation.silu();
    assertEquals(silu, Dispatch.representative(silu));
  }

  @Test
  void aFitThroughTwoTimingsGivesTheFixedAndPerElementCosts() {
    Cost c = Cost.fit(1000, 11e-6, 101_000, 1011e-6);
    assertEquals(1e-6, c.fixed(), 1e-12);
    assertEquals(10e-9, c.perElement(), 1e-15);
    assertEquals(0, Dispatch.breakEven(new Cost(0, 1e-9), new Cost(1e-6, 2e-9)));
  }

  @Test
  void onARealDeviceHostArraysGoWhereMeasuredFasterAndResultsDoNotDependOnIt() {
    ExpectOpenCl.here("the device half of DispatchTest");
    float[] x = new float[300_000];
    for (int i = 0; i < x.length; i++) x[i] = (i % 1000 - 500) / 50f;
    float[] want = new float[x.length];
    try (Rectifier cpu = Rectifier.create("cpu")) {
      cpu.forward(Activation.gelu(), x, want);
    }
    List<BackendProvider> providers = List.of(new StandInGpu(), new CpuProvider());
    try (Rectifier r = Rectifier.builder().providers(providers).build()) {
      assertEquals("opencl", r.backend());
      String rule = r.dispatchRule();
      assertTrue(
          rule.startsWith("host arrays go to opencl where its measured cost is lower"), rule);
      assertTrue(rule.contains(" relu ") && rule.contains(" gelu "), rule);
      BackendStatus also = r.selection().get(r.selection().size() - 1);
      assertEquals("cpu", also.name());
      assertTrue(also.details().containsKey(Rectifier.COMPANION), also.toString());
      String where = r.backendFor(Activation.gelu(), DType.FLOAT32, x.length);
      assertTrue(where.equals("opencl") || where.equals("cpu"), where);
      System.out.println("DispatchTest on PoCL: " + rule + "; gelu on 300K floats: " + where);
      float[] y = new float[x.length];
      r.forward(Activation.gelu(), x, y);
      assertArrayEquals(want, y, "the same floats wherever it ran");
      try (DeviceBuffer b = r.upload(x);
          DeviceBuffer o = r.allocate(DType.FLOAT32, x.length)) {
        r.forward(Activation.gelu(), Shape.vector(x.length), b, o); // buffers stay on the device
        assertArrayEquals(want, o.toFloatArray());
      }
    }
  }
}
