package dev.rectifier.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.BackendStatus;
import dev.rectifier.Rectifier;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CUDA provider's answers that need no GPU: the probe never throws, and each fault before the
 * driver is a reason. (A driver too old, or without a device, is tested in real processes with a
 * stand-in libcuda.so.1: CliIT.)
 */
class CudaProviderTest {
  @TempDir Path dir;

  @Test
  void theProbeNeverThrowsAndAReasonNamesTheFix() {
    BackendStatus s = new CudaProvider().probe();
    if (s.usable()) {
      assertTrue(
          s.devices().stream().anyMatch(l -> l.contains("[chosen]")), s.devices().toString());
      assertTrue(s.details().containsKey("compute_capability"));
      return;
    }
    assertFalse(s.reason().isBlank());
    assertTrue(
        s.reason().contains("driver") || s.reason().contains("tmpdir"),
        "names what to do: " + s.reason());
  }

  @Test
  void aReadOnlyTmpdirIsAReasonNotACrash() throws Exception {
    Path ro = Files.createDirectory(dir.resolve("ro"));
    assertTrue(ro.toFile().setWritable(false, false));
    String old = System.getProperty("java.io.tmpdir");
    try {
      System.setProperty("java.io.tmpdir", ro.toString());
      String why = CudaProvider.tmpProblem();
      if (Files.isWritable(ro)) {
        // root ignores the permission bits: a directory that does not exist fails the same way
        System.setProperty("java.io.tmpdir", dir.resolve("missing").toString());
        why = CudaProvider.tmpProblem();
      }
      assertTrue(why != null && why.contains("-Djava.io.tmpdir="), why);
    } finally {
      System.setProperty("java.io.tmpdir", old);
      ro.toFile().setWritable(true, false);
    }
    assertNull(CudaProvider.tmpProblem());
  }

  @Test
  void theLoadErrorLineThatSaysWhyIsKept() {
    UnsatisfiedLinkError e =
        new UnsatisfiedLinkError(
            "Error while loading native library \"JCudaDriver-12.0.0-linux-x86_64\"\n"
                + "Stack trace from the attempt to load the library as a resource:\n"
                + "java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver-12.0.0-linux-x86_64.so:"
                + " libcuda.so.1: cannot open shared object file: No such file or directory\n");
    assertEquals(
        "/tmp/libJCudaDriver-12.0.0-linux-x86_64.so: libcuda.so.1: cannot open shared object"
            + " file: No such file or directory",
        CudaProvider.linkError(e));
  }

  @Test
  void autoModeGoesOnWhenCudaCannotRun() {
    if (new CudaProvider().probe().usable()) return; // a GPU machine: auto mode takes CUDA
    try (Rectifier r = Rectifier.create()) {
      assertEquals("cuda", r.selection().get(0).name());
      assertFalse(r.selection().get(0).usable());
      assertTrue(!r.backend().equals("cuda"));
    }
  }
}
