package dev.rectifier.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.Activation;
import dev.rectifier.ExpectOpenCl;
import dev.rectifier.Rectifier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tool, in real processes ({@link FaultyTool}), on an OpenCL backend that fails in the middle
 * of a run: the stand-in {@code FaultyDevice} over the real OpenCL backend (PoCL in CI). Whether
 * the files are read whole or streamed a chunk at a time, a failed run exits 1 with one line naming
 * the backend, the operation and the cause, and leaves every file as it was: the inputs, an output
 * that existed before, and no partial output or temporary file. With {@code
 * -Drectifier.fallback=cpu} the run re-does the failed calls on the CPU and writes the CPU's
 * answer.
 */
class CliFaultIT {
  @TempDir Path dir;
  private Path x;
  private Path g;
  private Path y;
  private float[] xs;

  record Result(int code, String out, String err) {}

  @BeforeEach
  void files() throws IOException {
    ExpectOpenCl.here("CliFaultIT");
    Random r = new Random(6);
    xs = new float[10_000];
    float[] gs = new float[xs.length];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = (float) (r.nextGaussian() * 3);
      gs[i] = (float) r.nextGaussian();
    }
    x = dir.resolve("x.npy");
    g = dir.resolve("g.npy");
    y = dir.resolve("y.npy");
    Npy.writeAtomically(x, new int[] {100, 100}, xs);
    Npy.writeAtomically(g, new int[] {100, 100}, gs);
    Npy.writeAtomically(y, new int[] {2}, new float[] {7, 8}); // an older output, to be kept
  }

  private Result tool(String fault, int failAt, List<String> jvm, Object... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvm);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path")));
    cmd.add(FaultyTool.class.getName());
    cmd.add(fault);
    cmd.add(String.valueOf(failAt));
    for (Object a : args) cmd.add(a.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().remove("RECTIFIER_BACKEND");
    Path out = Files.createTempFile("fault", ".out");
    Path err = Files.createTempFile("fault", ".err");
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the tool did not finish: " + cmd);
    Result res = new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    Files.delete(out);
    Files.delete(err);
    return res;
  }

  private Map<String, byte[]> snapshot() throws IOException {
    Map<String, byte[]> files = new TreeMap<>();
    try (Stream<Path> list = Files.list(dir)) {
      for (Path p : (Iterable<Path>) list::iterator) {
        files.put(p.getFileName().toString(), Files.readAllBytes(p));
      }
    }
    return files;
  }

  /**
   * The failures: a device lost while a file read whole is computed, a call failing in the fifth
   * chunk of a streamed forward, a device lost in the third chunk of a streamed backward, device
   * memory full; each as FAULT, FAIL_AT, the operation its error names, and the tool's arguments.
   */
  static Stream<Arguments> failures() {
    return Stream.of(
        Arguments.of("lost", 0, "forward silu()", "forward silu --input {x} --output {y}"),
        Arguments.of(
            "once_mid_call",
            4,
            "forward elu(alpha=1)",
            "forward elu --chunk-elements 1000 --input {x} --output {y}"),
        Arguments.of(
            "lost",
            2,
            "backward gelu()",
            "backward gelu --chunk-elements 1000 --input {x} --grad-output {g} --grad-input {y}"),
        Arguments.of(
            "out_of_memory",
            0,
            "forward mish() on host arrays (f32, 10000 elements): opencl: clCreateBuffer:"
                + " CL_MEM_OBJECT_ALLOCATION_FAILURE",
            "forward mish --input {x} --output {y}"));
  }

  @ParameterizedTest(name = "{0} at call {1}: {3}")
  @MethodSource("failures")
  void aFailedRunExits1InOneLineAndLeavesEveryFileAsItWas(
      String fault, int failAt, String operation, String args) throws Exception {
    Map<String, byte[]> before = snapshot();
    List<Object> argv = new ArrayList<>();
    for (String a : args.split(" ")) {
      argv.add(
          a.replace("{x}", x.toString()).replace("{g}", g.toString()).replace("{y}", y.toString()));
    }
    argv.addAll(List.of("--backend", "opencl"));
    Result r = tool(fault, failAt, List.of(), argv.toArray());
    assertEquals(Main.BACKEND_FAILURE, r.code(), r.err());
    String e = r.err().strip();
    assertTrue(!e.contains("\n") && e.startsWith("rectifier: "), "one line: " + r.err());
    for (String part : new String[] {"opencl failed in " + operation, "stand-in fault"}) {
      assertTrue(e.contains(part), "missing '" + part + "' in: " + e);
    }
    Map<String, byte[]> after = snapshot();
    assertEquals(before.keySet(), after.keySet(), "files made or removed");
    for (String name : before.keySet()) {
      assertArrayEquals(before.get(name), after.get(name), name + " changed");
    }
  }

  @Test
  void withCpuFallbackALostDevicesChunksAreRedoneOnTheCpu() throws Exception {
    Result r =
        tool(
            "lost",
            3,
            List.of("-Drectifier.fallback=cpu"),
            "forward",
            "silu",
            "--backend",
            "opencl",
            "--chunk-elements",
            "1000",
            "--input",
            x,
            "--output",
            y);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("WARNING") && r.err().contains("re-running"), r.err());
    float[] want = new float[xs.length];
    float[] device = new float[xs.length];
    try (Rectifier cpu = Rectifier.create("cpu");
        Rectifier opencl = Rectifier.create("opencl")) {
      cpu.forward(Activation.silu(), xs, want);
      opencl.forward(Activation.silu(), xs, device);
    }
    float[] got = (float[]) Npy.read(y).data();
    // chunks 0-2 ran on the device, the rest on the CPU after the device was lost
    assertArrayEquals(
        java.util.Arrays.copyOfRange(device, 0, 3000), java.util.Arrays.copyOfRange(got, 0, 3000));
    assertArrayEquals(
        java.util.Arrays.copyOfRange(want, 3000, want.length),
        java.util.Arrays.copyOfRange(got, 3000, got.length));
  }
}
