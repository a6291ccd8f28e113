package dev.rectifier.cli;

import dev.rectifier.FaultyEngine;
import java.io.PrintWriter;
import java.util.Arrays;

/**
 * The command-line tool on an engine whose OpenCL backend is the stand-in {@code FaultyDevice}, for
 * {@link CliFaultIT}'s real processes: {@code FaultyTool FAULT FAIL_AT rectifier-args...}, where
 * FAULT is once_mid_call, lost or out_of_memory.
 */
public final class FaultyTool {
  private FaultyTool() {}

  public static void main(String[] args) {
    String fault = args[0];
    int failAt = Integer.parseInt(args[1]);
    System.exit(
        Main.run(
            backend -> FaultyEngine.open(backend, fault, failAt),
            new PrintWriter(System.out, true),
            new PrintWriter(System.err, true),
            Arrays.copyOfRange(args, 2, args.length)));
  }
}
