"""Starts the real flexsim executable for the SDK compatibility tests.

The binary is $FLEXSIM_BIN, or .build/debug/flexsim under the package root. Each fixture starts
its own flexsim on a free port (flexsim prints the address it bound), and always stops it:
SIGTERM, then SIGKILL after a grace period (see the platform notes), then reaps it.
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


class Flexsim:
    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [flexsim_binary(), "--listen", "127.0.0.1:0", "--price-date", "2026-11-26", *args],
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
