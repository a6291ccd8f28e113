/**
 * The backend SPI: what a compute backend implements so that {@link dev.rectifier.Rectifier} can
 * choose it. Not for applications: the facade in {@code dev.rectifier} is the public API.
 *
 * <p>A {@link dev.rectifier.spi.BackendProvider} is listed in {@link dev.rectifier.spi.Providers}'s
 * fixed order (CUDA, OpenCL, CPU as they arrive). Its {@code probe()} never throws: it runs a real
 * smoke kernel and returns a reason when it cannot. Native classes (JCuda, JOCL) are touched only
 * inside {@code probe()} and {@code open()}, where a {@link LinkageError} becomes a reason. A
 * {@link dev.rectifier.spi.Backend} owns every device resource it creates and frees them in {@code
 * close()}.
 */
package dev.rectifier.spi;
