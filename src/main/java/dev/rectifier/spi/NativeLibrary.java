package dev.rectifier.spi;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * Finds a shared library the way the dynamic loader would, before a JNI binding tries to load it: a
 * binding that fails may print to stdout (JOCL does), or take the process down (a libcuda too old
 * for a symbol it calls), where a reason is what we want. Linux only; elsewhere every answer is
 * "cannot tell" (null), and the binding's own {@link LinkageError} is the reason.
 */
public final class NativeLibrary {
  private NativeLibrary() {}

  /** Whether this is Linux, the only system these checks know. */
  public static boolean linux() {
    return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
  }

  /** The directories the loader searches: LD_LIBRARY_PATH, /etc/ld.so.conf.d, the standard ones. */
  public static List<Path> searchPath() {
    LinkedHashSet<Path> dirs = new LinkedHashSet<>();
    String ld = System.getenv("LD_LIBRARY_PATH");
    if (ld != null) for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(Path.of(d));
    try (var confs = Files.newDirectoryStream(Path.of("/etc/ld.so.conf.d"), "*.conf")) {
      for (Path conf : confs) {
        for (String line : Files.readAllLines(conf)) {
          line = line.strip();
          if (line.startsWith("/")) dirs.add(Path.of(line));
        }
      }
    } catch (IOException | RuntimeException e) {
      // no ld.so.conf.d: the standard directories below still apply
    }
    for (String d :
        new String[] {
          "/lib/x86_64-linux-gnu",
          "/usr/lib/x86_64-linux-gnu",
          "/lib/aarch64-linux-gnu",
          "/usr/lib/aarch64-linux-gnu",
          "/lib64",
          "/usr/lib64",
          "/lib",
          "/usr/lib",
          "/usr/local/lib"
        }) {
      dirs.add(Path.of(d));
    }
    return new ArrayList<>(dirs);
  }

  /**
   * Why {@code file} (e.g. {@code libcuda.so.1}) cannot be loaded, or null when an ELF file of that
   * name is in the search path (or this is not Linux). Looked at, not loaded.
   *
   * @param install what to do about it, appended to the reason
   */
  public static String problem(String file, String what, String install) {
    if (!linux()) return null;
    List<Path> dirs = searchPath();
    for (Path dir : dirs) {
      Path lib = dir.resolve(file);
      if (!Files.exists(lib)) continue;
      try (InputStream in = Files.newInputStream(lib)) {
        byte[] head = in.readNBytes(4);
        boolean elf =
            head.length == 4
                && head[0] == 0x7F
                && head[1] == 'E'
                && head[2] == 'L'
                && head[3] == 'F';
        return elf
            ? null
            : "the " + what + " " + lib + " cannot be loaded (not a shared library); " + install;
      } catch (IOException | SecurityException e) {
        return "the " + what + " " + lib + " cannot be loaded (" + e.getMessage() + "); " + install;
      }
    }
    return "no "
        + what
        + " ("
        + file
        + ") where the loader looks (LD_LIBRARY_PATH, /etc/ld.so.conf.d, /usr/lib and the other"
        + " standard directories); "
        + install;
  }
}
