package dev.rectifier.spark;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The command line of a JVM of its own for a Spark program, as spark-submit would start it. */
final class SparkJvm {
  private SparkJvm() {}

  /**
   * This JVM's java with Spark's --add-opens (the pom's spark.java.options), the Vector API, the
   * test class path, {@code options} and {@code main}; the caller adds the program's arguments.
   */
  static List<String> command(Class<?> main, String... options) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(Arrays.asList(System.getProperty("spark.java.options", "").trim().split("\\s+")));
    cmd.addAll(List.of("--add-modules", "jdk.incubator.vector"));
    cmd.addAll(Arrays.asList(options));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
    return cmd;
  }
}
