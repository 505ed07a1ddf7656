"""Integration tests of the runtime: a real sipd with examples/options.json on loopback UDP,
driven by sipp and by raw datagrams; reload, signals, control socket, overload."""
import csv
import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from sipdtest import (SCENARIOS, SIPCTL, SIPD, SLOW, TORTURE_DIR, SipdTestCase, Udp, header,
                      sip_request, sipp, status_of)

# What examples/options.json does with each torture message sent as one datagram:
# the code of the reply sipd sends, or "drop" (no reply, counted as dropped), or
# "response" (a response: nothing to do without a transaction, counted).
# Replies come from the receiver's sanity verdict (MANIFEST.tsv "expected") or,
# for accepted requests, from the pipeline: Max-Forwards 0 -> 483, OPTIONS -> 200,
# anything else -> 404.
WIRE = {
    "wsinv": 404, "intmeth": 404, "esc01": 404, "escnull": 404, "esc02": 404,
    "lwsdisp": 200, "longreq": 404, "dblreq": 404, "semiuri": 200, "transports": 200,
    "mpart01": 404, "unreason": "response", "noreason": "response",
    "badinv01": 400, "clerr": 400, "ncl": 400, "scalar02": 400, "scalarlg": "drop",
    "quotbal": 400, "ltgtruri": 400, "lwsruri": 400, "lwsstart": 400, "trws": 400,
    "escruri": 400, "baddate": 404, "regbadct": 400, "badaspec": 400, "baddn": 400,
    "badvers": 505, "mismatch01": 400, "mismatch02": 501, "bigcode": "drop",
    "badbranch": 400, "insuf": 400, "unkscm": 416, "novelsc": 416, "unksm2": 404,
    "bext01": 420, "invut": 404, "regaut01": 404, "multi01": 400, "mcl01": 400,
    "bcast": "drop", "zeromf": 483, "cparam01": 404, "cparam02": 404, "regescrt": 404,
    "sdp01": 404, "inv2543": 404, "test": "drop",
    "ipv6-good": 404, "ipv6-bad": 400, "port-ambiguous": 404, "port-unambiguous": 404,
    "via-received-param-with-delim": 404, "via-received-param-no-delim": 200,
    "ipv6-in-sdp": 404, "mult-ip-in-header": 404, "mult-ip-in-sdp": 404,
    "ipv4-mapped-ipv6": 404, "ipv6-bug-abnf-3-colons": 400, "ipv6-correct-abnf-2-colons": 200,
}


def counters(st):
    return {
        "dropped": st["dropped"],
        "unmatched": st["unmatched_responses"],
        "codes": dict(st["reply_codes"]),
    }


class RuntimeTest(SipdTestCase):
    def options(self, sipd, host="127.0.0.1", **kw):
        peer = Udp(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.addCleanup(peer.close)
        bracketed = "[%s]" % host if ":" in host else host
        req = sip_request("OPTIONS", "sip:%s" % bracketed, via_host=bracketed, via_port=peer.port,
                          **kw)
        return peer.request(req, sipd.port, host)

    def test_sipp_options_ipv4_and_ipv6(self):
        sipd = self.new_sipd()
        code, out = sipp("options.xml", sipd.port, calls=300, rate=300)
        self.assertEqual(code, 0, out)
        code, out = sipp("options.xml", sipd.port, calls=100, rate=200, host="::1", local_ip="::1")
        self.assertEqual(code, 0, out)
        self.assertGreaterEqual(sipd.stats()["reply_codes"].get("200", 0), 400)

    def test_sipp_max_forwards_zero_gets_483(self):
        sipd = self.new_sipd()
        code, out = sipp("options-mf0.xml", sipd.port, calls=20, rate=100)
        self.assertEqual(code, 0, out)
        code, out = sipp("options-mf0.xml", sipd.port, calls=10, rate=100, host="::1",
                         local_ip="::1")
        self.assertEqual(code, 0, out)

    def test_message_over_max_len_gets_513(self):
        sipd = self.new_sipd(max_len=1200)
        pad = "X-Pad: " + "x" * 1300 + "\r\n"
        for host in ("127.0.0.1", "::1"):
            reply = self.options(sipd, host, extra=pad)
            self.assertEqual(status_of(reply), 513, host)
            self.assertIn(b"Message Overflow", reply)
            # under the limit: 200
            self.assertEqual(status_of(self.options(sipd, host)), 200, host)

    def test_received_and_rport(self):
        sipd = self.new_sipd()
        peer = Udp()
        self.addCleanup(peer.close)
        # sent-by names another host and port; rport asks for the source port
        req = sip_request("OPTIONS", "sip:127.0.0.1", via_host="192.0.2.77", via_port=5099)
        reply = peer.request(req, sipd.port)
        self.assertEqual(status_of(reply), 200)
        via = header(reply, "Via")
        self.assertIn("received=127.0.0.1", via)
        self.assertIn("rport=%d" % peer.port, via)
        # without rport: RFC 3261 18.2.2, to the source IP at the sent-by port
        req = sip_request("OPTIONS", "sip:127.0.0.1", via_host="192.0.2.77", via_port=peer.port,
                          rport=False)
        reply = peer.request(req, sipd.port)
        self.assertEqual(status_of(reply), 200)
        via = header(reply, "Via")
        self.assertIn("received=127.0.0.1", via)
        self.assertNotIn("rport", via)
        # IPv6 source
        peer6 = Udp(socket.AF_INET6)
        self.addCleanup(peer6.close)
        req = sip_request("OPTIONS", "sip:[::1]", via_host="[2001:db8::9]", via_port=5099)
        reply = peer6.request(req, sipd.port, "::1")
        self.assertEqual(status_of(reply), 200)
        self.assertIn("received=::1", header(reply, "Via"))

    def test_torture_datagrams(self):
        sipd = self.new_sipd()
        peer = Udp()
        self.addCleanup(peer.close)
        with open(os.path.join(TORTURE_DIR, "MANIFEST.tsv"), newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        self.assertEqual(set(r["name"] for r in rows), set(WIRE))
        for row in rows:
            with open(os.path.join(TORTURE_DIR, row["file"]), "rb") as f:
                data = f.read()
            want = WIRE[row["name"]]
            before = counters(sipd.stats())
            peer.send(data, sipd.port)
            deadline = time.time() + 3 * SLOW
            while True:
                after = counters(sipd.stats())
                changed = {k: after["codes"].get(k, 0) - before["codes"].get(k, 0)
                           for k in after["codes"]}
                changed = {k: v for k, v in changed.items() if v}
                if changed or after["dropped"] != before["dropped"] or \
                        after["unmatched"] != before["unmatched"] or time.time() > deadline:
                    break
                time.sleep(0.01)
            if want == "drop":
                self.assertEqual(after["dropped"] - before["dropped"], 1, row["name"])
                self.assertEqual(changed, {}, row["name"])
            elif want == "response":
                self.assertEqual(after["unmatched"] - before["unmatched"], 1, row["name"])
                self.assertEqual(changed, {}, row["name"])
            else:
                self.assertEqual(changed, {str(want): 1}, row["name"])
        # and it still answers
        self.assertEqual(status_of(self.options(sipd)), 200)
        self.assertEqual(sipd.proc.poll(), None)

    def test_sighup_with_broken_file_keeps_old_pipeline(self):
        sipd = self.new_sipd()
        self.assertEqual(status_of(self.options(sipd)), 200)
        sipd.write_config(text='{"routes": {"main": [{"sl_send_reply": [200, "OK"]}}')
        sipd.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5 * SLOW
        while sipd.stats()["reload_failures"] < 1 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(sipd.stats()["reload_failures"], 1)
        self.assertIn("reload failed", sipd.log())
        self.assertEqual(status_of(self.options(sipd)), 200)
        # a good file takes effect
        config = dict(sipd.config)
        config["routes"] = {"main": [{"sl_send_reply": [299, "Reloaded"]}]}
        sipd.write_config(config)
        sipd.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5 * SLOW
        while sipd.stats()["reloads"] < 1 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(status_of(self.options(sipd)), 299)

    def test_reload_over_control_socket(self):
        sipd = self.new_sipd()
        sipd.write_config(text='{"routes": {"main": [{"sl_send_replyy": [200, "OK"]}]}}')
        reply = sipd.rpc("core.reload")
        self.assertIn("error", reply)
        self.assertIn('unknown action "sl_send_replyy" (did you mean "sl_send_reply"?)',
                      reply["error"]["message"])
        self.assertEqual(status_of(self.options(sipd)), 200)
        # settings that need a restart are refused, the old config kept
        config = dict(sipd.config)
        config["children"] = 3
        sipd.write_config(config)
        reply = sipd.rpc("core.reload")
        self.assertIn("children: changing it needs a restart", reply["error"]["message"])
        # sipctl reload says the same and exits non-zero
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "reload"], capture_output=True, timeout=10)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"children: changing it needs a restart", p.stderr)

    def test_sipctl_version_and_stats(self):
        sipd = self.new_sipd()
        self.assertEqual(status_of(self.options(sipd)), 200)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "version"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"sipd", p.stdout)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "stats", "--json"], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        st = json.loads(p.stdout)
        self.assertGreaterEqual(st["requests"], 1)
        self.assertGreaterEqual(st["reply_codes"]["200"], 1)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "stats"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"requests", p.stdout)
        # sipd not running: a clear error, exit 1
        p = subprocess.run([SIPCTL, "-s", sipd.ctl + ".none", "version"], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b".none", p.stderr)

    def test_sigterm_under_load_exits_promptly(self):
        sipd = self.new_sipd()
        load = subprocess.Popen(["sipp", "127.0.0.1:%d" % sipd.port, "-sf",
                                 os.path.join(SCENARIOS, "options.xml"), "-m", "200000", "-r",
                                 "5000", "-timeout", "20s", "-nostdin"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (load.kill(), load.wait()))
        deadline = time.time() + 10 * SLOW
        while sipd.stats()["requests"] < 1000 and time.time() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(sipd.stats()["requests"], 1000)
        code, took = sipd.stop(signal.SIGTERM)
        self.assertEqual(code, 0, sipd.log())
        self.assertLess(took, 2.0 * SLOW)

    def test_overload_gets_503_with_retry_after(self):
        routes = {"main": [{"usleep": 20000}, {"sl_send_reply": [200, "OK"]}]}
        sipd = self.new_sipd(routes, children=1, queue_bound=16)
        peer = Udp()
        self.addCleanup(peer.close)
        for i in range(200):
            peer.send(sip_request("OPTIONS", "sip:127.0.0.1", via_port=peer.port,
                                  call_id="overload-%d" % i), sipd.port)
        codes = {}
        retry_after = None
        while True:
            reply, _ = peer.recv(2.0)
            if reply is None:
                break
            c = status_of(reply)
            codes[c] = codes.get(c, 0) + 1
            if c == 503:
                retry_after = header(reply, "Retry-After")
        self.assertGreater(codes.get(503, 0), 0, codes)
        self.assertGreater(codes.get(200, 0), 0, codes)
        self.assertEqual(retry_after, "5")
        self.assertGreater(sipd.stats()["overload"], 0)

    def test_check_and_bad_config_exit(self):
        good = self.new_sipd(start=False)
        p = subprocess.run([SIPD, "--check", "-c", good.path], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        good.write_config(text='{"children": 0, "routes": {"main": []}}')
        p = subprocess.run([SIPD, "--check", "-c", good.path], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode().strip(),
                         "%s: children: 0 is out of range (1 to 256)" % good.path)
        # starting with it fails the same way, before any socket is opened
        p = subprocess.run([SIPD, "-c", good.path], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"children: 0 is out of range", p.stderr)

    def test_port_in_use_is_a_clear_error(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", 0))
        self.addCleanup(blocker.close)
        port = blocker.getsockname()[1]
        sipd = self.new_sipd(start=False, port=port, listen=["udp:127.0.0.1:%d" % port])
        p = subprocess.run([SIPD, "-c", sipd.path], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"127.0.0.1:%d" % port, p.stderr)

    def test_fork_writes_pid_file(self):
        sipd = self.new_sipd(start=False)
        pid_file = os.path.join(sipd.dir, "sipd.pid")
        config = dict(sipd.config, fork=True, pid_file=pid_file)
        sipd.write_config(config)
        # the daemon keeps stderr (log_stderror): give it a file, not a pipe to wait on
        with open(os.path.join(sipd.dir, "daemon.log"), "wb") as log:
            p = subprocess.run([SIPD, "-c", sipd.path], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=log, timeout=10)
        self.assertEqual(p.returncode, 0)
        deadline = time.time() + 5 * SLOW
        while not os.path.exists(pid_file) and time.time() < deadline:
            time.sleep(0.05)
        with open(pid_file) as f:
            pid = int(f.read())

        def kill_daemon():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.addCleanup(kill_daemon)
        try:
            sipd.wait_ready()
            self.assertEqual(status_of(self.options(sipd)), 200)
        finally:
            os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5 * SLOW
        while os.path.exists(pid_file) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(pid_file))


if __name__ == "__main__":
    unittest.main()
