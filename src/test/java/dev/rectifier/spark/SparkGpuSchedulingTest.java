package dev.rectifier.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

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
    Engine e = Engines.forGpu(Option.apply("0"), Option.empty(), 1);
    assertSame(e, Engines.forGpu(Option.apply("0"), Option.empty(), 1), "one engine per GPU");
    String backend = e.rectifier().backend();
    assertEquals(
        backend + (backend.equals("cpu") ? " (GPU 0 not used)" : " (GPU 0)"),
        e.label(),
        "rows a GPU task computed elsewhere say so");
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
    // leaky_relu by hand: x above 0, else x times the slope rounded to float (-0 stays -0)
    float[] want = new float[x.length];
    for (int i = 0; i < x.length; i++) want[i] = x[i] > 0 || Float.isNaN(x[i]) ? x[i] : x[i] * 0.2f;
    assertArrayEquals(want, got);
    assertEquals(-0f, got[2], 0f);
    assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(got[2]), "-0 kept");
  }

  @Test
  void aGpuAddressThatIsNotAnOrdinalIsAClearError() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Engines.forGpu(
                    Option.apply("GPU-8f2c1e4a-5b6d-7e8f-9a0b-1c2d3e4f5a6b"), Option.empty(), 1));
    assertEquals(
        "the task's GPU address is 'GPU-8f2c1e4a-5b6d-7e8f-9a0b-1c2d3e4f5a6b', not a CUDA device"
            + " ordinal; make spark.executor.resource.gpu.discoveryScript list ordinals (0, 1,"
            + " ...), as Spark's getGpusResources.sh does",
        e.getMessage());
  }

  @Test
  void aForcedBackendThatCannotRunIsNamedInSparksWords() {
    try (Rectifier r = Rectifier.create()) {
      assumeFalse(r.selection().get(0).usable(), "CUDA runs here: nothing to refuse");
    }
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> Engines.forGpu(Option.empty(), Option.apply("cuda"), 1));
    assertTrue(
        e.getMessage()
            .startsWith(
                "rectifier: spark.rectifier.backend=cuda: backend 'cuda' was forced by"
                    + " spark.rectifier.backend but cannot run: "),
        e.getMessage());
    assertFalse(e.getMessage().contains("--backend"), e.getMessage());
  }

  @Test
  void theCpuEngineOfATaskUsesTheTasksCpus() {
    Engine one = Engines.forGpu(Option.empty(), Option.empty(), 1);
    Engine two = Engines.forGpu(Option.empty(), Option.empty(), 2);
    assertEquals(1, one.threads());
    assertEquals(2, two.threads());
    assertTrue(one != two, "tasks of other CPU shares get engines of their own");
  }

  @Test
  void aTaskWithoutAGpuComputesOnTheCpu() {
    Engine e = Engines.forGpu(Option.empty(), Option.empty(), 1);
    assertEquals("cpu", e.rectifier().backend());
    assertEquals("cpu", e.label());
    Engine forced = Engines.forGpu(Option.empty(), Option.apply("auto"), 1);
    assertTrue(
        forced.rectifier().selection().size() > 1,
        "spark.rectifier.backend=auto probes the backends in their order");
  }
}
