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
 * driver's JIT accepts it; and its kernels are exactly the OpenCL file's, name for name.
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
    m = Pattern.compile("__kernel void (\\w+)_##SUFFIX").matcher(doublePath);
    while (m.find()) {
      opencl.add(m.group(1) + "_f32");
      opencl.add(m.group(1) + "_f64");
    }
    assertEquals(66, opencl.size(), "33 kernels per type in the OpenCL file");
    assertEquals(opencl, cuda);
  }
}
