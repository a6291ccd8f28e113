package dev.rectifier.bench;

import dev.rectifier.Activation;
import dev.rectifier.Rectifier;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.Op;
import org.nd4j.linalg.api.ops.impl.scalar.LeakyReLU;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.transforms.strict.ELU;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Mish;
import org.nd4j.linalg.api.ops.impl.transforms.strict.PreciseGELU;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Swish;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The peer (issue 5): ND4J's CPU backend (nd4j-native 1.0.0-M2.1, OpenBLAS, OpenMP) and Rectifier's
 * CPU backend on the same data in one run, each writing into a preallocated output, with {@code
 * System.arraycopy} of the same bytes beside them. Only in the {@code nd4j} profile, which the
 * default build does not download:
 *
 * <pre>
 * mvn -B -q -Pbench,nd4j test-compile exec:exec -Djmh.args="Nd4jPeerBench"
 * </pre>
 *
 * ND4J's GELU is the sigmoid approximation x * sigmoid(1.702 x) and its PreciseGELU the tanh form;
 * it has no erf form, so gelu_tanh is the fair pair (Rectifier's gelu, exact erf, is slower).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
public class Nd4jPeerBench {
  @Param({"relu", "leaky_relu", "elu", "gelu_tanh", "silu", "mish"})
  String function;

  @Param({"f32"})
  String dtype;

  @Param({"4096", "67108864"})
  int size;

  private INDArray x;
  private INDArray z;
  private float[] xf;
  private float[] yf;
  private double[] xd;
  private double[] yd;
  private Object copySrc;
  private Object copyDst;
  private Rectifier engine;
  private Activation f;

  @Setup(Level.Trial)
  public void setUp() {
    Random r = new Random(5);
    boolean f32 = dtype.equals("f32");
    if (f32) {
      xf = new float[size];
      yf = new float[size];
      for (int i = 0; i < size; i++) xf[i] = (float) (r.nextGaussian() * 3);
      x = Nd4j.createFromArray(xf);
    } else {
      xd = new double[size];
      yd = new double[size];
      for (int i = 0; i < size; i++) xd[i] = r.nextGaussian() * 3;
      x = Nd4j.createFromArray(xd);
    }
    z = Nd4j.create(f32 ? DataType.FLOAT : DataType.DOUBLE, size);
    copySrc = f32 ? new float[size] : new double[size];
    copyDst = f32 ? new float[size] : new double[size];
    engine = Rectifier.create("cpu");
    f = Activation.of(function, Map.of(), null);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    engine.close();
  }

  private Object op() {
    return switch (function) {
      case "relu" -> new RectifiedLinear(x, z);
      case "leaky_relu" -> new LeakyReLU(x, z, 0.01);
      case "elu" -> new ELU(x, z);
      case "gelu_tanh" -> new PreciseGELU(x, z);
      case "silu" -> new Swish(x, z);
      case "mish" -> new Mish(x, z);
      default -> throw new IllegalArgumentException(function);
    };
  }

  @Benchmark
  public INDArray nd4j() {
    Object op = op();
    if (op instanceof CustomOp c) Nd4j.exec(c);
    else Nd4j.exec((Op) op);
    return z;
  }

  @Benchmark
  public Object rectifier() {
    if (xf != null) {
      engine.forward(f, xf, yf);
      return yf;
    }
    engine.forward(f, xd, yd);
    return yd;
  }

  @Benchmark
  public Object copy() {
    System.arraycopy(copySrc, 0, copyDst, 0, size);
    return copyDst;
  }
}
