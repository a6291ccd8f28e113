package dev.rectifier.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The OpenCL kernels carry their own copy of the root series (OpenCL C cannot read Java's): both
 * come from tools/reference/extra_golden.py, and this test holds them equal.
 */
class RootSeriesTest {
  private static String kernels() throws IOException {
    try (InputStream in =
        RootSeriesTest.class.getResourceAsStream("/dev/rectifier/opencl/rectifier.cl")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static double define(String source, String name) {
    Matcher m = Pattern.compile("#define " + name + " (\\S+)").matcher(source);
    assertTrue(m.find(), name + " is not in rectifier.cl");
    return Double.parseDouble(m.group(1));
  }

  private static double[] array(String source, String name) {
    Matcher m =
        Pattern.compile("__constant double " + name + "\\[\\d+\\] = \\{([^}]*)\\};")
            .matcher(source);
    assertTrue(m.find(), name + " is not in rectifier.cl");
    String[] parts = m.group(1).replace("\n", " ").split(",");
    return java.util.Arrays.stream(parts)
        .map(String::trim)
        .filter(p -> !p.isEmpty())
        .mapToDouble(Double::parseDouble)
        .toArray();
  }

  @Test
  void theOpenClKernelsCarryTheSameSeries() throws IOException {
    String cl = kernels();
    Map<String, double[]> java =
        Map.of(
            "SILU", new double[] {RootSeries.SILU_ROOT_HI, RootSeries.SILU_ROOT_LO},
            "MISH", new double[] {RootSeries.MISH_ROOT_HI, RootSeries.MISH_ROOT_LO},
            "GELU", new double[] {RootSeries.GELU_ROOT_HI, RootSeries.GELU_ROOT_LO},
            "GELU_TANH", new double[] {RootSeries.GELU_TANH_ROOT_HI, RootSeries.GELU_TANH_ROOT_LO});
    Map<String, double[]> series =
        Map.of(
            "SILU", RootSeries.SILU,
            "MISH", RootSeries.MISH,
            "GELU", RootSeries.GELU,
            "GELU_TANH", RootSeries.GELU_TANH);
    for (String f : java.keySet()) {
      assertEquals(java.get(f)[0], define(cl, f + "_ROOT_HI"), f + " root (hi)");
      assertEquals(java.get(f)[1], define(cl, f + "_ROOT_LO"), f + " root (lo)");
      assertArrayEquals(series.get(f), array(cl, f + "_SERIES"), f + " coefficients");
    }
    assertEquals(RootSeries.RADIUS, define(cl, "ROOT_RADIUS"));
  }
}
