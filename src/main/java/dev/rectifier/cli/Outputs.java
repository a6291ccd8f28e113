package dev.rectifier.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The outputs of one run, written all or nothing: each regular file is written to a temporary file
 * beside it, and the temporary files are renamed over their targets only when every output is
 * complete ({@link #commit}); closing without a commit removes them, so a failed run leaves every
 * target as it was.
 *
 * <p>A target that exists and is not a regular file (a character device such as {@code /dev/null},
 * a FIFO, a socket) is written into directly, as a stream, and never replaced: it cannot be all or
 * nothing, and replacing it would lose the node (as root, the system's {@code /dev/null}). A
 * symbolic link is written through: its final target is replaced, the link kept. A file without its
 * owner's write bit is refused, even for root: someone made it read-only.
 *
 * <p>Interrupts: a SIGINT or SIGTERM (the JVM's shutdown, exit 130 or 143) removes the temporary
 * files of every run not yet committed and says so in one line. The set of those files is
 * process-wide because a shutdown hook is: the one place the JVM tells a program it is ending. Not
 * thread-safe; one run, one instance.
 */
final class Outputs implements AutoCloseable {

  /** Temporary files of runs in progress in this process, for the shutdown hook. */
  private static final Set<Path> IN_PROGRESS = ConcurrentHashMap.newKeySet();

  /** Set by the shutdown hook: no commit starts after it. */
  private static volatile boolean stopping;

  static {
    Runtime.getRuntime()
        .addShutdownHook(new Thread(Outputs::interrupted, "rectifier-remove-unfinished"));
  }

  /** One output: where the user pointed, and where it is written. */
  private record Output(String option, Path target, Path written, boolean direct) {}

  private final List<Output> outputs = new ArrayList<>();

  /**
   * Takes {@code target} (given as {@code option}) among this run's outputs; returns the path to
   * write it to: a new temporary file beside it, or the target itself when it is a device, a FIFO
   * or a socket.
   *
   * @throws IllegalArgumentException when the target is read-only
   */
  Path add(String option, Path target) throws IOException {
    if (Files.isDirectory(target)) {
      throw new IllegalArgumentException(
          option + ": " + target + " is a directory; give a file name");
    }
    // what the path leads to, links followed by the OS (so /dev/stdout reaches fd 1)
    if (Files.exists(target) && !Files.isRegularFile(target)) {
      outputs.add(new Output(option, target, target, true));
      return target;
    }
    // a regular file is replaced where it is, the links to it kept; a dangling link makes its
    // target
    Path real;
    try {
      real = Files.exists(target) ? target.toRealPath() : throughLinks(target);
    } catch (IOException e) {
      throw new IOException(option + ": " + target + ": " + describe(e), e);
    }
    for (Output o : outputs) {
      if (o.target().equals(real)
          || (o.direct() && Files.exists(real) && Files.isSameFile(o.target(), real))) {
        throw new IllegalArgumentException(
            option
                + ": "
                + target
                + " is the file "
                + o.option()
                + " writes too; give each output a file of its own");
      }
    }
    if (Files.exists(real)) refuseReadOnly(option, target, real);
    Path tmp;
    try {
      tmp = Npy.temporaryBeside(real);
    } catch (IOException e) {
      throw new IOException(
          option + ": cannot write a file beside " + target + ": " + describe(e), e);
    }
    IN_PROGRESS.add(tmp);
    outputs.add(new Output(option, real, tmp, false));
    // the replaced file keeps its mode: a private file stays private
    if (Files.exists(real)) {
      try {
        Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(real));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system: the new file's own mode
      }
    }
    return tmp;
  }

  /**
   * Whether the process is being stopped (SIGINT, SIGTERM): a run's own error then is only the echo
   * of its files being removed, and the shutdown hook's line says what happened.
   */
  static boolean stopping() {
    return stopping;
  }

  /** Whether {@code written}, from {@link #add}, is a target written into as a stream. */
  boolean direct(Path written) {
    return outputs.stream().anyMatch(o -> o.direct() && o.written().equals(written));
  }

  /**
   * Where a path that does not exist yet leads, links followed as the OS follows them: each hop's
   * relative target resolved against the real directory of its link (not by removing ".." as text,
   * which a symlinked directory would make wrong).
   */
  private static Path throughLinks(Path target) throws IOException {
    Path p = target.toAbsolutePath();
    for (int depth = 0; Files.isSymbolicLink(p); depth++) {
      if (depth > 40) throw new IOException("a loop of symbolic links");
      p = p.getParent().toRealPath().resolve(Files.readSymbolicLink(p));
    }
    return p.getParent().toRealPath().resolve(p.getFileName());
  }

  private static void refuseReadOnly(String option, Path target, Path real) throws IOException {
    boolean writable = Files.isWritable(real);
    String mode = "";
    try {
      PosixFileAttributes a =
          Files.readAttributes(real, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      writable &= a.permissions().contains(PosixFilePermission.OWNER_WRITE);
      mode = " (" + PosixFilePermissions.toString(a.permissions()) + ")";
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system: what the OS says of access is all there is
    }
    if (!writable) {
      throw new IllegalArgumentException(
          option
              + ": "
              + target
              + " is read-only"
              + mode
              + "; make it writable (chmod u+w) or give another file");
    }
  }

  /**
   * Puts every output in place: each temporary file renamed over its target. Call it once every
   * output is complete.
   */
  void commit() throws IOException {
    // under the lock the shutdown hook takes: a stop comes before the renames or after them all
    synchronized (IN_PROGRESS) {
      if (stopping) throw new IOException("stopped before the outputs were put in place");
      List<String> done = new ArrayList<>();
      for (Output o : outputs) {
        if (o.direct()) continue;
        try {
          Npy.moveOver(o.written(), o.target());
        } catch (IOException e) {
          throw new IOException(
              o.option()
                  + ": "
                  + o.target()
                  + ": "
                  + describe(e)
                  + (done.isEmpty() ? "" : "; already replaced: " + String.join(", ", done)),
              e);
        }
        IN_PROGRESS.remove(o.written());
        done.add(o.target().toString());
      }
    }
  }

  /** An I/O error in the operating system's words, without Java's class name. */
  static String describe(IOException e) {
    // the file exceptions' message is only the path; their kind is the cause
    if (e instanceof AccessDeniedException) return "permission denied";
    if (e instanceof NoSuchFileException) return "no such file or directory";
    if (e instanceof FileSystemException f && f.getReason() != null) return f.getReason();
    String m = e.getMessage();
    return m == null ? e.getClass().getSimpleName() : m;
  }

  /** Removes the temporary files of a run that did not commit. */
  @Override
  public void close() throws IOException {
    IOException first = null;
    for (Output o : outputs) {
      if (o.direct()) continue; // after a commit, the temporary files are gone already
      try {
        Files.deleteIfExists(o.written());
      } catch (IOException e) {
        if (first == null) first = e;
        else first.addSuppressed(e);
      }
      IN_PROGRESS.remove(o.written());
    }
    if (first != null) throw first;
  }

  /** The shutdown hook: removes what unfinished runs wrote, and says so when there was any. */
  private static void interrupted() {
    List<Path> left;
    synchronized (IN_PROGRESS) {
      stopping = true;
      left = new ArrayList<>(IN_PROGRESS);
    }
    boolean removed = false;
    for (Path p : left) {
      try {
        removed |= Files.deleteIfExists(p);
      } catch (IOException e) {
        // the JVM is ending; the line below names what could not be removed
      }
    }
    List<Path> stayed = left.stream().filter(Files::exists).toList();
    // none there: the run had just put them in place (renamed) when it was stopped
    if (!removed && stayed.isEmpty()) return;
    PrintStream err = System.err;
    err.println(
        "rectifier: stopped before the outputs were complete; "
            + (stayed.isEmpty()
                ? "every output was left as it was"
                : "could not remove " + stayed + "; delete it"));
    err.flush();
  }
}
