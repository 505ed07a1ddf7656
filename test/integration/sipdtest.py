"""sipdtest: starts a real sipd on loopback ports and talks to it (UDP, sipp, the control socket).

Used by the integration tests that ctest runs. Everything here sends only to
127.0.0.1 / ::1, every wait is bounded, and every process started is stopped.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BUILD_DIR = os.environ.get("SIPD_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SRC_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
DB_SCRIPT = os.path.join(SRC_DIR, "scripts/db")
SIPD = os.path.join(BUILD_DIR, "sipd")
SIPCTL = os.path.join(BUILD_DIR, "sipctl")
SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")
TORTURE_DIR = os.environ.get("SIPD_TORTURE_DIR", os.path.join(SRC_DIR, "test/data/sip-torture"))

# Sanitizer builds are several times slower: scale the waits, never the assertions.
SLOW = float(os.environ.get("SIPD_TEST_SLOW", "1"))


def free_port():
    """A UDP port free on both 127.0.0.1 and ::1 right now."""
    for _ in range(50):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s4.bind(("127.0.0.1", 0))
        port = s4.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s6.bind(("::1", port))
            s6.close()
            s4.close()
            return port
        except OSError:
            s4.close()
    raise RuntimeError("no free UDP port on loopback")


def rpc(sock_path, method, params=None, timeout=5.0):
    """One JSON-RPC call on sipd's control socket; returns the reply object."""
    req = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        req["params"] = params
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return json.loads(buf.decode())


def sip_request(method, ruri, *, via_host="127.0.0.1", via_port=5999, rport=True, call_id=None,
                extra="", max_forwards=70, branch=None, body=""):
    call_id = call_id or "it-%d-%f@test" % (os.getpid(), time.time())
    branch = branch or "z9hG4bK-%d-%d" % (os.getpid(), int(time.time() * 1e6))
    via = "SIP/2.0/UDP %s:%d;branch=%s%s" % (via_host, via_port, branch, ";rport" if rport else "")
    lines = [
        "%s %s SIP/2.0" % (method, ruri),
        "Via: " + via,
    ]
    if max_forwards is not None:
        lines.append("Max-Forwards: %d" % max_forwards)
    lines += [
        "From: <sip:tester@example.com>;tag=t%d" % os.getpid(),
        "To: <%s>" % ruri,
        "Call-ID: " + call_id,
        "CSeq: 1 " + method,
    ]
    msg = "\r\n".join(lines) + "\r\n" + extra + "Content-Length: %d\r\n\r\n%s" % (len(body), body)
    return msg.encode()


class Udp:
    """A loopback UDP peer."""

    def __init__(self, family=socket.AF_INET):
        self.family = family
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
        self.port = self.sock.getsockname()[1]

    def send(self, data, port, host=None):
        host = host or ("127.0.0.1" if self.family == socket.AF_INET else "::1")
        self.sock.sendto(data, (host, port))

    def recv(self, timeout=1.0):
        """The next datagram and its source, or (None, None) when none came in time."""
        self.sock.settimeout(timeout * SLOW)
        try:
            data, src = self.sock.recvfrom(65536)
            return data, src
        except socket.timeout:
            return None, None

    def request(self, data, port, host=None, timeout=1.0):
        self.send(data, port, host)
        reply, _ = self.recv(timeout)
        return reply

    def close(self):
        self.sock.close()


def status_of(reply):
    if not reply:
        return None
    first = reply.split(b"\r\n", 1)[0].decode("latin-1")
    parts = first.split(" ", 2)
    return int(parts[1])


def header(reply, name):
    for line in reply.decode("latin-1").split("\r\n"):
        if ":" in line and line.split(":", 1)[0].strip().lower() == name.lower():
            return line.split(":", 1)[1].strip()
    return None


class Sipd:
    """A sipd process with a config built from a dict, in a private temp dir."""

    def __init__(self, routes=None, **settings):
        self.dir = tempfile.mkdtemp(prefix="sipd-it-")
        self.port = settings.pop("port", None) or free_port()
        self.ctl = os.path.join(self.dir, "ctl")
        self.config = {
            "debug": 3,
            "fork": False,
            "log_stderror": True,
            "listen": ["udp:127.0.0.1:%d" % self.port, "udp:[::1]:%d" % self.port],
            "children": 2,
            "ctl_socket": self.ctl,
        }
        self.config.update(settings)
        if routes is None:
            with open(os.path.join(SRC_DIR, "examples/options.json")) as f:
                routes = json.load(f)["routes"]
        self.config["routes"] = routes
        self.path = os.path.join(self.dir, "config.json")
        self.write_config(self.config)
        self.proc = None
        self.stderr_path = os.path.join(self.dir, "stderr.log")

    def write_config(self, config=None, text=None):
        with open(self.path + ".tmp", "w") as f:
            if text is not None:
                f.write(text)
            else:
                json.dump(config, f, indent=2)
        os.rename(self.path + ".tmp", self.path)

    def start(self, wait=True, args=()):
        if getattr(self, "stderr", None):
            self.stderr.close()
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([SIPD, "-c", self.path] + list(args), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10.0):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise AssertionError("sipd exited with %s: %s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.ctl):
                try:
                    if rpc(self.ctl, "core.version").get("result"):
                        return
                except (OSError, ValueError):
                    pass
            time.sleep(0.05)
        raise AssertionError("sipd did not become ready: " + self.log())

    def rpc(self, method, params=None):
        return rpc(self.ctl, method, params)

    def stats(self):
        return self.rpc("core.stats")["result"]

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals sipd and waits; returns (exit code, seconds it took)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.time()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = "timeout"
        return code, time.time() - t0

    def close(self):
        self.stop()
        if getattr(self, "stderr", None):
            self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def sipp(scenario, port, *, calls=100, rate=100, host="127.0.0.1", local_ip=None, timeout=30,
         extra=()):
    """Runs sipp as a UAC; returns (exit code, stdout+stderr). Exit 0: every call succeeded."""
    target = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    args = ["sipp", target, "-sf", os.path.join(SCENARIOS, scenario), "-m", str(calls), "-r",
            str(rate), "-timeout", "%ds" % int(timeout * SLOW), "-timeout_error", "-nostdin"]
    if local_ip:
        args += ["-i", local_ip]
    args += list(extra)
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=(timeout + 30) * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace")


class SipdTestCase(unittest.TestCase):
    """Starts one sipd per test unless the test makes its own."""

    def new_sipd(self, routes=None, start=True, **settings):
        s = Sipd(routes, **settings)
        self.addCleanup(s.close)
        if start:
            s.start()
        return s


class Mariadb:
    """A private MariaDB for one test class (scripts/db)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sipd-db-")
        env = dict(os.environ, SIPD_DB_OWNER_PID=str(os.getpid()), SIPD_DB_REMOVE_DIR="1")
        p = subprocess.run([DB_SCRIPT, "start", self.dir], capture_output=True, timeout=180,
                           env=env)
        if p.returncode != 0:
            raise AssertionError("scripts/db start failed: %s" % p.stderr.decode())
        self.url = subprocess.run([DB_SCRIPT, "url", self.dir], capture_output=True, timeout=30,
                                  check=True).stdout.decode().split()[0]

    def sql(self, query, db="ser"):
        p = subprocess.run([DB_SCRIPT, "sql", self.dir, "USE %s; %s" % (db, query)],
                           capture_output=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("sql %s: %s" % (query, p.stderr.decode()))
        return p.stdout.decode()

    def count(self, table, db="ser", where="1"):
        out = self.sql("SELECT COUNT(*) FROM %s WHERE %s" % (table, where), db).split()
        return int(out[-1])

    def stop(self):
        subprocess.run([DB_SCRIPT, "stop", self.dir], capture_output=True, timeout=120)

    def start(self):
        subprocess.run([DB_SCRIPT, "start", self.dir], capture_output=True, timeout=180,
                       check=True)

    def close(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir])


class DatabaseTestCase(SipdTestCase):
    """SipdTestCase with one private MariaDB (cls.db) for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.db = Mariadb()

    @classmethod
    def tearDownClass(cls):
        cls.db.close()
