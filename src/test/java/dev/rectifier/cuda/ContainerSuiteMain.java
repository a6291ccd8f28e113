package dev.rectifier.cuda;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * What the test image (docker/Dockerfile.test) runs: the CUDA conformance suite and the CUDA
 * provider's tests, through the JUnit Platform, exiting 0 only when every test passed and at least
 * one ran. Run with {@code -Drectifier.test.require=cuda}, so that a GPU that cannot be used fails.
 */
public final class ContainerSuiteMain {
  private ContainerSuiteMain() {}

  public static void main(String[] args) {
    LauncherDiscoveryRequest request =
        LauncherDiscoveryRequestBuilder.request()
            .selectors(selectClass(CudaConformanceTest.class), selectClass(CudaProviderTest.class))
            .build();
    Launcher launcher = LauncherFactory.create();
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    launcher.execute(request, listener);
    TestExecutionSummary summary = listener.getSummary();
    PrintWriter out = new PrintWriter(System.out, true);
    summary.printTo(out);
    summary.printFailuresTo(out, 20);
    boolean ok =
        summary.getTotalFailureCount() == 0
            && summary.getTestsSucceededCount() > 0
            && summary.getTestsAbortedCount() == 0;
    out.println(ok ? "CUDA SUITE PASSED" : "CUDA SUITE FAILED");
    System.exit(ok ? 0 : 1);
  }
}
