package dev.rectifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.lang.reflect.Array;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing (Jazzer) of the {@code .npy} reader: every input is read into an array
 * whose length is the product of its shape, or refused with a one-line {@link IOException} naming
 * the file; never another exception, an out-of-memory error from a header that lies about its size,
 * or a hang. {@code mvn test} replays the corpus under {@code
 * src/test/resources/dev/rectifier/cli/NpyFuzzTestInputs} (regression mode); {@code JAZZER_FUZZ=1
 * mvn test -Dtest=NpyFuzzTest} fuzzes, as CI does for a bounded time.
 */
class NpyFuzzTest {
  private static Path dir;

  @BeforeAll
  static void makeDir() throws IOException {
    dir = Files.createTempDirectory("npy-fuzz");
  }

  @AfterAll
  static void removeDir() throws IOException {
    Files.deleteIfExists(dir.resolve("in.npy"));
    Files.deleteIfExists(dir);
  }

  @FuzzTest(maxDuration = "30s")
  void everyFileIsReadOrRefusedInOneLine(byte[] bytes) throws IOException {
    Path f = dir.resolve("in.npy");
    Files.write(f, bytes);
    Npy.Array a;
    try {
      a = Npy.read(f);
    } catch (IOException e) {
      String m = e.getMessage();
      assertTrue(m != null && m.startsWith(f.toString()), "the error names the file: " + m);
      assertFalse(m.contains("\n"), "one line: " + m);
      return;
    }
    long product = 1;
    for (int d : a.shape()) product *= d;
    assertEquals(product, Array.getLength(a.data()));
    Npy.Layout l = Npy.layout(f);
    assertEquals(product, l.count());
  }
}
