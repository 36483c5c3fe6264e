"""Shared plumbing for the benchmark scripts in tools/bench: build, start flexsim, flexd and HAProxy
(a TCP relay, or a TLS and HTTP/2 front like the real providers', with a test CA made by openssl)
on free loopback ports, run flexload, read a process's memory and CPU, describe the machine, print
tables. Every process a script starts is stopped when the script ends, however it ends."""

import argparse
import atexit
import json
import os
import platform
import shutil
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


# The profile the `long` mix runs against: `instant`, but every answer as long as the request's
# output bound allows. flexsim answers 16 to 63 tokens unless told more; `large_response=8000` asks
# for 2,000 tokens, which `max_output_tokens` (500 to 2,000 in the mix) then cuts, one streamed
# event per token, all sent at once as `instant` sends everything.
LONG_PROFILE = {
    "name": "instant-long",
    "description": "instant, with answers that fill max_output_tokens (up to 2,000 tokens)",
    "tiers": {"flex": {}, "standard": {}, "priority": {}},
    "faults": [{"probability": 1, "fault": "large_response=8000"}],
}


# `long-paced`: the `long` mix's calls against answers streamed as a provider streams them, 100
# tokens a second on every tier (each event a wake-up of its own, where `instant` sends an answer's
# events in one burst). Its calls take 5 to 20 s.
PACED_LONG_PROFILE = dict(
    LONG_PROFILE,
    name="paced-long",
    description="instant starts, 100 tokens/s, answers that fill max_output_tokens (up to 2,000 tokens)",
    tiers={tier: {"tokens_per_s": 100} for tier in ("flex", "standard", "priority")},
)


def mix_profile(out, mix):
    """The flexsim profile a mix is measured against: `instant`, or for `long` and `long-paced` a
    generated file."""
    profile = {"long": LONG_PROFILE, "long-paced": PACED_LONG_PROFILE}.get(mix)
    if profile is None:
        return "instant"
    path = os.path.join(out, f"{profile['name']}.profile.json")
    with open(path, "w") as f:
        json.dump(profile, f, indent=2)
    return path


def flexload_mix(mix):
    """The flexload mix a benchmark mix runs: `long-paced` is `long` against its own profile."""
    return "long" if mix == "long-paced" else mix


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


def haproxy_binary():
    path = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.access(path, os.X_OK):
        sys.exit("haproxy is not installed: run tools/bootstrap (Debian package haproxy)")
    return path


def test_certificates(out):
    """A test CA and a server certificate for 127.0.0.1 and localhost signed by it, made by openssl
    in out/tls (once). Returns the CA's PEM (for flexd's --upstream-ca-file) and the server's
    certificate and key in one PEM (for HAProxy's `crt`)."""
    directory = os.path.join(out, "tls")
    ca, server = os.path.join(directory, "ca.pem"), os.path.join(directory, "server.pem")
    if os.path.exists(ca) and os.path.exists(server):
        return ca, server
    os.makedirs(directory, exist_ok=True)
    path = lambda name: os.path.join(directory, name)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(path("server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for argv in (["req", "-x509", *ec, "-keyout", path("ca.key"), "-out", ca, "-days", "7", "-subj", "/CN=flexd bench CA"],
                 ["req", *ec, "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"],
                 ["x509", "-req", "-in", path("server.csr"), "-CA", ca, "-CAkey", path("ca.key"), "-CAcreateserial",
                  "-out", path("server.crt"), "-days", "7", "-extfile", path("server.ext")]):
        subprocess.run(["openssl", *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(server, "w") as f:
        for part in ("server.crt", "server.key"):
            with open(path(part)) as p:
                f.write(p.read())
    return ca, server


def start_haproxy(out, name, backend_root, tls=False, maxconn=8000):
    """HAProxy in the foreground (-db) in front of flexsim (`backend_root`, http://HOST:PORT), with a
    configuration generated into `out`. Without `tls`: TCP mode, a byte relay (the floor any proxy
    pays on this machine). With `tls`: HTTP mode terminating TLS with ALPN h2 and http/1.1 (the test
    CA's certificate, see test_certificates), HTTP/1.1 to flexsim, and one request in a hundred
    logged (the log names the HTTP version the client spoke). Returns the process and its URL."""
    backend = backend_root.split("://", 1)[1]
    config_path = os.path.join(out, f"{name}.cfg")
    certificate = test_certificates(out)[1] if tls else None

    def argv(port):
        lines = ["global", f"    maxconn {maxconn}"]
        if tls:
            lines += ["    log stdout format raw sample 1:100 local0"]
        lines += ["defaults", f"    mode {'http' if tls else 'tcp'}", "    timeout connect 5s",
                  "    timeout client 300s", "    timeout server 300s"]
        if tls:
            lines += ["    log global", "    option httplog",
                      "frontend front", f"    bind 127.0.0.1:{port} ssl crt {certificate} alpn h2,http/1.1"]
        else:
            lines += ["frontend front", f"    bind 127.0.0.1:{port}"]
        lines += ["    default_backend flexsim", "backend flexsim", f"    server flexsim {backend}", ""]
        with open(config_path, "w") as f:
            f.write("\n".join(lines))
        return [haproxy_binary(), "-db", "-f", config_path]

    process, port = start(argv, os.path.join(out, f"{name}.log"))
    return process, f"{'https' if tls else 'http'}://127.0.0.1:{port}"


def start_nghttpx(out, name, backend_root):
    """nghttpx (Debian's nghttp2-proxy, nghttp2's own HTTP/2 proxy) in front of flexsim
    (`backend_root`, http://HOST:PORT): TLS with ALPN h2 from the test CA's certificate, HTTP/1.1 to
    flexsim, one worker. A second HTTP/2 implementation beside HAProxy's, to tell a fault of one
    server's HTTP/2 from libcurl's. Returns the process and its URL."""
    nghttpx = shutil.which("nghttpx") or "/usr/sbin/nghttpx"
    if not os.access(nghttpx, os.X_OK):
        sys.exit("nghttpx is not installed: run tools/bootstrap (Debian package nghttp2-proxy)")
    host, port_text = backend_root.split("://", 1)[1].rsplit(":", 1)
    directory = os.path.join(out, "tls")
    test_certificates(out)
    key, certificate = os.path.join(directory, "server.key"), os.path.join(directory, "server.crt")
    # An empty configuration file: nghttpx otherwise reads Debian's /etc/nghttpx/nghttpx.conf too.
    configuration = os.path.join(out, f"{name}.conf")
    open(configuration, "w").close()
    process, port = start(lambda port: [
        nghttpx, f"--conf={configuration}", f"--frontend=127.0.0.1,{port}", f"--backend={host},{port_text};;proto=http/1.1",
        "--workers=1", "--no-ocsp", "--backend-connections-per-host=10000",
        "--frontend-read-timeout=300s", "--backend-read-timeout=300s", "--stream-read-timeout=0",
        "--stream-write-timeout=0", "--log-level=WARN", "--accesslog-file=/dev/stdout", key, certificate],
        os.path.join(out, f"{name}.log"))
    return process, f"https://127.0.0.1:{port}"


def established_connections(port):
    """TCP connections established to 127.0.0.1:port (ss), e.g. flexd's to its upstream."""
    result = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                            capture_output=True, text=True)
    return len([line for line in result.stdout.splitlines() if line.strip()])


def http_versions(log_path):
    """How many requests of each HTTP version a HAProxy HTTP-mode log names (`"POST ... HTTP/2.0"`)."""
    counts = {}
    try:
        with open(log_path, errors="replace") as log:
            for line in log:
                if line.rstrip().endswith('"') and " HTTP/" in line:
                    version = line.rstrip()[:-1].rsplit(" ", 1)[1]
                    counts[version] = counts.get(version, 0) + 1
    except OSError:
        pass
    return counts


def cpu_seconds(pid):
    """A process's CPU seconds so far (utime + stime from /proc/PID/stat, all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
