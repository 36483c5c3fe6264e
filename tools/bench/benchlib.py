"""Shared plumbing for the benchmark scripts in tools/bench: build, start flexsim and flexd on
free loopback ports, run flexload, read a process's memory and CPU, describe the machine, print
tables. Every process a script starts is stopped when the script ends, however it ends."""

import argparse
import atexit
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_children = []


def arguments(description, add):
    """Common flags: --smoke (seconds-long run on debug binaries, for the test command), --debug,
    --no-build, --out DIR."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds) on debug binaries: checks the script works")
    parser.add_argument("--debug", action="store_true", help="use debug binaries (default: release, built first)")
    parser.add_argument("--no-build", action="store_true", help="do not build; use the binaries already built")
    parser.add_argument("--out", default=os.path.join(ROOT, ".build", "bench"), help="directory for JSON results and logs")
    add(parser)
    args = parser.parse_args()
    if args.smoke:
        args.debug = True
    os.makedirs(args.out, exist_ok=True)
    return args


def binaries(args):
    """The directory holding flexd, flexsim and flexload, building them unless told not to."""
    configuration = ["-c", "debug" if args.debug else "release"]
    if not args.no_build and not args.smoke:
        for product in ("flexd", "flexsim", "flexload"):
            subprocess.run(["swift", "build", *configuration, "--product", product], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
    path = subprocess.run(["swift", "build", *configuration, "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    for name in ("flexd", "flexsim", "flexload"):
        if not os.access(os.path.join(path, name), os.X_OK):
            sys.exit(f"{name} is not built in {path}: run `swift build{'' if args.debug else ' -c release'}` first")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, process, log_path, timeout=60):
    """Waits until `process` accepts connections on `port`. Returns False if it exited because its
    address was taken (a port is only free until someone binds it); exits the script if it failed
    otherwise or never listened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(log_path, errors="replace") as log:
                tail = log.read()[-2000:]
            if "Address already in use" in tail:
                return False
            sys.exit(f"{process.args[0]} exited with {process.returncode} before listening; its log {log_path} ends:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port} after {timeout} s")


def start(argv_for, log_path, attempts=3, more_ports=lambda: ()):
    """Starts a server process, logging to log_path; returns it and its port once it accepts
    connections. `argv_for(port)` is its command line for a port; a process that lost its port
    between free_port() and its bind is started again on another, up to `attempts` times.
    `more_ports()` names other ports the command line gave it (after `argv_for` was called): they
    must accept connections too."""
    for attempt in range(attempts):
        port = free_port()
        log = open(log_path, "w")
        process = subprocess.Popen(argv_for(port), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _children.append(process)
        if all(wait_port(p, process, log_path) for p in (port, *more_ports())):
            return process, port
    sys.exit(f"{argv_for(0)[0]} lost its port {attempts} times; see {log_path}")


def start_flexsim(bin_dir, out, name, profile="instant", extra=()):
    process, port = start(lambda port: [os.path.join(bin_dir, "flexsim"), "--listen", f"127.0.0.1:{port}",
                                        "--profile", profile, *extra],
                          os.path.join(out, f"{name}.log"))
    return process, f"http://127.0.0.1:{port}"


def start_flexd(bin_dir, out, name, flexsim_root, extra=(), admin=False, ledger=True, http=False):
    """flexd routing to flexsim, with a fresh SQLite savings ledger in `out` (or none). Returns the
    process, its protocol address HOST:PORT and its admin port (None without `admin`); with `http`,
    its HTTP door listens on a free port too (`--http-listen`, off otherwise) and a fourth value is
    the door's URL, http://HOST:PORT."""
    ledger_path = os.path.join(out, f"{name}.ledger.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(ledger_path + suffix):
            os.remove(ledger_path + suffix)
    admin_ports, http_ports = [], []

    def argv(port):
        admin_ports[:] = [free_port()] if admin else [None]
        http_ports[:] = [free_port()] if http else []
        return [os.path.join(bin_dir, "flexd"), "--listen", f"127.0.0.1:{port}",
                "--admin-listen", f"127.0.0.1:{admin_ports[0]}" if admin else "off",
                "--http-listen", f"127.0.0.1:{http_ports[0]}" if http else "off",
                "--openai-base-url", flexsim_root + "/openai/v1",
                "--anthropic-base-url", flexsim_root + "/anthropic/v1",
                "--gemini-base-url", flexsim_root + "/gemini/v1beta",
                "--correlation-header", "x-flexsim-correlation-id", "--log-level", "warning",
                "--ledger", f"sqlite:{ledger_path}" if ledger else "none", *extra]

    process, port = start(argv, os.path.join(out, f"{name}.log"), more_ports=lambda: http_ports)
    if http:
        return process, f"127.0.0.1:{port}", admin_ports[0], f"http://127.0.0.1:{http_ports[0]}"
    return process, f"127.0.0.1:{port}", admin_ports[0]


def flexload(bin_dir, out, name, args, background=False):
    """Runs flexload with --json; returns the report (or the Popen and the JSON path when background)."""
    path = os.path.join(out, f"{name}.json")
    argv = [os.path.join(bin_dir, "flexload"), *args, "--json", path, "--quiet"]
    log = open(os.path.join(out, f"{name}.flexload.log"), "w")
    if background:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _children.append(process)
        return process, path
    result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.exit(f"flexload failed ({result.returncode}); see {log.name}")
    with open(path) as f:
        return json.load(f)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def process_stats(pid):
    """RSS and peak RSS in MiB, CPU seconds (user + system) of a running process."""
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
        "peak_rss_mib": int(status["VmHWM"].split()[0]) / 1024,
        "cpu_s": (int(fields[11]) + int(fields[12])) / ticks,
    }


def metric(admin_port, name):
    """A gauge or counter's value from flexd's /metrics (summed over labels), or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    total = None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


def machine():
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        memory = int(next(line for line in f if line.startswith("MemTotal")).split()[1]) // 1024 // 1024
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "kernel": platform.release(),
        "swift": swift[0] if swift else "unknown",
        "load_average_at_start": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)] if rows else [len(h) for h in headers]
    line = "  ".join(str(h).rjust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths)))


def write_result(out, name, result):
    path = os.path.join(out, f"{name}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}")


def _stop_children():
    for process in _children:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for process in _children:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


atexit.register(_stop_children)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
