package dev.rectifier.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite on the CPU backend's scalar loops ({@code rectifier.cpu.vector=off}), the
 * ones a JVM without the Vector API module runs on JDK 17 to 24: the suite then holds the results
 * to the definitions bit for bit.
 *
 * <p>The property is read when an engine opens; JUnit runs test classes one after another here (no
 * parallel execution is configured), so it does not reach the other suites.
 */
class CpuScalarConformanceTest extends CpuConformanceTest {
  @BeforeAll
  static void scalar() {
    System.setProperty(FloatLoops.PROPERTY, "off");
  }

  @AfterAll
  static void restore() {
    System.clearProperty(FloatLoops.PROPERTY);
  }

  @Override
  protected FloatLoops expectedLoops() {
    return FloatLoops.SCALAR;
  }

  @Override
  public String label() {
    return "cpu-scalar";
  }
}
