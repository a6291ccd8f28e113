package dev.rectifier.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
  @TempDir Path dir;

  @Test
  void roundTripsBothTypesAndShapes() throws IOException {
    Path f = dir.resolve("a.npy");
    float[] a = {1, -0f, Float.NaN, Float.MIN_VALUE, 3e38f, -7};
    Npy.write(f, new int[] {2, 3}, a);
    Npy.Array r = Npy.read(f);
    assertEquals(DType.FLOAT32, r.dtype());
    assertArrayEquals(new int[] {2, 3}, r.shape());
    assertArrayEquals(a, (float[]) r.data());
    assertEquals(0, (Files.size(f) - 24) % 64, "data aligned to 64 bytes");
    double[] d = {Math.PI};
    Npy.write(f, new int[] {}, d);
    r = Npy.read(f);
    assertArrayEquals(new int[] {}, r.shape());
    assertArrayEquals(d, (double[]) r.data());
  }

  @Test
  void readsVersion2HeadersAndBigEndianData() throws IOException {
    String dict = "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }";
    String header = dict + " ".repeat(128 - 12 - dict.length() - 1) + "\n";
    ByteBuffer b = ByteBuffer.allocate(12 + header.length() + 16);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0});
    b.order(ByteOrder.LITTLE_ENDIAN).putInt(header.length());
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    b.order(ByteOrder.BIG_ENDIAN).putDouble(1.5).putDouble(-2);
    Path f = dir.resolve("v2.npy");
    Files.write(f, b.array());
    Npy.Array r = Npy.read(f);
    assertArrayEquals(new double[] {1.5, -2}, (double[]) r.data());
  }

  @Test
  void aHeaderThatLiesAboutItsSizeCostsNothing() throws IOException {
    Path f = dir.resolve("liar.npy");
    Files.write(f, CliIT.npyBytes("<f8", "(1099511627776, 1024)", false, 8));
    Npy.NpyException e = assertThrows(Npy.NpyException.class, () -> Npy.read(f));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    Files.write(f, CliIT.npyBytes("<f4", "(9223372036854775807, 4)", false, 8));
    e = assertThrows(Npy.NpyException.class, () -> Npy.read(f));
    assertTrue(e.getMessage().contains("overflows"), e.getMessage());
  }

  @Test
  void theAtomicWriteReplacesAndLeavesNoTemporaryFile() throws IOException {
    Path f = dir.resolve("y.npy");
    Files.writeString(f, "old");
    Npy.writeAtomically(f, new int[] {1}, new float[] {2});
    assertArrayEquals(new float[] {2}, (float[]) Npy.read(f).data());
    Path fresh = dir.resolve("fresh.npy");
    Npy.writeAtomically(fresh, new int[] {1}, new float[] {2});
    Path plain = Files.createFile(dir.resolve("plain"));
    assertEquals(
        Files.getPosixFilePermissions(plain),
        Files.getPosixFilePermissions(fresh),
        "an output gets the permissions of any new file, not a temporary file's 0600");
    Files.delete(plain);
    Files.delete(fresh);
    try (var s = Files.list(dir)) {
      assertEquals(1, s.count());
    }
  }
}
