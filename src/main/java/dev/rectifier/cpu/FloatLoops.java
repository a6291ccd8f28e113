package dev.rectifier.cpu;

import java.util.Locale;

/**
 * Which loops a CPU backend runs for the float32 forward of relu and the smooth functions, chosen
 * once when the backend opens. Every choice meets the contract; they differ in speed, and the
 * vectorized ones may differ from the scalar definitions by 1 ULP where a double result lies next
 * to a float rounding boundary.
 *
 * <ul>
 *   <li>{@link #VECTOR_API}: {@link VectorApiLoops}, when the JVM has {@code jdk.incubator.vector}
 *       (started with {@code --add-modules jdk.incubator.vector}) on x86-64 Linux or Windows, where
 *       HotSpot compiles its exp, expm1 and log1p to vector code. Elsewhere (aarch64 on JDK 17, for
 *       one) those run a lane at a time and would be slower than the scalar loops.
 *   <li>{@link #AUTO_VECTORIZED}: {@link VectorLoops} (silu, mish, gelu), written so that C2
 *       vectorizes them, which it does from JDK 25 on.
 *   <li>{@link #SCALAR}: the definitions of {@link Formulas}, one element at a time.
 * </ul>
 *
 * <p>{@code -Drectifier.cpu.vector=off} forces the scalar loops (to compare, or to rule the others
 * out); any other value, or none, chooses as above.
 */
enum FloatLoops {
  VECTOR_API,
  AUTO_VECTORIZED,
  SCALAR;

  static final String PROPERTY = "rectifier.cpu.vector";

  static final String MODULE = "jdk.incubator.vector";

  /** The loops for a backend opened now. */
  static FloatLoops choose() {
    if ("off".equalsIgnoreCase(System.getProperty(PROPERTY, "").trim())) return SCALAR;
    if (vectorApiReason() == null) return VECTOR_API;
    return Runtime.version().feature() >= 25 ? AUTO_VECTORIZED : SCALAR;
  }

  /** Why the Vector API loops cannot run in this JVM, or null when they can. */
  static String vectorApiReason() {
    String arch = System.getProperty("os.arch", "");
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    if (!(arch.equals("amd64") || arch.equals("x86_64"))
        || !(os.contains("linux") || os.contains("windows"))) {
      return "the Vector API's exp has vector code on x86-64 Linux and Windows only, not on "
          + arch
          + " "
          + os;
    }
    if (ModuleLayer.boot().findModule(MODULE).isEmpty()) {
      return "start the JVM with --add-modules " + MODULE + " to vectorize them";
    }
    return VectorApiCheck.FAILURE;
  }

  /** Runs the Vector API loops once per JVM on known values; a failure keeps them out. */
  private static final class VectorApiCheck {
    static final String FAILURE = check();

    private static String check() {
      float[] x = new float[64];
      for (int i = 0; i < x.length; i++) x[i] = i % 2 == 0 ? -i : i;
      x[0] = -0f;
      float[] y = new float[x.length];
      try {
        VectorApiLoops.relu(x, 0, y, 0, x.length);
        VectorApiLoops.elu(x, 0, y, 0, x.length, 1, 1);
      } catch (RuntimeException | LinkageError e) {
        return "the Vector API loops failed here (" + e + "); report this as a bug in Rectifier";
      }
      for (int i = 0; i < x.length; i++) {
        float want = (float) Formulas.eluForFloat(x[i], 1);
        if (Math.abs(y[i] - want) > Math.ulp(want)) {
          return "the Vector API gave elu("
              + x[i]
              + ") = "
              + y[i]
              + ", not "
              + want
              + "; report this as a bug in Rectifier";
        }
      }
      return null;
    }
  }

  /** One line for the backend's status. */
  String describe() {
    return switch (this) {
      case VECTOR_API -> "float32 loops: Vector API, " + VectorApiLoops.shape();
      case AUTO_VECTORIZED ->
          "float32 loops: vectorized by C2 for silu, mish and gelu (JDK "
              + Runtime.version().feature()
              + "), scalar for the rest"
              + vectorApiHint();
      case SCALAR ->
          "off".equalsIgnoreCase(System.getProperty(PROPERTY, "").trim())
              ? "float32 loops: scalar (" + PROPERTY + "=off)"
              : "float32 loops: scalar" + vectorApiHint();
    };
  }

  private static String vectorApiHint() {
    String why = vectorApiReason();
    return why == null ? "" : "; " + why;
  }
}
