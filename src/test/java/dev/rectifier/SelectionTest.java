package dev.rectifier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rectifier.cpu.CpuProvider;
import dev.rectifier.spi.Backend;
import dev.rectifier.spi.BackendConfig;
import dev.rectifier.spi.BackendProvider;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Backend choice. CUDA and OpenCL are not built yet, so the backends that cannot run here are
 * stand-ins, named as such: a provider whose probe reports a reason, and one whose probe throws
 * (which a real probe must never do). The CPU provider is real.
 */
class SelectionTest {
  /** Stand-in for a GPU backend on a machine without its driver. */
  static final class StandInUnavailable implements BackendProvider {
    @Override
    public String name() {
      return "standin-gpu";
    }

    @Override
    public BackendStatus probe() {
      return BackendStatus.unusable(name(), "no driver (stand-in); install the driver");
    }

    @Override
    public Backend open(BackendConfig config) {
      throw new AssertionError("opened although unusable");
    }
  }

  /** Stand-in for a broken provider whose probe throws. */
  static final class StandInThrowingProbe implements BackendProvider {
    @Override
    public String name() {
      return "standin-broken";
    }

    @Override
    public BackendStatus probe() {
      throw new UnsatisfiedLinkError("libstandin.so: cannot open shared object file");
    }

    @Override
    public Backend open(BackendConfig config) {
      throw new AssertionError("opened although its probe failed");
    }
  }

  private static final List<BackendProvider> PROVIDERS =
      List.of(new StandInUnavailable(), new StandInThrowingProbe(), new CpuProvider());

  @AfterEach
  void clearProperty() {
    System.clearProperty(Rectifier.BACKEND_PROPERTY);
  }

  @Test
  void autoTakesTheFirstUsableAndRecordsWhyEachEarlierOneWasSkipped() {
    try (Rectifier r = Rectifier.builder().providers(PROVIDERS).build()) {
      assertEquals("cpu", r.backend());
      assertEquals("auto", r.requested());
      List<BackendStatus> s = r.selection();
      assertEquals(3, s.size());
      assertFalse(s.get(0).usable());
      assertTrue(s.get(0).reason().contains("install the driver"));
      assertFalse(s.get(1).usable());
      assertTrue(s.get(1).reason().contains("cannot open shared object"), s.get(1).reason());
      assertTrue(s.get(2).usable());
    }
  }

  @Test
  void aForcedBackendThatCannotRunIsAnErrorNamingCauseAndFixNeverAFallback() {
    RectifierException e =
        assertThrows(
            RectifierException.class,
            () -> Rectifier.builder().providers(PROVIDERS).backend("standin-gpu").build());
    assertTrue(e.getMessage().contains("forced by Rectifier.builder().backend()"), e.getMessage());
    assertTrue(e.getMessage().contains("install the driver"), e.getMessage());
    assertTrue(e.getMessage().contains("cpu"), "names the alternatives: " + e.getMessage());
  }

  @Test
  void theSystemPropertyForcesAndTheApiWinsOverIt() {
    System.setProperty(Rectifier.BACKEND_PROPERTY, "standin-gpu");
    RectifierException e =
        assertThrows(
            RectifierException.class, () -> Rectifier.builder().providers(PROVIDERS).build());
    assertTrue(e.getMessage().contains("system property rectifier.backend"), e.getMessage());
    try (Rectifier r = Rectifier.builder().providers(PROVIDERS).backend("CPU").build()) {
      assertEquals("cpu", r.backend());
      assertEquals(1, r.selection().size());
    }
  }

  @Test
  void anUnknownNameIsABadArgument() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Rectifier.create("tpu"));
    assertTrue(e.getMessage().contains("unknown backend 'tpu'"), e.getMessage());
    assertTrue(e.getMessage().contains("cpu"), e.getMessage());
  }

  @Test
  void noUsableBackendAtAllListsEveryReason() {
    RectifierException e =
        assertThrows(
            RectifierException.class,
            () ->
                Rectifier.builder()
                    .providers(List.of(new StandInUnavailable(), new StandInThrowingProbe()))
                    .build());
    assertTrue(e.getMessage().contains("standin-gpu: no driver"), e.getMessage());
    assertTrue(e.getMessage().contains("standin-broken"), e.getMessage());
  }

  @Test
  void probeAllNeverThrowsAndTheCpuIsUsable() {
    List<BackendStatus> all = Rectifier.probeAll();
    assertEquals(Rectifier.backendNames().size(), all.size());
    assertTrue(all.stream().anyMatch(s -> s.name().equals("cpu") && s.usable()));
  }
}
