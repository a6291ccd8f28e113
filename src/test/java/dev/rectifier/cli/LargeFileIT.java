package dev.rectifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rectifier.DType;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file of more than 2^31 elements through the tool's streaming path, in a real process: a float32
 * {@code .npy} of shape (2, 1073741829), 2^31 + 10 elements (8 GiB, sparse on disk: zeros but for
 * chosen values at chosen places, around 2^31 among them), through {@code forward leaky_relu}. The
 * output must hold f of each chosen value at its place and zeros everywhere else: a chunk written
 * at the wrong offset, or a count cut to 32 bits, shows. Needs 8.6 GB of free disk for the output.
 */
class LargeFileIT {
  @TempDir Path dir;

  @Test
  void aFileOfMoreThan2To31ElementsStreamsThroughForward() throws Exception {
    long[] shape = {2, 1073741829};
    long n = shape[0] * shape[1];
    assertTrue(n > (1L << 31));
    long need = n * 4 + (1L << 30);
    long free = Files.getFileStore(dir).getUsableSpace();
    assertTrue(
        free > need, "LargeFileIT needs " + need + " bytes of free disk in " + dir + "; " + free);

    // chosen places: the ends, the ends of the first 2^31, the chunk edges around 2^31
    Map<Long, Float> chosen = new TreeMap<>();
    float v = -3.5f;
    for (long at :
        new long[] {
          0,
          1,
          (1L << 22) - 1,
          1L << 22,
          Integer.MAX_VALUE - 1,
          Integer.MAX_VALUE,
          1L << 31,
          (1L << 31) + 1,
          shape[1] - 1,
          shape[1],
          n - 2,
          n - 1
        }) {
      chosen.put(at, v);
      v = -v * 1.25f;
    }
    Path x = dir.resolve("x.npy");
    byte[] header = Npy.header(DType.FLOAT32, shape);
    try (RandomAccessFile f = new RandomAccessFile(x.toFile(), "rw")) {
      f.setLength(header.length + n * 4); // sparse: no disk for the zeros
      f.write(header);
      ByteBuffer one = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      for (Map.Entry<Long, Float> e : chosen.entrySet()) {
        one.clear();
        one.putFloat(e.getValue()).flip();
        f.getChannel().write(one, header.length + e.getKey() * 4);
      }
    }
    Path y = dir.resolve("y.npy");
    long start = System.nanoTime();
    CliIT.Result r =
        CliIT.run(
            Map.of(), "forward", "leaky_relu", "--param", "slope=0.5", "--input", x, "--output", y);
    double seconds = (System.nanoTime() - start) / 1e9;
    assertEquals(0, r.code(), r.err());
    System.out.printf(Locale.ROOT, "LargeFileIT: %d elements in %.1f s: %s", n, seconds, r.err());

    Npy.Layout ly = Npy.layout(y);
    assertEquals(n, ly.count());
    assertEquals(DType.FLOAT32, ly.dtype());
    try (FileChannel c = FileChannel.open(y, StandardOpenOption.READ)) {
      ByteBuffer io = ByteBuffer.allocateDirect(1 << 26).order(ly.order());
      long at = 0;
      while (at < n) {
        io.clear().limit((int) Math.min(io.capacity(), (n - at) * 4));
        while (io.hasRemaining()) {
          if (c.read(io, ly.dataStart() + at * 4 + io.position()) < 0) fail("y ended at " + at);
        }
        io.flip();
        FloatBuffer fs = io.asFloatBuffer();
        for (int i = 0; i < fs.limit(); i++, at++) {
          float got = fs.get(i);
          Float in = chosen.get(at);
          float want = in == null ? 0f : in > 0 ? in : in * 0.5f;
          if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(want)) {
            fail("y[" + at + "] is " + got + ", want " + want);
          }
        }
      }
    }
  }
}
