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
import java.util.List;
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

  /** A version 1 file whose header dict is {@code dict}, with {@code data} after it. */
  private Path withHeader(String name, String dict, byte[] data) throws IOException {
    int total = ((10 + dict.length() + 1 + 63) / 64) * 64;
    String header = dict + " ".repeat(total - 10 - dict.length() - 1) + "\n";
    ByteBuffer b = ByteBuffer.allocate(10 + header.length() + data.length);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    b.order(ByteOrder.LITTLE_ENDIAN).putShort((short) header.length());
    b.put(header.getBytes(StandardCharsets.ISO_8859_1)).put(data);
    Path f = dir.resolve(name);
    Files.write(f, b.array());
    return f;
  }

  /** The header is read as NumPy's literal parser reads it, and stricter where it is ambiguous. */
  @Test
  void theHeaderIsPythonLiteralsWithEachKeyOnce() throws IOException {
    byte[] two =
        ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array();
    // what NumPy writes, and what Python 2 wrote (a long's L), double quotes, no trailing comma
    for (String ok :
        List.of(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L,)}",
            "{'shape': (1, 2), 'fortran_order': False, 'descr': '<f4'}")) {
      assertArrayEquals(
          new float[] {1.5f, -2f}, (float[]) Npy.read(withHeader("ok.npy", ok, two)).data(), ok);
    }
    for (String[] bad :
        new String[][] {
          {
            "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            "the key 'descr' is given twice"
          },
          {
            "{'descr': '<f4', 'fortran_order': bool(0), 'shape': (2,)}",
            "a value that is not a string, True, False or a tuple of whole numbers"
          },
          {
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 'x'}",
            "NumPy writes (and reads) exactly 'descr', 'fortran_order' and 'shape'"
          },
          {
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
            "a parenthesised number, not a tuple"
          },
          {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} + {}", "text after the dict"},
          {
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
            "a tuple item that is not a whole number"
          },
        }) {
      Path f = withHeader("bad.npy", bad[0], two);
      Npy.NpyException e = assertThrows(Npy.NpyException.class, () -> Npy.read(f), bad[0]);
      assertTrue(e.getMessage().contains("is malformed"), e.getMessage());
      assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
    }
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
