package dev.rectifier.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.Activation;
import dev.rectifier.Rectifier;
import dev.rectifier.cli.CliIT.Result;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outputs that are not plain files, and runs that stop half-way, through the packaged tool in real
 * processes: a FIFO or a character device is written into and kept, a symbolic link is written
 * through, a read-only file is refused, a run with two outputs writes both or neither, and a
 * SIGTERM or SIGINT during a streamed run removes its temporary file and leaves the old output; and
 * parameters that would compute something other than what was asked are refused.
 */
class CliSafetyIT {
  @TempDir Path dir;

  private static final float[] X = {-2f, -0.5f, -0f, 0f, 1.5f, 3f, Float.NaN, 7f};

  private Path input() throws Exception {
    Path x = dir.resolve("x.npy");
    Npy.write(x, new int[] {X.length}, X);
    return x;
  }

  private static float[] relu() {
    float[] y = new float[X.length];
    try (Rectifier r = Rectifier.create("cpu")) {
      r.forward(Activation.relu(), X, y);
    }
    return y;
  }

  /** The files of the test's folder, hidden ones included. */
  private List<String> files() throws Exception {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static void sh(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), String.join(" ", cmd));
  }

  @Test
  void aFifoIsWrittenIntoAndStaysAFifo() throws Exception {
    Path x = input();
    Path fifo = dir.resolve("out.fifo");
    sh("mkfifo", fifo.toString());
    CompletableFuture<byte[]> reader =
        CompletableFuture.supplyAsync(
            () -> {
              try (InputStream in = Files.newInputStream(fifo)) {
                return in.readAllBytes();
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    Result r = CliIT.run("forward", "relu", "--input", x, "--output", fifo, "--backend", "cpu");
    assertEquals(0, r.code(), r.err());
    byte[] got = reader.get(60, TimeUnit.SECONDS);
    assertTrue(Files.exists(fifo) && !Files.isRegularFile(fifo), "still a FIFO");
    Path copy = dir.resolve("read.npy");
    Files.write(copy, got);
    assertArrayEquals(relu(), (float[]) Npy.read(copy).data(), "the reader got the whole file");
    assertEquals(List.of("out.fifo", "read.npy", "x.npy"), files(), "no temporary file");
  }

  @Test
  void aCharacterDeviceIsWrittenIntoAndKept() throws Exception {
    Path x = input();
    Path dev = copyOfDevNull("null");
    for (String chunk : List.of("0", "3")) {
      List<Object> args =
          new ArrayList<>(List.of("forward", "relu", "--input", x, "--output", dev));
      if (!chunk.equals("0")) args.addAll(List.of("--chunk-elements", chunk));
      Result r = CliIT.run(args.toArray());
      assertEquals(0, r.code(), r.err());
      assertFalse(Files.isRegularFile(dev, LinkOption.NOFOLLOW_LINKS), "still a device");
      assertEquals("1,3", majorMinor(dev), "the same device");
    }
  }

  /**
   * A copy of /dev/null named {@code name} in the test's folder (mknod needs root, which CI runs
   * as), so that a tool that replaced it would not replace the system's; without root, /dev/null
   * itself, which a tool without root cannot replace.
   */
  private Path copyOfDevNull(String name) throws Exception {
    Path dev = dir.resolve(name);
    Process mknod = new ProcessBuilder("mknod", dev.toString(), "c", "1", "3").start();
    assertTrue(mknod.waitFor(30, TimeUnit.SECONDS));
    if (mknod.exitValue() == 0) return dev;
    System.out.println("CliSafetyIT: mknod needs root; the character device cases use /dev/null");
    return Path.of("/dev/null");
  }

  /** A device's major and minor numbers, as stat gives them. */
  private static String majorMinor(Path device) throws Exception {
    Process p = new ProcessBuilder("stat", "-c", "%t,%T", device.toString()).start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    return out;
  }

  @Test
  void aSymbolicLinkIsWrittenThroughAndKept() throws Exception {
    Path x = input();
    Path target = dir.resolve("real.npy");
    Npy.write(target, new int[] {1}, new float[] {42f});
    Path link = dir.resolve("link.npy");
    Files.createSymbolicLink(link, Path.of("real.npy"));
    Result r = CliIT.run("forward", "relu", "--input", x, "--output", link);
    assertEquals(0, r.code(), r.err());
    assertTrue(Files.isSymbolicLink(link), "the link is kept");
    assertArrayEquals(relu(), (float[]) Npy.read(target).data(), "its target holds the result");
    assertEquals(List.of("link.npy", "real.npy", "x.npy"), files());
  }

  @Test
  void aReadOnlyOutputIsRefusedAndARunWithTwoOutputsWritesNeither() throws Exception {
    Path x = input();
    Path y = dir.resolve("y.npy");
    Npy.write(y, new int[] {1}, new float[] {42f});
    Path m = dir.resolve("m.npy");
    Npy.write(m, new int[] {1}, new int[] {7});
    Files.setPosixFilePermissions(m, PosixFilePermissions.fromString("r--r--r--"));
    byte[] yBefore = Files.readAllBytes(y);
    Result r = CliIT.run("forward", "relu", "--input", x, "--output", y, "--mask-out", m);
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(
        r.err().contains("--mask-out: " + m + " is read-only (r--r--r--); make it writable"),
        r.err());
    assertArrayEquals(yBefore, Files.readAllBytes(y), "the first output is as it was");
    assertEquals(List.of("m.npy", "x.npy", "y.npy"), files(), "no temporary file");

    r = CliIT.run("forward", "relu", "--input", x, "--output", m);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--output: " + m + " is read-only"), r.err());
  }

  /**
   * A streamed run stopped by {@code signal} once its temporary file is there: it exits {@code
   * code} with one line, the temporary file is gone and the old output is as it was.
   */
  private void stoppedBy(String signal, int code) throws Exception {
    Path x = dir.resolve("big.npy");
    int n = 1 << 24; // in chunks of 64: seconds of work, time enough to stop it
    float[] big = new float[n];
    for (int i = 0; i < n; i++) big[i] = (i % 1000) * 0.01f - 5f;
    Npy.write(x, new int[] {n}, big);
    Path y = dir.resolve("y.npy");
    Npy.write(y, new int[] {1}, new float[] {42f});
    byte[] before = Files.readAllBytes(y);
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                System.getProperty("rectifier.jar", "target/rectifier.jar"),
                "forward",
                "gelu",
                "--backend",
                "cpu",
                "--chunk-elements",
                "64",
                "--input",
                x.toString(),
                "--output",
                y.toString()));
    Path err = dir.resolve("err.txt");
    Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (files().stream().noneMatch(f -> f.startsWith(".y.npy.") && f.endsWith(".tmp"))) {
      assertTrue(p.isAlive(), "the run ended before it could be stopped");
      assertTrue(System.nanoTime() < deadline, "no temporary file appeared");
      Thread.sleep(20);
    }
    sh("kill", "-" + signal, Long.toString(p.pid()));
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(code, p.exitValue());
    List<String> lines = Files.readString(err).strip().lines().toList();
    assertEquals(1, lines.size(), String.join("\n", lines));
    assertEquals(
        "rectifier: stopped before the outputs were complete; every output was left as it was",
        lines.get(0));
    Files.delete(err);
    assertEquals(List.of("big.npy", "y.npy"), files(), "the temporary file is gone");
    assertArrayEquals(before, Files.readAllBytes(y), "the old output is as it was");
  }

  @Test
  void aSigtermDuringAStreamedRunRemovesItsTemporaryFile() throws Exception {
    stoppedBy("TERM", 143);
  }

  @Test
  void aSigintDuringAStreamedRunRemovesItsTemporaryFile() throws Exception {
    stoppedBy("INT", 130);
  }

  /** The tool on {@code args} exits 2 with one line holding {@code message}, writing nothing. */
  private void refused(String message, Object... args) throws Exception {
    List<String> before = files();
    Result r = CliIT.run(args);
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains(message), r.err());
    assertEquals(before, files(), "nothing written");
  }

  @Test
  void parametersThatWouldComputeSomethingElseAreRefused() throws Exception {
    Path x = input();
    Path y = dir.resolve("y.npy");
    refused(
        "--param slope=1.0E39 is not finite in float32, the input's type; give a value within"
            + " +-3.4028235E38",
        "forward",
        "leaky_relu",
        "--param",
        "slope=1e39",
        "--input",
        x,
        "--output",
        y);
    refused(
        "--param alpha=-1.0E39 is not finite in float32",
        "backward",
        "elu",
        "--param",
        "alpha=-1e39",
        "--input",
        x,
        "--grad-output",
        x,
        "--grad-input",
        y);
    refused(
        "--param slope is given twice; give each parameter once",
        "forward",
        "leaky_relu",
        "--param",
        "slope=0.1",
        "--param",
        "slope=0.2",
        "--input",
        x,
        "--output",
        y);
    refused(
        "maxout: pieces is 1.0E30, more than a channel axis can hold; give a whole number from 1"
            + " to 2147483647",
        "forward",
        "maxout",
        "--param",
        "pieces=1e30",
        "--input",
        x,
        "--output",
        y);
    refused(
        "the channel axis is -2147483648, out of range for any tensor",
        "forward",
        "crelu",
        "--channel-axis",
        "-2147483648",
        "--input",
        x,
        "--output",
        y);
    // float64 holds 1e39: computed, not refused
    Path x64 = dir.resolve("x64.npy");
    Npy.write(x64, new int[] {2}, new double[] {-1, 1});
    Result r =
        CliIT.run("forward", "leaky_relu", "--param", "slope=1e39", "--input", x64, "--output", y);
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(new double[] {-1e39, 1}, (double[]) Npy.read(y).data());
  }

  @Test
  void benchRefusesWhatItCannotDoBeforeItRunsAndWritesItsPlotAsAnyFile() throws Exception {
    long start = System.nanoTime();
    refused(
        "--plot: cannot write a file beside /proc/x.png",
        "bench",
        "--sizes",
        "4096",
        "--time",
        "5",
        "--plot",
        "/proc/x.png");
    assertTrue(
        System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20),
        "refused before timing anything (a run here takes more than 20 s)");
    refused(
        "--functions: maxout needs the parameter 'pieces', which bench does not take",
        "bench",
        "--functions",
        "relu,maxout",
        "--sizes",
        "4096");
    Path png = dir.resolve("bench.png");
    Result r =
        CliIT.run(
            "bench",
            "--functions",
            "relu",
            "--sizes",
            "4096",
            "--time",
            "0.1",
            "--backend",
            "cpu",
            "--plot",
            png);
    assertEquals(0, r.code(), r.err());
    Path fresh = Files.createFile(dir.resolve("fresh"));
    assertEquals(
        Files.getPosixFilePermissions(fresh),
        Files.getPosixFilePermissions(png),
        "a new file's permissions (the umask's), not a temporary file's 0600");
    assertFalse(r.err().contains("forced"), r.err());
  }

  /**
   * A link in a symlinked directory whose target climbs with "..": the OS resolves ".." from the
   * link's real directory, and so does the tool (not the text of the path, which led to the input).
   */
  @Test
  void aLinkThroughASymlinkedDirectoryLeadsWhereTheSystemSaysAndOutputsStayApart()
      throws Exception {
    Path x = input();
    byte[] xBefore = Files.readAllBytes(x);
    Files.createDirectories(dir.resolve("real/sub"));
    Files.createSymbolicLink(dir.resolve("d"), Path.of("real/sub"));
    Files.createSymbolicLink(dir.resolve("real/sub/out.npy"), Path.of("../x.npy"));
    Result r = CliIT.run("forward", "relu", "--input", x, "--output", dir.resolve("d/out.npy"));
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(xBefore, Files.readAllBytes(x), "the input is untouched");
    assertArrayEquals(relu(), (float[]) Npy.read(dir.resolve("real/x.npy")).data());
    assertTrue(Files.isSymbolicLink(dir.resolve("real/sub/out.npy")), "the link is kept");

    // two outputs that are one file
    Path y = dir.resolve("y.npy");
    Files.createSymbolicLink(dir.resolve("m.npy"), Path.of("y.npy"));
    refused(
        "--mask-out: " + dir.resolve("m.npy") + " is the file --output writes too",
        "forward",
        "relu",
        "--input",
        x,
        "--output",
        y,
        "--mask-out",
        dir.resolve("m.npy"));

    // a private file stays private
    Path priv = dir.resolve("priv.npy");
    Npy.write(priv, new int[] {1}, new float[] {1f});
    Files.setPosixFilePermissions(priv, PosixFilePermissions.fromString("rw-------"));
    r = CliIT.run("forward", "relu", "--input", x, "--output", priv);
    assertEquals(0, r.code(), r.err());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(priv)));

    refused("--plot: " + dir + " is a directory", "bench", "--sizes", "4096", "--plot", dir);

    // a device beside a new file: two outputs, one of them a stream
    Path m = dir.resolve("new-mask.npy");
    Path device = copyOfDevNull("null2");
    r = CliIT.run("forward", "relu", "--input", x, "--output", device, "--mask-out", m);
    assertEquals(0, r.code(), r.err());
    assertEquals(1, ((int[]) Npy.read(m).data()).length, "the mask's one word is written");
    assertFalse(Files.isRegularFile(device), "the device is kept");
  }
}
