package dev.rectifier.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.Activation;
import dev.rectifier.Rectifier;
import org.junit.jupiter.api.Test;
import scala.Option;

/**
 * The engine a task gets from the GPU address Spark's resource scheduling gave it. Spark's local
 * mode schedules no resources (a task asking for a GPU there never starts), so this takes the
 * address as a task on a GPU cluster would find it in its TaskContext, and opens the real engine
 * for it: the backends in their order with CUDA device 0 first; on a machine without CUDA the next
 * one that runs, named in the report under the GPU's address. Tasks with no GPU get the CPU.
 */
class SparkGpuSchedulingTest {

  @Test
  void aTaskGivenGpuZeroComputesOnTheEngineOpenedForIt() {
    Engine e = Engines.forGpu(Option.apply("0"), Option.empty());
    assertSame(e, Engines.forGpu(Option.apply("0"), Option.empty()), "one engine per GPU");
    String backend = e.rectifier().backend();
    assertEquals(backend + " (GPU 0)", e.label());
    if (System.getenv("CI") != null) {
      // CI has no CUDA driver, and PoCL's device is a CPU, which auto mode passes over
      assertEquals("cpu", backend, e.rectifier().selection().toString());
      assertTrue(
          e.rectifier().selection().get(0).reason().contains("libcuda.so.1"),
          "CUDA was tried first, and its reason kept");
    }
    float[] x = {-3f, -0.5f, -0f, 0f, 2f, Float.NaN};
    float[] got = new float[x.length];
    e.rectifier().forward(Activation.leakyRelu(0.2), x, got);
    float[] want = new float[x.length];
    try (Rectifier r = Rectifier.builder().backend(backend).cudaDevice(0).build()) {
      r.forward(Activation.leakyRelu(0.2), x, want);
    }
    assertArrayEquals(want, got);
  }

  @Test
  void aTaskWithoutAGpuComputesOnTheCpu() {
    Engine e = Engines.forGpu(Option.empty(), Option.empty());
    assertEquals("cpu", e.rectifier().backend());
    assertEquals("cpu", e.label());
    Engine forced = Engines.forGpu(Option.empty(), Option.apply("auto"));
    assertTrue(
        forced.rectifier().selection().size() > 1,
        "spark.rectifier.backend=auto probes the backends in their order");
  }
}
