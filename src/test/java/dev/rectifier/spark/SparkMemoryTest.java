package dev.rectifier.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.bench.SparkMemory;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Wide rows under a small heap, each query in a JVM of its own (local[2]) with the -Xmx given: rows
 * of a 32 KiB string and 16 floats ({@code SELECT payload, rectifier_forward('relu', x)}), which a
 * part of 65,536 whole rows held in 2 GiB (it ran out of memory before parts were bounded in
 * bytes), pass in 512 MiB; rows of 16M floats keep within twice the peak heap of Spark's own {@code
 * transform} of the same function.
 */
class SparkMemoryTest {

  /** Runs {@link SparkMemory} with {@code xmx}; its one line of output. */
  private static String run(String xmx, String... args) throws Exception {
    List<String> cmd =
        SparkJvm.command(SparkMemory.class, "-Xmx" + xmx, "-XX:+ExitOnOutOfMemoryError");
    cmd.addAll(Arrays.asList(args));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the query finished");
    assertEquals(0, p.exitValue(), String.join(" ", args) + " in -Xmx" + xmx + ": " + out);
    System.out.println(out);
    return out;
  }

  @Test
  void rowsOfAStringPayloadPassInAHeapSmallerThanAPartOfWholeRows() throws Exception {
    // 30,000 rows of 32 KiB: 983 MB, which one part of whole rows held at once
    String line = run("512m", "payload", "rectifier", "30000");
    assertTrue(line.startsWith("payload rectifier 30000 rows: "), line);
  }

  /** The peak live heap a {@link SparkMemory} line reports, in MiB. */
  private static long peak(String line) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("peak live heap (\\d+) MiB").matcher(line);
    assertTrue(m.find(), line);
    return Long.parseLong(m.group(1));
  }

  /**
   * Eight rows of 16M floats (64 MiB each), two tasks at a time, in a heap roomy enough for both:
   * the operator's peak live heap is within twice that of Spark's own transform of relu on the same
   * query (measured 1,242 against 1,533-1,907 MiB: it holds a row's input once, computes in place,
   * and makes the result as the row is given out).
   */
  @Test
  void rowsOf16MFloatsKeepWithinTwiceTheHeapOfSparksOwnTransform() throws Exception {
    long transform = peak(run("3g", "wide", "transform", "8"));
    long rectifier = peak(run("3g", "wide", "rectifier", "8"));
    assertTrue(
        rectifier <= 2 * transform,
        "rectifier_forward " + rectifier + " MiB against transform " + transform + " MiB");
  }
}
