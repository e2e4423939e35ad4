package io.stratacache;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real redis-server on a free loopback port for one test class (JUnit extension:
 * {@code @RegisterExtension static RedisServer redis = new RedisServer();}). Never a mock.
 * {@code $REDIS_SERVER_BIN} overrides the binary found on PATH.
 */
public final class RedisServer implements BeforeAllCallback, AfterAllCallback {
    private Process process;
    private int port;
    private Path dir;

    public String url() {
        return "redis://127.0.0.1:" + port + "/0";
    }

    public int port() {
        return port;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        stop();
    }

    public void start() throws IOException, InterruptedException {
        String bin = System.getenv().getOrDefault("REDIS_SERVER_BIN", "redis-server");
        for (int attempt = 0; attempt < 5; attempt++) {
            port = freePort();
            dir = Files.createTempDirectory("stratacache-javaredis-");
            process = new ProcessBuilder(bin, "--port", String.valueOf(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", dir.toString())
                    .redirectOutput(new File("/dev/null")).redirectErrorStream(true).start();
            if (waitListening()) {
                return;
            }
            process.destroyForcibly().waitFor();
        }
        throw new IOException("could not start redis-server");
    }

    /** SIGKILL: the server is gone at once, as in a crash. */
    public void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly().waitFor();
            process = null;
        }
    }

    public void stop() {
        try {
            kill();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private boolean waitListening() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline && process.isAlive()) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return true;
            } catch (IOException notYet) {
                Thread.sleep(10);
            }
        }
        return false;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
