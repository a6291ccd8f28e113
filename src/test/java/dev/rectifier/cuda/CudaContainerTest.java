package dev.rectifier.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.dockerjava.api.model.DeviceRequest;
import com.github.dockerjava.api.model.Info;
import dev.rectifier.ExpectCuda;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;
import org.testcontainers.images.builder.ImageFromDockerfile;

/**
 * The CUDA conformance suite inside the CUDA container (docker/Dockerfile.test), run with a GPU
 * device request, as GPU CI runs it. Skipped, with the reason printed, where there is no Docker
 * engine or it has no NVIDIA runtime; {@code -Drectifier.test.require=cuda} makes those skips
 * failures.
 */
class CudaContainerTest {
  @Test
  void theCudaSuitePassesInTheCudaContainer() throws Exception {
    if (!DockerClientFactory.instance().isDockerAvailable()) {
      ExpectCuda.skipOrFail("no Docker engine here (Testcontainers found none)");
    }
    Info info = DockerClientFactory.instance().client().infoCmd().exec();
    Map<String, ?> runtimes = info.getRuntimes();
    if (runtimes == null || !runtimes.containsKey("nvidia")) {
      ExpectCuda.skipOrFail(
          "the Docker engine has no NVIDIA runtime (install the NVIDIA container toolkit)");
    }
    ImageFromDockerfile image =
        new ImageFromDockerfile("rectifier-cuda-test", true)
            .withFileFromPath("Dockerfile", Path.of("docker/Dockerfile.test"));
    // cp/: this JVM's classpath (classes, test classes, every test dependency), as the image wants
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path p = Path.of(entry);
      if (!Files.exists(p)) continue;
      String name =
          p.endsWith(Path.of("target", "classes"))
              ? "classes"
              : p.endsWith(Path.of("target", "test-classes"))
                  ? "test-classes"
                  : p.getFileName().toString();
      image.withFileFromPath("cp/" + name, p);
    }
    try (GenericContainer<?> c =
        new GenericContainer<>(image)
            .withCreateContainerCmdModifier(
                cmd ->
                    cmd.getHostConfig()
                        .withDeviceRequests(
                            List.of(
                                new DeviceRequest()
                                    .withCount(-1)
                                    .withCapabilities(List.of(List.of("gpu"))))))
            .withStartupCheckStrategy(
                new OneShotStartupCheckStrategy().withTimeout(Duration.ofMinutes(20)))) {
      c.start();
      String logs = c.getLogs();
      System.out.println(logs);
      assertTrue(logs.contains("CUDA SUITE PASSED"), logs);
      assertEquals(
          0L, c.getCurrentContainerInfo().getState().getExitCodeLong(), "the suite's exit code");
    }
  }
}
