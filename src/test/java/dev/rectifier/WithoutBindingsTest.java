package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * A library user may leave JOCL and JCuda off the classpath: the engine must still run on the CPU
 * and say why the others cannot, not fail with NoClassDefFoundError. Run in a real JVM whose
 * classpath is this one's without those jars.
 */
class WithoutBindingsTest {
  /** What the child JVM runs: relu on the default engine, then every backend's status. */
  public static void main(String[] args) {
    try (Rectifier r = Rectifier.create()) {
      float[] y = new float[2];
      r.forward(Activation.relu(), new float[] {-1f, 2f}, y);
      System.out.println("relu " + Arrays.toString(y) + " on " + r.backend());
    }
    for (BackendStatus s : Rectifier.probeAll()) {
      System.out.println(s.name() + ": " + (s.usable() ? "usable" : s.reason()));
    }
  }

  @Test
  void theCpuRunsAndInfoSaysWhyTheOthersCannot() throws Exception {
    String cp =
        Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
            .filter(e -> !e.contains("jocl") && !e.contains("jcuda"))
            .collect(Collectors.joining(File.pathSeparator));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(java, "-cp", cp, WithoutBindingsTest.class.getName())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("relu [0.0, 2.0] on cpu"), out);
    // CUDA's probe looks for the driver first: here, without one, that is its reason
    assertTrue(
        out.contains("cuda: JCuda (org.jcuda:jcuda) is not on the classpath")
            || out.contains("cuda: no CUDA driver library"),
        out);
    assertTrue(out.contains("opencl: JOCL (org.jocl:jocl) is not on the classpath"), out);
  }
}
