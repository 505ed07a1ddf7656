"""Integration tests of sipbench (bench/sipbench): register and options against its own
reflector and against a real sipd with a private MariaDB, the summary and its JSON, the exit
status, and that every load stops in time. Loopback only; every run is bounded in count and time."""
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

from sipdtest import BUILD_DIR, SLOW, SRC_DIR, DatabaseTestCase

SIPBENCH = os.path.join(BUILD_DIR, "sipbench")

with open(os.path.join(SRC_DIR, "examples/registrar.json")) as f:
    SEED = json.load(f)

USERS = "1000..1199"  # 200 users
PASSWORD = "pw{user}"
LATENCY_KEYS = {"count", "min", "mean", "p50", "p90", "p99", "p99.9", "max"}


def sipbench(*args, timeout=60):
    """Runs sipbench; returns (exit code, stdout, stderr, seconds it took)."""
    t0 = time.monotonic()
    p = subprocess.run([SIPBENCH] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout * SLOW)
    return (p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
            time.monotonic() - t0)


def sipbench_json(*args, timeout=60):
    """Runs sipbench with --json --quiet; returns (exit code, the summary object, stderr)."""
    code, out, err, _ = sipbench(*(list(args) + ["--json", "--quiet"]), timeout=timeout)
    try:
        summary = json.loads(out)
    except ValueError:
        raise AssertionError("sipbench printed no JSON (exit %d): %r %s" % (code, out, err))
    return code, summary, err


class Reflector:
    """A sipbench reflect process on a free loopback port, for one test."""

    def __init__(self, *args, duration=60):
        self.proc = subprocess.Popen([SIPBENCH, "reflect", "--listen", "127.0.0.1:0",
                                      "--duration", str(int(duration * SLOW))] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.close()
            raise AssertionError("sipbench reflect printed no port: %r" % line)
        self.port = int(line)
        self.target = "127.0.0.1:%d" % self.port

    def close(self):
        """Stops it (SIGTERM); returns its stderr (its counters)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode("utf-8", "replace")


class SipbenchReflectTest(unittest.TestCase):
    """sipbench against its own do-nothing responder."""

    def reflector(self, *args):
        r = Reflector(*args)
        self.addCleanup(r.close)
        return r

    def check_complete(self, summary, count):
        self.assertEqual(summary["started"], count, summary)
        self.assertEqual(summary["completed"], count, summary)
        self.assertEqual(summary["failed"], 0, summary)
        self.assertEqual(summary["failed_by_status"], {}, summary)
        self.assertEqual(summary["timeouts"], 0, summary)
        self.assertGreater(summary["rate_per_s"], 0)
        for key in ("latency_ms", "request_latency_ms"):
            lat = summary[key]
            self.assertEqual(set(lat), LATENCY_KEYS, lat)
            self.assertGreater(lat["count"], 0)
            self.assertTrue(lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"]
                            <= lat["max"], lat)
        self.assertEqual(summary["latency_ms"]["count"], count)

    def test_register_all_complete_json(self):
        r = self.reflector()
        code, s, err = sipbench_json("register", "--target", r.target, "--users", USERS,
                                     "--password", PASSWORD, "--count", 2000,
                                     "--concurrency", 50, "--timeout", 5)
        self.assertEqual(code, 0, err)
        self.check_complete(s, 2000)
        self.assertEqual(s["mode"], "register")
        self.assertEqual(s["requests"], 4000)  # one challenge and one answer each
        self.assertEqual(s["credentials"], {"MD5": 2000, "SHA-256": 0, "qop": 0})
        self.assertEqual(s["request_latency_ms"]["count"], 4000)
        # the reflector saw every request (and any retransmission: T1 is 500 ms)
        counts = re.search(r"received (\d+), replied 100 (\d+), 401 (\d+), 200 (\d+)", r.close())
        self.assertIsNotNone(counts)
        received, got_100, got_401, got_200 = (int(x) for x in counts.groups())
        self.assertEqual(received, 4000 + s["retransmissions"])
        self.assertEqual(got_100, 0)
        self.assertGreaterEqual(got_401, 2000)
        self.assertGreaterEqual(got_200, 2000)

    def test_register_with_100_trying(self):
        # --trying: a 100 before each final reply, as the seed's REGISTER route sends
        r = self.reflector("--trying")
        code, s, err = sipbench_json("register", "--target", r.target, "--users", USERS,
                                     "--password", PASSWORD, "--count", 500,
                                     "--concurrency", 20, "--timeout", 5)
        self.assertEqual(code, 0, err)
        self.check_complete(s, 500)
        self.assertEqual(s["requests"], 1000)
        counts = re.search(r"received (\d+), replied 100 (\d+), 401 (\d+), 200 (\d+)", r.close())
        self.assertIsNotNone(counts)
        received, got_100, got_401, got_200 = (int(x) for x in counts.groups())
        self.assertEqual(got_100, received)  # one per REGISTER, retransmissions too
        self.assertEqual(got_401 + got_200, received)
        # every 100 reached sipbench: four responses per registration
        self.assertEqual(s["responses"], 4 * 500 + 2 * s["retransmissions"])

    def test_register_sha256_qop_threads_sockets_csv(self):
        # the reflector offers SHA-256 then MD5, with qop: the first supported one is taken
        r = self.reflector("--algorithm", "SHA-256,MD5", "--qop", "--threads", "2")
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write("SEQUENTIAL\n# sipp -inf format\n")
            f.writelines("u%d;secret%d\n" % (i, i) for i in range(100))
        self.addCleanup(os.unlink, f.name)
        code, s, err = sipbench_json("register", "--target", r.target, "--csv", f.name,
                                     "--qop", "--count", 1000, "--concurrency", 40,
                                     "--threads", 2, "--sockets", 2, "--batch", 8,
                                     "--timeout", 5)
        self.assertEqual(code, 0, err)
        self.check_complete(s, 1000)
        self.assertEqual(s["credentials"], {"MD5": 0, "SHA-256": 1000, "qop": 1000})
        self.assertEqual((s["threads"], s["sockets"]), (2, 2))
        code, s, err = sipbench_json("register", "--target", r.target, "--csv", f.name,
                                     "--algorithm", "MD5", "--count", 100, "--timeout", 5)
        self.assertEqual(code, 0, err)
        self.assertEqual(s["credentials"], {"MD5": 100, "SHA-256": 0, "qop": 0})

    def test_options_and_text_summary(self):
        r = self.reflector()
        code, out, err, _ = sipbench("options", "--target", r.target, "--count", 3000,
                                     "--concurrency", 100, "--timeout", 5)
        self.assertEqual(code, 0, out + err)
        self.assertIn("completed         3000", out)
        for word in ("p50", "p90", "p99", "p99.9", "timeouts", "failed"):
            self.assertIn(word, out)

    def test_open_loop_rate_is_bounded_and_paced(self):
        r = self.reflector()
        code, s, err = sipbench_json("register", "--target", r.target, "--users", USERS,
                                     "--password", PASSWORD, "--rate", 400, "--duration", 1.5,
                                     "--timeout", 5)
        self.assertEqual(code, 0, err)
        self.assertEqual(s["loop"], "open")
        # 400/s for 1.5 s: 600 starts, spread over the whole window
        self.assertTrue(590 <= s["started"] <= 601, s)
        self.assertEqual(s["completed"], s["started"])
        self.assertTrue(1.3 <= s["start_elapsed_s"] <= 1.6, s)
        # --burst 100 at 400/s: 100 at once every 0.25 s, at 0, 0.25, ... 1.0 s
        code, s, err = sipbench_json("options", "--target", r.target, "--rate", 400,
                                     "--burst", 100, "--duration", 1.1, "--timeout", 5)
        self.assertEqual(code, 0, err)
        self.assertEqual((s["started"], s["completed"]), (500, 500), s)
        self.assertTrue(0.95 <= s["start_elapsed_s"] <= 1.1, s)

    def test_closed_loop_duration_is_bounded(self):
        r = self.reflector()
        code, s, err = sipbench_json("options", "--target", r.target, "--concurrency", 20,
                                     "--duration", 1, "--timeout", 5)
        self.assertEqual(code, 0, err)
        self.assertEqual(s["loop"], "closed")
        self.assertGreater(s["completed"], 100)
        self.assertLess(s["start_elapsed_s"], 1.2)
        self.assertLess(s["elapsed_s"], 1.5 * SLOW)

    def test_progress_line(self):
        r = self.reflector()
        code, out, err, _ = sipbench("options", "--target", r.target, "--rate", 200,
                                     "--duration", 2.5, "--timeout", 5)
        self.assertEqual(code, 0, err)
        self.assertGreaterEqual(err.count("sipbench: "), 2, err)
        self.assertIn("in flight", err)
        code, out, err, _ = sipbench("options", "--target", r.target, "--rate", 200,
                                     "--duration", 1.5, "--timeout", 5, "--quiet")
        self.assertEqual((code, err), (0, ""))

    def test_no_answer_times_out_in_time(self):
        # nothing listens on this port: every request is retransmitted, then times out
        r = Reflector()
        port = r.port
        r.close()
        t0 = time.monotonic()
        code, s, err = sipbench_json("options", "--target", "127.0.0.1:%d" % port, "--count", 5,
                                     "--concurrency", 5, "--timeout", 1.2)
        took = time.monotonic() - t0
        self.assertEqual(code, 1, err)
        self.assertEqual(s["timeouts"], 5)
        self.assertEqual(s["completed"], 0)
        self.assertLess(took, 10 * SLOW)

    def test_usage_errors(self):
        cases = [
            [],
            ["bogus"],
            ["register", "--target", "127.0.0.1:5060"],  # no users
            ["register", "--target", "127.0.0.1:5060", "--users", "9..1"],
            ["register", "--target", "127.0.0.1:5060", "--users", "1..9", "--csv", "x"],
            ["register", "--target", "127.0.0.1:5060", "--users", "1..9", "--algorithm", "SHA1"],
            ["options"],  # no target
            ["options", "--target", "127.0.0.1:5060", "--rate", "10", "--concurrency", "5"],
            ["options", "--target", "127.0.0.1:5060", "--rate", "0"],
            ["options", "--target", "127.0.0.1:5060", "--users", "1..9"],
            ["options", "--target", "127.0.0.1:5060", "--threads", "4", "--concurrency", "2"],
            ["options", "--target", "127.0.0.1:5060", "--burst", "4"],  # without --rate
            ["reflect"],
            ["reflect", "--listen", "127.0.0.1:0", "--algorithm", "MD4"],
        ]
        for args in cases:
            code, out, err, _ = sipbench(*args, timeout=10)
            self.assertEqual(code, 2, "%s: %s %s" % (args, out, err))
            self.assertTrue(err.startswith("sipbench"), err)
        code, out, _, _ = sipbench("--help", timeout=10)
        self.assertEqual(code, 0)
        self.assertIn("--concurrency", out)


class SipbenchSipdTest(DatabaseTestCase):
    """sipbench against a real sipd: the seed's REGISTER route over a MariaDB subscriber table."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        first, last = (int(x) for x in USERS.split(".."))
        values = ", ".join("('%d', '127.0.0.1', 'pw%d', '', '')" % (i, i)
                           for i in range(first, last + 1))
        cls.db.sql("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES " +
                   values)

    def registrar(self, qop=False):
        """sipd with examples/registrar.json's routes (qop=auth in the challenge when asked),
        calculate_ha1 from the password column, an in-memory usrloc, no bans."""
        routes = json.loads(json.dumps(SEED["routes"]))
        if qop:
            challenge = routes["2"][1]["then"][0]
            self.assertEqual(challenge, {"www_challenge": ["", "0"]})
            challenge["www_challenge"][1] = "1"
        modules = json.loads(json.dumps(SEED["modules"]))
        modules["usrloc"] = {"db_mode": 0}
        modules["auth"] = {"secret": "sipbench-test", "ban_failures": 0, "ban_user_failures": 0}
        return self.new_sipd(routes, db_url=self.db.url, modules=modules)

    def register(self, sipd, *args):
        return sipbench_json("register", "--target", "127.0.0.1:%d" % sipd.port, "--users",
                             USERS, "--count", 200, "--concurrency", 50, "--timeout",
                             10 * SLOW, *args, timeout=120)

    def test_register_md5_sha256_with_and_without_qop(self):
        for qop in (False, True):
            sipd = self.registrar(qop=qop)
            for alg in ("MD5", "SHA-256"):
                args = ["--password", PASSWORD, "--algorithm", alg] + (["--qop"] if qop else [])
                code, s, err = self.register(sipd, *args)
                what = "%s qop=%s" % (alg, qop)
                self.assertEqual(code, 0, "%s: %s %s" % (what, s, err))
                self.assertEqual((s["started"], s["completed"], s["failed"], s["timeouts"]),
                                 (200, 200, 0, 0), what)
                self.assertEqual(s["credentials"][alg], 200, what)
                self.assertEqual(s["credentials"]["qop"], 200 if qop else 0, what)
                self.assertGreater(s["latency_ms"]["p99.9"], 0)
            self.assertEqual(sipd.stats()["usrloc"]["aors"], 200)

    def test_wrong_password_fails_by_status(self):
        sipd = self.registrar()
        code, s, err = self.register(sipd, "--password", "not-{user}")
        self.assertEqual(code, 1, err)
        self.assertEqual(s["completed"], 0)
        self.assertEqual(s["failed"], 200)
        self.assertEqual(s["failed_by_status"], {"401": 200})
        self.assertEqual(s["timeouts"], 0)
        self.assertEqual(sipd.stats()["usrloc"]["aors"], 0)

    def test_options(self):
        sipd = self.new_sipd()  # examples/options.json: OPTIONS -> 200
        code, s, err = sipbench_json("options", "--target", "127.0.0.1:%d" % sipd.port,
                                     "--count", 2000, "--concurrency", 50,
                                     "--timeout", 10 * SLOW, timeout=120)
        self.assertEqual(code, 0, err)
        self.assertEqual((s["completed"], s["failed"], s["timeouts"]), (2000, 0, 0))
        code, s, err = sipbench_json("options", "--target", "[::1]:%d" % sipd.port,
                                     "--rate", 500, "--duration", 1, "--timeout", 10 * SLOW,
                                     timeout=120)
        self.assertEqual(code, 0, err)
        self.assertEqual(s["completed"], s["started"])
        self.assertGreater(s["completed"], 400)


if __name__ == "__main__":
    unittest.main()
