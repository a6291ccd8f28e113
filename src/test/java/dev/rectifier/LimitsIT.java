package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Arrays near {@code Integer.MAX_VALUE} elements through the API, in their own JVM with a 9 GiB
 * heap ({@link LargeArrays}): on the CPU backend and, where it runs (always in CI), on OpenCL.
 */
class LimitsIT {
  @Test
  void arraysOfIntegerMaxValueMinus8ElementsComputeRightOnEveryBackend() throws Exception {
    List<String> backends = new ArrayList<>(List.of("cpu"));
    if (ExpectOpenCl.present("LimitsIT's OpenCL part")) backends.add("opencl");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of("-Xmx9g", "-cp", System.getProperty("java.class.path")));
    cmd.add(LargeArrays.class.getName());
    cmd.addAll(backends);
    Path log = Files.createTempFile("limits", ".log");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean done = p.waitFor(15, TimeUnit.MINUTES);
    if (!done) p.destroyForcibly();
    String out = Files.readString(log);
    Files.delete(log);
    System.out.print(out);
    assertTrue(done, "did not finish in 15 minutes: " + out);
    assertEquals(0, p.exitValue(), out);
    for (String b : backends) {
      assertTrue(out.contains(b + ": backward relu() in place over 2147483639 floats: right"), out);
      assertTrue(out.contains(b + ": forward elu() of the last 1000 elements: right"), out);
    }
  }
}
