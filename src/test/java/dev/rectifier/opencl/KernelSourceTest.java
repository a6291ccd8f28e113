package dev.rectifier.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The float-only half of the kernels must not touch double: a device without {@code cl_khr_fp64}
 * rejects the type, and an unsuffixed literal such as {@code 0.5} is a double that would silently
 * promote float arithmetic on the devices (PoCL's among them) that do have it. Read from the source
 * the jar carries; no device needed.
 */
class KernelSourceTest {
  @Test
  void theFloatOnlyPathHasNoDoubleAndNoDoubleLiteral() {
    String source = OpenClBackend.kernelSource();
    int start = source.indexOf("#else\n// =");
    int end = source.lastIndexOf("#endif");
    assertTrue(start > 0 && end > start, "the float-only section is where it should be");
    String code =
        source.substring(start, end).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
    List<String> bad = new ArrayList<>();
    Matcher m = Pattern.compile("\\bdouble\\b").matcher(code);
    while (m.find()) bad.add("'double' at " + m.start());
    m =
        Pattern.compile(
                "(?<![\\w.])(\\d+\\.\\d*(?:[eE][-+]?\\d+)?|\\d+[eE][-+]?\\d+|0x[0-9a-fA-F.]+p[-+]?\\d+)"
                    + "([fF]?)")
            .matcher(code);
    while (m.find()) if (m.group(2).isEmpty()) bad.add("double literal " + m.group(1));
    assertTrue(bad.isEmpty(), "the float-only path uses double: " + bad);
    assertTrue(code.contains("__kernel void prelu_weight_f32"), "and it has its kernels");
  }
}
