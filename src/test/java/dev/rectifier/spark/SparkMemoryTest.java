package dev.rectifier.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.bench.SparkMemory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Wide rows under a small heap, each query in a JVM of its own (local[2]) with the -Xmx given: rows
 * of a 32 KiB string and 16 floats ({@code SELECT payload, rectifier_forward('relu', x)}), which a
 * part of 65,536 whole rows held in 2 GiB, pass in 512 MiB; rows of 16M floats pass in the heap
 * where Spark's own {@code transform} of the same function does (the operator holds a row's input
 * once, computes in place and gives the result out as it is asked for). Both ran out of memory
 * before parts were bounded in bytes.
 */
class SparkMemoryTest {

  /** Runs {@link SparkMemory} with {@code xmx}; its one line of output. */
  private static String run(String xmx, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(Arrays.asList(System.getProperty("spark.java.options", "").trim().split("\\s+")));
    cmd.addAll(
        List.of(
            "--add-modules",
            "jdk.incubator.vector",
            "-Xmx" + xmx,
            "-XX:+ExitOnOutOfMemoryError",
            "-cp",
            System.getProperty("java.class.path"),
            SparkMemory.class.getName()));
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

  /**
   * Eight rows of 16M floats (64 MiB each), two tasks at a time: 1.5 GiB, the least heap that
   * Spark's own transform of relu passes in on this query (peak live heap 1,533 MiB there, measured
   * with SparkMemory), and where the operator that held seven copies of a row ran out.
   */
  @Test
  void rowsOf16MFloatsPassInTheHeapOfSparksOwnTransform() throws Exception {
    run("1536m", "wide", "rectifier", "8");
  }
}
