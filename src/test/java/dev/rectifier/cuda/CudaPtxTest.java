package dev.rectifier.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.nvptxcompiler.JNvPTXCompiler;
import jcuda.nvptxcompiler.nvPTXCompilerHandle;
import org.junit.jupiter.api.Test;

/**
 * The committed PTX, checked without a GPU: JCuda's bundled PTX compiler (CUDA 12.0's, the oldest
 * driver generation we promise) assembles it for every architecture we ship for, so a CUDA 12.0
 * driver's JIT accepts it; its kernels are exactly the OpenCL file's, name for name; and the CUDA
 * source's helpers, constants and series are the OpenCL file's, token for token (the CUDA file is
 * kept by hand beside the OpenCL one, and a fix made in one only is what this catches).
 */
class CudaPtxTest {
  static final String[] ARCHS = {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90"};

  static String ptx() throws IOException {
    try (InputStream in =
        CudaPtxTest.class.getResourceAsStream("/dev/rectifier/cuda/rectifier.ptx")) {
      if (in == null) throw new IOException("rectifier.ptx is not on the classpath");
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void theCuda12PtxCompilerAssemblesItForEveryArchitecture() throws IOException {
    String ptx = ptx();
    assertTrue(ptx.contains("\n.version 8.0\n"), "PTX ISA 8.0, which CUDA 12.0 drivers load");
    JNvPTXCompiler.setExceptionsEnabled(true);
    int[] major = new int[1];
    int[] minor = new int[1];
    JNvPTXCompiler.nvPTXCompilerGetVersion(major, minor);
    assertEquals(12, major[0], "JCuda 12.0.0 bundles CUDA 12.0's PTX compiler");
    assertEquals(0, minor[0]);
    byte[] code = (ptx + "\0").getBytes(StandardCharsets.US_ASCII);
    for (String arch : ARCHS) {
      nvPTXCompilerHandle h = new nvPTXCompilerHandle();
      JNvPTXCompiler.nvPTXCompilerCreate(h, code.length, code);
      try {
        JNvPTXCompiler.nvPTXCompilerCompile(h, 1, new String[] {"--gpu-name=" + arch});
        long[] size = new long[1];
        JNvPTXCompiler.nvPTXCompilerGetCompiledProgramSize(h, size);
        assertTrue(size[0] > 100_000, arch + ": a cubin of " + size[0] + " bytes");
      } finally {
        JNvPTXCompiler.nvPTXCompilerDestroy(h);
      }
    }
  }

  @Test
  void itHasTheOpenClKernelsNameForName() throws IOException {
    TreeSet<String> cuda = new TreeSet<>();
    Matcher m = Pattern.compile("\\.visible \\.entry (\\w+)\\(").matcher(ptx());
    while (m.find()) cuda.add(m.group(1));
    String cl = Files.readString(Path.of("kernels-opencl/rectifier.cl"));
    String doublePath = cl.substring(0, cl.indexOf("#else\n// ="));
    TreeSet<String> opencl = new TreeSet<>();
    m =
        Pattern.compile(
                "(?:__kernel|MASK_KERNEL|STATS_KERNEL) void (\\w+)_##SUFFIX"
                    + "|(?:FORWARD_KERNEL|WITH_STATS)\\(T, (\\w+), SUFFIX"
                    + "|__kernel void (\\w+)\\(")
            .matcher(doublePath);
    while (m.find()) {
      if (m.group(3) != null) { // one kernel, not one per type: the 16-bit conversions
        opencl.add(m.group(3));
        continue;
      }
      for (String type : new String[] {"_f32", "_f64"}) {
        if (m.group(1) != null) opencl.add(m.group(1) + type);
        else if (!m.group(2).equals("NAME")) { // not the macros' own definitions
          // a forward kernel and its twin with statistics
          opencl.add(m.group(2) + type);
          opencl.add(m.group(2) + "_stats" + type);
        }
      }
    }
    assertEquals(116, opencl.size(), "56 kernels per type and 4 conversions in the OpenCL file");
    assertEquals(opencl, cuda);
  }

  /** {@code text} without comments, with the two dialects' spellings made one, and no spaces. */
  private static String normalized(String text) {
    return text.replaceAll("//[^\n]*", "")
        .replaceAll("(?s)/\\*.*?\\*/", "")
        .replace("__device__ ", "")
        .replace("__constant__ ", "__constant ")
        .replace("__constant const ", "const ")
        .replace("__global ", "")
        .replace("__umulhi(", "mul_hi(")
        .replace("make_uint4(", "(uint4)(")
        .replace("make_uint2(", "(uint2)(")
        .replaceAll("\\s+", "");
  }

  /**
   * Each {@code inline} function, {@code #define} and constant array of {@code source}, by name.
   */
  private static java.util.Map<String, String> definitions(String source) {
    java.util.Map<String, String> defs = new java.util.TreeMap<>();
    Matcher m = Pattern.compile("(?m)^#define (\\w+)([^\\n]*)$").matcher(source);
    while (m.find()) {
      if (!m.group(2).endsWith("\\")) defs.put("#" + m.group(1), normalized(m.group(2)));
    }
    m =
        Pattern.compile(
                "(?m)^(?:__device__ )?inline \\w+ (\\w+)\\(|^__constant(?:__)? double (\\w+)\\[")
            .matcher(source);
    while (m.find()) {
      int open = source.indexOf('{', m.end());
      int depth = 0;
      int end = open;
      do {
        char c = source.charAt(end++);
        if (c == '{') depth++;
        if (c == '}') depth--;
      } while (depth > 0);
      String name = m.group(1) != null ? m.group(1) : m.group(2);
      defs.put(name, normalized(source.substring(m.start(), end)));
    }
    return defs;
  }

  @Test
  void itsHelpersConstantsAndSeriesAreTheOpenClFilesTokenForToken() throws IOException {
    String cl = Files.readString(Path.of("kernels-opencl/rectifier.cl"));
    java.util.Map<String, String> opencl = definitions(cl.substring(0, cl.indexOf("#else\n// =")));
    java.util.Map<String, String> cuda =
        definitions(Files.readString(Path.of("kernels-cuda/rectifier.cu")));
    cuda.remove("global_index"); // CUDA's get_global_id(0)
    cuda.remove("#MASK_KERNEL"); // a plain kernel in CUDA, one with a work-group size in OpenCL
    cuda.remove("#STATS_KERNEL"); // launch bounds in CUDA, a required work-group size in OpenCL
    cuda.remove("#STATS_SYNC"); // __syncthreads() and barrier()
    assertTrue(cuda.size() > 50, "found " + cuda.keySet());
    for (java.util.Map.Entry<String, String> d : cuda.entrySet()) {
      assertEquals(
          opencl.get(d.getKey()), d.getValue(), d.getKey() + " differs from the OpenCL file's");
    }
  }

  /** The text of the {@code #define} of {@code name} with its continuation lines. */
  private static String macro(String source, String name) {
    int at = source.indexOf("#define " + name + "(");
    assertTrue(at >= 0, name + " is defined");
    int end = at;
    do {
      end = source.indexOf('\n', end) + 1;
    } while (source.charAt(end - 2) == '\\');
    return normalized(source.substring(at, end));
  }

  /**
   * The statistics' fold, whose order makes every backend's sums the same (StatsRecords), is the
   * same text in both files: multi-line macros, which the test above does not read.
   */
  @Test
  void itsStatisticsFoldIsTheOpenClFilesTokenForToken() throws IOException {
    String cl = Files.readString(Path.of("kernels-opencl/rectifier.cl"));
    String cu = Files.readString(Path.of("kernels-cuda/rectifier.cu"));
    for (String name : new String[] {"STATS_LEAF", "STATS_RECORD", "STATS_HALVE", "STATS_FOLD"}) {
      assertEquals(macro(cl, name), macro(cu, name), name + " differs from the OpenCL file's");
    }
  }
}
