"""Fixtures: real redis-server processes on free loopback ports (never a mock)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisProcess:
    port: int
    proc: subprocess.Popen
    workdir: str
    tls: bool = False

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def cli(self, *args: str) -> str:
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, check=True)
        return out.stdout.decode().strip()

    def command(self, *args: bytes | str) -> bytes:
        """Send one command in RESP (binary-safe) and return the raw reply line(s)."""
        parts = [a.encode() if isinstance(a, str) else a for a in args]
        req = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(req)
            return s.recv(65536)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def start_redis(*extra: str, tls: TlsFiles | None = None) -> RedisProcess:
    """A redis-server on a free port; with ``tls``, that port speaks only TLS."""
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server") or "/usr/bin/redis-server"
    for _ in range(5):
        port = _free_port()
        workdir = tempfile.mkdtemp(prefix="stratacache-pyredis-")
        ports = ["--port", str(port)] if tls is None else [
            "--port", "0", "--tls-port", str(port), "--tls-cert-file", tls.server_cert,
            "--tls-key-file", tls.server_key, "--tls-ca-cert-file", tls.ca_cert, "--tls-auth-clients", "no"]
        proc = subprocess.Popen(
            [binary, *ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", workdir, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = wait_listening(proc, port, workdir, tls=tls is not None)
        if started:
            return started
    raise RuntimeError("could not start redis-server")


def wait_listening(proc: subprocess.Popen, port: int, workdir: str, tls: bool = False) -> RedisProcess | None:
    """The process once it accepts connections on `port` (up to 5 s); None (and the
    process killed) if it exits or never does."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return RedisProcess(port, proc, workdir, tls=tls)
        except OSError:
            time.sleep(0.01)
    proc.kill()
    proc.wait()
    return None


@dataclass(frozen=True)
class TlsFiles:
    """A test CA, a server certificate it signed (127.0.0.1, localhost), another CA."""

    ca_cert: str
    server_cert: str
    server_key: str
    other_ca_cert: str


def _make_certificates(directory: str) -> TlsFiles:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    for name in ("ca", "other_ca", "server"):
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")
    for name in ("ca", "other_ca"):
        run("req", "-x509", "-new", "-key", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
            "-subj", f"/CN=stratacache test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run("req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    path = lambda name: os.path.join(directory, name)  # noqa: E731
    return TlsFiles(path("ca.crt"), path("server.crt"), path("server.key"), path("other_ca.crt"))


@pytest.fixture(scope="session")
def test_certificates(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return _make_certificates(str(tmp_path_factory.mktemp("pki")))


def _serve(server: RedisProcess) -> Iterator[RedisProcess]:
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.kill9()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def tls_redis_server(test_certificates: TlsFiles) -> Iterator[RedisProcess]:
    """A redis-server that speaks only TLS (``server.url`` is ``rediss://``)."""
    yield from _serve(start_redis(tls=test_certificates))


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    yield from _serve(start_redis())


@dataclass
class RestartableRedis:
    """A redis-server that can be killed and started again on the same port."""

    server: RedisProcess

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def cli(self, *args: str) -> str:
        return self.server.cli(*args)

    def kill9(self) -> None:
        if self.server.proc.poll() is None:
            self.server.kill9()

    def restart(self) -> None:
        self.kill9()
        binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server") or "/usr/bin/redis-server"
        proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.server.workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    self.server = RedisProcess(self.port, proc, self.server.workdir)
                    return
            except OSError:
                time.sleep(0.01)
        proc.kill()
        proc.wait()
        raise RuntimeError(f"could not restart redis-server on port {self.port}")


@pytest.fixture
def restartable_redis() -> Iterator[RestartableRedis]:
    r = RestartableRedis(start_redis())
    try:
        yield r
    finally:
        r.kill9()
        shutil.rmtree(r.server.workdir, ignore_errors=True)


STRATACACHE_ENV = ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD", "REDIS_POOL_SIZE",
                   "REDIS_SOCKET_TIMEOUT", "CACHE_ENABLED", "CACHE_TTL_DEFAULT", "CACHE_FAIL_SILENTLY",
                   "CACHE_KEY_PREFIX", "CACHE_SERIALIZER", "CACHE_PICKLE_SECRET")


@pytest.fixture
def clean_stratacache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No stratacache variables in the environment, and a fresh process-wide cache
    before and after the test (it is opened from the environment on first use)."""
    from stratacache import _runtime

    for name in STRATACACHE_ENV:
        monkeypatch.delenv(name, raising=False)
    _runtime.reset()
    try:
        yield
    finally:
        _runtime.reset()


@dataclass
class RedisCluster:
    """Three cluster-mode redis-servers (masters, no replicas) sharing the 16384 slots."""

    nodes: list[RedisProcess]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)


def start_cluster(masters: int = 3) -> RedisCluster:
    # The bus port is given: the default (port + 10000) is out of range above 55535.
    nodes = [start_redis("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                         "--cluster-node-timeout", "2000", "--cluster-port", str(_free_port()))
             for _ in range(masters)]
    cluster = RedisCluster(nodes)
    out = nodes[0].cli("--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes], "--cluster-replicas", "0",
                       "--cluster-yes")
    if "[OK] All 16384 slots covered" not in out:
        raise RuntimeError(f"redis-cli --cluster create failed: {out}")
    deadline = time.monotonic() + 10
    while not all("cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in nodes):
        if time.monotonic() > deadline:
            raise RuntimeError("the cluster did not reach cluster_state:ok")
        time.sleep(0.05)
    return cluster


@pytest.fixture
def redis_cluster() -> Iterator[RedisCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        for node in cluster.nodes:
            if node.proc.poll() is None:
                node.kill9()
            shutil.rmtree(node.workdir, ignore_errors=True)


def run_together(n: int, fn: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    """fn() on n threads released at once by a barrier: (results, exceptions)."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            r = fn()
            with lock:
                results.append(r)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results, errors


def interop(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs the C program tests/c/interop.c (stratacache_interop) with `args`."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.environ.get("STRATACACHE_INTEROP_BIN") or os.path.join(root, "build", "tests", "stratacache_interop")
    if not os.path.exists(path):
        pytest.fail(f"{path} missing: build the C++ tree first (scripts/build.sh)")
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=30)
