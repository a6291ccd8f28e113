package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Spark is a provided dependency of dev.rectifier.spark alone: no class outside that package names
 * a Spark or Scala class in its constant pool, so the core, the CLI and the backends load none (the
 * CLI tests run the packaged jar without Spark on the class path).
 */
class CoreWithoutSparkTest {

  @Test
  void noCoreClassNamesSparkOrScala() throws IOException, Exception {
    Path classes =
        Path.of(Rectifier.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path spark = classes.resolve("dev/rectifier/spark");
    List<Path> core;
    try (Stream<Path> all = Files.walk(classes.resolve("dev/rectifier"))) {
      core = all.filter(p -> p.toString().endsWith(".class") && !p.startsWith(spark)).toList();
    }
    assertTrue(core.size() > 50, "the core's classes were found: " + core.size());
    for (Path p : core) {
      // class names in the constant pool are modified UTF-8, plain ASCII for these
      String pool = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
      for (String banned : new String[] {"org/apache/spark/", "scala/"}) {
        assertTrue(!pool.contains(banned), classes.relativize(p) + " names " + banned);
      }
    }
  }
}
