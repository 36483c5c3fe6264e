"""Starts the real flexsim and flexd executables for the SDK tests.

The binaries are $FLEXSIM_BIN and $FLEXD_BIN, or .build/debug/flexsim and .build/debug/flexd under
the package root. Each fixture starts its own process on free ports (flexsim prints the address
it bound; flexd is ready when its /readyz answers), and always stops it: SIGTERM, then SIGKILL
after a grace period (see the platform notes), then reaps it.
"""
import os
import signal
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def flexsim_binary():
    path = os.environ.get("FLEXSIM_BIN") or os.path.join(ROOT, ".build", "debug", "flexsim")
    if not os.path.exists(path):
        pytest.fail(f"flexsim binary not found at {path}: run swift build first")
    return path


def flexd_binary():
    path = os.environ.get("FLEXD_BIN") or os.path.join(ROOT, ".build", "debug", "flexd")
    if not os.path.exists(path):
        pytest.fail(f"flexd binary not found at {path}: run swift build first")
    return path


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class Flexd:
    """flexd with its HTTP door on a free port (`base`), the binary protocol and admin port too."""

    def __init__(self, *args):
        import tempfile
        import urllib.request
        self.log = tempfile.NamedTemporaryFile("w+", prefix="flexd-door-", suffix=".log", delete=False)
        for _ in range(3):  # a free port is free only until someone binds it
            self.port, self.admin, binary = free_port(), free_port(), free_port()
            self.proc = subprocess.Popen(
                [flexd_binary(), "--listen", f"127.0.0.1:{binary}", "--admin-listen", f"127.0.0.1:{self.admin}",
                 "--http-listen", f"127.0.0.1:{self.port}", "--log-level", "warning", "--ledger", "none", *args],
                stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/readyz", timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                break
            self.log.seek(0)
            if "Address already in use" not in self.log.read():
                break
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise RuntimeError(f"flexd did not start: {self.log.read()[-2000:]}")
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self):
        stop_process(self.proc)
        self.log.close()
        os.unlink(self.log.name)


class Flexsim:
    def __init__(self, *args, price_date="2026-11-26"):
        dated = ["--price-date", price_date] if price_date else []
        self.proc = subprocess.Popen(
            [flexsim_binary(), "--listen", "127.0.0.1:0", *dated, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        line = self.proc.stdout.readline()
        if not line.startswith("flexsim listening on "):
            self.stop()
            raise RuntimeError(f"flexsim did not start: {line!r} {self.proc.stderr.read()}")
        self.address = line.split()[3]
        self.base = f"http://{self.address}"

    def ledger(self):
        import json
        import urllib.request
        with urllib.request.urlopen(f"{self.base}/sim/ledger") as response:
            return [json.loads(line) for line in response.read().decode().splitlines() if line]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@pytest.fixture(scope="module")
def sim():
    server = Flexsim("--profile", "instant", "--seed", "7")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def outage():
    server = Flexsim("--profile", "outage")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def door():
    """flexd with an in-process flexsim (`instant`): the HTTP door as a user first runs it."""
    server = Flexd("--upstream", "sim", "--sim-profile", "instant", "--sim-seed", "7")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def door_and_sim():
    """flexd routing to a separate flexsim (today's prices, as flexd's), so that every call can be
    checked against what flexsim billed."""
    sim = Flexsim("--profile", "instant", "--seed", "7", price_date=None)
    try:
        server = Flexd("--openai-base-url", f"{sim.base}/openai/v1", "--anthropic-base-url", f"{sim.base}/anthropic/v1",
                       "--gemini-base-url", f"{sim.base}/gemini/v1beta", "--correlation-header", "x-flexsim-correlation-id")
        try:
            yield server, sim
        finally:
            server.stop()
    finally:
        sim.stop()
