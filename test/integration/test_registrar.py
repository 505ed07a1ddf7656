"""Integration tests of the location service: registrar save/lookup semantics driven by sipp,
and persistence in a real MariaDB (restart, SIGKILL after a flush, outage, Kamailio schema)."""
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from sipdtest import (DB_SCRIPT, SCENARIOS, SIPCTL, SLOW, DatabaseTestCase, SipdTestCase, Udp,
                      header, sip_request, status_of)


# The routes of examples/registrar-noauth.json, plus lookups a test can observe:
# a request to a registered user gets 299 with the target in the reason phrase.
ROUTES = {
    "main": [
        {"if": {"not": {"mf_process_maxfwd_header": "10"}},
         "then": [{"sl_send_reply": ["483", "Too Many Hops"]}, "break"]},
        {"if": {"method": "REGISTER"},
         "then": [{"if": {"not": {"save": "location"}}, "then": ["sl_reply_error"]}, "break"]},
        {"if": {"method": "ACK"}, "then": ["break"]},
        {"if": {"lookup": "aliases"}, "then": [{"sl_send_reply": [298, "Alias"]}, "break"]},
        {"if": {"lookup": "location"}, "then": [{"sl_send_reply": [299, "Found"]}, "break"]},
        {"sl_send_reply": [404, "User Not Found"]},
    ]
}


def sipp_register(sipd, user, contact, expires, code=200, cseq=1, callid=None, extra=()):
    """One REGISTER through sipp; returns the reply text sipp logged."""
    callid = callid or "reg-%s-%d-%f" % (user, os.getpid(), time.time())
    log = tempfile.mktemp(prefix="sipp-", suffix=".log", dir=sipd.dir)
    args = ["sipp", "127.0.0.1:%d" % sipd.port, "-sf", os.path.join(SCENARIOS, "register-%d.xml" % code),
            "-m", "1", "-timeout", "%ds" % int(10 * SLOW), "-timeout_error", "-nostdin",
            "-key", "user", user, "-key", "contact", contact, "-key", "expires", str(expires),
            "-key", "reg_cseq", str(cseq), "-cid_str", callid, "-trace_logs", "-log_file", log]
    args += list(extra)
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60 * SLOW)
    text = ""
    if os.path.exists(log):
        with open(log, encoding="latin-1") as f:
            text = f.read()
    if p.returncode != 0:
        raise AssertionError("sipp REGISTER %s expecting %d failed (%d): %s\n%s" %
                             (user, code, p.returncode, p.stdout.decode("latin-1")[-2000:], text))
    return text


def contacts_in(reply):
    """{uri: expires} from the Contact lines of a 200."""
    out = {}
    for m in re.finditer(r"Contact: <([^>]+)>;expires=(\d+)", reply):
        out[m.group(1)] = int(m.group(2))
    return out


def request_to(sipd, user, method="OPTIONS"):
    peer = Udp()
    try:
        req = sip_request(method, "sip:%s@127.0.0.1:%d" % (user, sipd.port), via_port=peer.port)
        return peer.request(req, sipd.port)
    finally:
        peer.close()


class RegistrarMemoryTest(SipdTestCase):
    """RFC 3261 10.3 with db_mode 0."""

    def registrar(self, **reg):
        params = {"default_expires": 3600, "min_expires": 60}
        params.update(reg)
        return self.new_sipd(ROUTES, modules={"usrloc": {"db_mode": 0}, "registrar": params})

    def test_save_refresh_fetch_lookup(self):
        sipd = self.registrar()
        reply = sipp_register(sipd, "1000", "<sip:1000@192.0.2.10:5062>", 600)
        got = contacts_in(reply)
        self.assertIn("sip:1000@192.0.2.10:5062", got)
        self.assertTrue(590 <= got["sip:1000@192.0.2.10:5062"] <= 600)
        self.assertIn("Date: ", reply)
        # a second binding, then a refresh of the first with a longer lifetime
        sipp_register(sipd, "1000", "<sip:1000@192.0.2.11:5062>;q=0.5", 300)
        reply = sipp_register(sipd, "1000", "<sip:1000@192.0.2.10:5062>", 1200, cseq=2)
        got = contacts_in(reply)
        self.assertEqual(len(got), 2)
        self.assertTrue(1190 <= got["sip:1000@192.0.2.10:5062"] <= 1200)
        self.assertIn(";q=0.5", reply)
        # lookup finds it; an unknown user is 404
        self.assertEqual(status_of(request_to(sipd, "1000")), 299)
        self.assertEqual(status_of(request_to(sipd, "1999")), 404)
        st = sipd.stats()["usrloc"]
        self.assertEqual(st["aors"], 1)
        self.assertEqual(st["contacts"], 2)

    def test_fetch_without_contact(self):
        sipd = self.registrar()
        sipp_register(sipd, "1001", "<sip:1001@192.0.2.20>", 600)
        peer = Udp()
        self.addCleanup(peer.close)
        req = sip_request("REGISTER", "sip:127.0.0.1:%d" % sipd.port, via_port=peer.port)
        req = req.replace(b"To: <sip:127.0.0.1:%d>" % sipd.port, b"To: <sip:1001@127.0.0.1>")
        reply = peer.request(req, sipd.port)
        self.assertEqual(status_of(reply), 200)
        self.assertIn(b"Contact: <sip:1001@192.0.2.20>;expires=", reply)

    def test_unregister_with_expires_zero_and_star(self):
        sipd = self.registrar()
        sipp_register(sipd, "1002", "<sip:1002@192.0.2.30>", 600)
        sipp_register(sipd, "1002", "<sip:1002@192.0.2.31>", 600)
        reply = sipp_register(sipd, "1002", "<sip:1002@192.0.2.30>", 0, cseq=2)
        self.assertEqual(list(contacts_in(reply)), ["sip:1002@192.0.2.31"])
        reply = sipp_register(sipd, "1002", "*", 0, cseq=3)
        self.assertEqual(contacts_in(reply), {})
        self.assertEqual(status_of(request_to(sipd, "1002")), 404)
        # * with a non-zero Expires is a bad request
        sipp_register(sipd, "1002", "*", 60, code=400, cseq=4)

    def test_min_expires_raise_and_423(self):
        sipd = self.registrar()
        reply = sipp_register(sipd, "1003", "<sip:1003@192.0.2.40>", 10)
        self.assertTrue(50 <= contacts_in(reply)["sip:1003@192.0.2.40"] <= 60)
        sipd2 = self.registrar(min_expires_mode=1)
        reply = sipp_register(sipd2, "1003", "<sip:1003@192.0.2.40>", 10, code=423)
        self.assertIn("Min-Expires: 60", reply)

    def test_max_contacts_reject_and_evict(self):
        sipd = self.registrar(max_contacts=2)
        sipp_register(sipd, "1004", "<sip:1004@192.0.2.50>", 600)
        sipp_register(sipd, "1004", "<sip:1004@192.0.2.51>", 600)
        reply = sipp_register(sipd, "1004", "<sip:1004@192.0.2.52>", 600, code=503)
        self.assertIn("P-Registrar-Error:", reply)
        self.assertIn("Retry-After:", reply)
        sipd2 = self.registrar(max_contacts=2, max_contacts_mode=1)
        sipp_register(sipd2, "1004", "<sip:1004@192.0.2.50>", 600)
        time.sleep(1.1)
        sipp_register(sipd2, "1004", "<sip:1004@192.0.2.51>", 600)
        reply = sipp_register(sipd2, "1004", "<sip:1004@192.0.2.52>", 600)
        self.assertEqual(sorted(contacts_in(reply)), ["sip:1004@192.0.2.51", "sip:1004@192.0.2.52"])

    def test_out_of_order_cseq_updates_nothing(self):
        sipd = self.registrar()
        sipp_register(sipd, "1005", "<sip:1005@192.0.2.60>", 600, cseq=10, callid="same-call")
        reply = sipp_register(sipd, "1005", "<sip:1005@192.0.2.60>", 0, cseq=9, callid="same-call")
        self.assertIn("sip:1005@192.0.2.60", contacts_in(reply))
        reply = sipp_register(sipd, "1005", "<sip:1005@192.0.2.60>", 0, cseq=11, callid="same-call")
        self.assertEqual(contacts_in(reply), {})

    def test_expiry(self):
        sipd = self.new_sipd(ROUTES, modules={"usrloc": {"db_mode": 0, "timer_interval": 1},
                                              "registrar": {"min_expires": 1}})
        sipp_register(sipd, "1006", "<sip:1006@192.0.2.70>", 2)
        self.assertEqual(status_of(request_to(sipd, "1006")), 299)
        time.sleep(2.2)
        # expired contacts are never returned, even before the timer purges them
        self.assertEqual(status_of(request_to(sipd, "1006")), 404)
        deadline = time.time() + 5 * SLOW
        while sipd.stats()["usrloc"]["contacts"] and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(sipd.stats()["usrloc"]["contacts"], 0)
        self.assertGreaterEqual(sipd.stats()["usrloc"]["expired"], 1)

    def test_aliases_and_sipctl(self):
        sipd = self.registrar()
        sipp_register(sipd, "1007", "<sip:1007@192.0.2.80>", 600)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "alias", "add", "sales", "sip:1007@127.0.0.1"],
                           capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(status_of(request_to(sipd, "sales")), 298)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "ul", "show", "1007"], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"sip:1007@192.0.2.80", p.stdout)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "ul", "rm", "1007"], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(status_of(request_to(sipd, "1007")), 404)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "alias", "rm", "sales"], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(status_of(request_to(sipd, "sales")), 404)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "ul", "show", "nobody"], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not found", p.stderr)


if __name__ == "__main__":
    unittest.main()


def register_many(sipd, users, expires=3600, first=0):
    """REGISTERs users first..first+users-1 over raw UDP, a window at a time; returns 200s."""
    peer = Udp()
    ok = 0
    try:
        pending = {}
        n = first
        while n < first + users or pending:
            while n < first + users and len(pending) < 50:
                user = str(100000 + n)
                req = sip_request("REGISTER", "sip:127.0.0.1:%d" % sipd.port, via_port=peer.port,
                                  call_id="bulk-%s" % user,
                                  extra="Contact: <sip:%s@192.0.2.1:5060>\r\nExpires: %d\r\n" %
                                  (user, expires))
                req = req.replace(b"To: <sip:127.0.0.1:%d>" % sipd.port,
                                  b"To: <sip:%s@127.0.0.1>" % user.encode())
                pending[user] = req
                peer.send(req, sipd.port)
                n += 1
            reply, _ = peer.recv(3.0)
            if reply is None:
                for req in pending.values():  # retransmit what is unanswered
                    peer.send(req, sipd.port)
                continue
            cid = header(reply, "Call-ID")
            user = cid.split("-", 1)[1] if cid else None
            if user in pending and status_of(reply) == 200:
                del pending[user]
                ok += 1
    finally:
        peer.close()
    return ok


class RegistrarDatabaseTest(DatabaseTestCase):
    """db_mode 2 (the seed's) and 1 against a real MariaDB."""

    def setUp(self):
        self.db.sql("DELETE FROM location; DELETE FROM aliases")

    def registrar(self, mode=2, interval=60, **kw):
        return self.new_sipd(ROUTES, db_url=self.db.url,
                             modules={"usrloc": {"db_mode": mode, "timer_interval": interval}},
                             **kw)

    def test_restart_keeps_1000_registrations(self):
        sipd = self.registrar()
        self.assertEqual(register_many(sipd, 1000), 1000)
        self.assertEqual(self.db.count("location"), 0)  # write-back: not yet
        code, took = sipd.stop(signal.SIGTERM)
        self.assertEqual(code, 0, sipd.log())
        self.assertEqual(self.db.count("location"), 1000)
        sipd.start()
        st = sipd.stats()["usrloc"]
        self.assertEqual(st["aors"], 1000)
        self.assertEqual(st["contacts"], 1000)
        p = subprocess.run([SIPCTL, "-s", sipd.ctl, "--json", "ul", "show", "100123"],
                           capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"sip:100123@192.0.2.1:5060", p.stdout)
        # the remaining lifetime survived the restart (not reset to a full hour)
        m = re.search(rb'"expires": (\d+)', p.stdout)
        self.assertTrue(m and 3000 < int(m.group(1)) <= 3600, p.stdout)
        self.assertEqual(status_of(request_to(sipd, "100999")), 299)

    def test_write_back_updates_rows_in_place_and_deletes_what_left(self):
        sipd = self.registrar(interval=1)

        def rows():
            out = self.db.sql("SELECT id, contact, cseq FROM location WHERE username = '2100' "
                              "ORDER BY contact", "ser")
            return [tuple(line.split("\t")) for line in out.splitlines() if line]

        def wait_for(want):
            deadline = time.time() + 15 * SLOW
            while time.time() < deadline and rows() != want:
                time.sleep(0.2)
            self.assertEqual(rows(), want)

        a, b = "<sip:2100@192.0.2.91>", "<sip:2100@192.0.2.92>"
        sipp_register(sipd, "2100", a, 600, cseq=1)
        deadline = time.time() + 15 * SLOW
        while time.time() < deadline and len(rows()) != 1:
            time.sleep(0.2)
        self.assertEqual(len(rows()), 1)
        row_id = rows()[0][0]
        # a refresh: the same row updated, not deleted and inserted again (same id)
        sipp_register(sipd, "2100", a, 1200, cseq=2)
        wait_for([(row_id, "sip:2100@192.0.2.91", "2")])
        # a second contact, then the first one leaves: its row goes
        sipp_register(sipd, "2100", b, 600, cseq=3)
        sipp_register(sipd, "2100", a, 0, cseq=4)
        deadline = time.time() + 15 * SLOW
        while time.time() < deadline and [r[1] for r in rows()] != ["sip:2100@192.0.2.92"]:
            time.sleep(0.2)
        self.assertEqual([r[1:] for r in rows()], [("sip:2100@192.0.2.92", "3")])

    def test_ruids_stay_unique_across_quick_restarts(self):
        # each run's counter starts at 0: a node restarted within the second must
        # not reissue a ruid its previous run wrote (the write-back updates by ruid)
        sipd = self.registrar()
        for i in range(4):
            if i:
                sipd.start()
            self.assertEqual(register_many(sipd, 1, first=300 + i), 1)
            code, _ = sipd.stop(signal.SIGTERM)
            self.assertEqual(code, 0, sipd.log())
        out = self.db.sql("SELECT username, ruid FROM location WHERE username BETWEEN '100300' "
                          "AND '100303' ORDER BY username")
        rows = [line.split("\t") for line in out.splitlines() if line]
        self.assertEqual([r[0] for r in rows], ["100300", "100301", "100302", "100303"])
        self.assertEqual(len({r[1] for r in rows}), 4, rows)

    def test_sigkill_after_a_flush_loses_nothing_flushed(self):
        sipd = self.registrar(interval=1)
        self.assertEqual(register_many(sipd, 200), 200)
        deadline = time.time() + 10 * SLOW
        while self.db.count("location") < 200 and time.time() < deadline:
            time.sleep(0.3)
        sipd.stop(signal.SIGKILL)
        self.assertEqual(self.db.count("location"), 200)
        sipd.start()
        self.assertEqual(sipd.stats()["usrloc"]["contacts"], 200)

    def test_outage_keeps_answering_and_writes_later(self):
        sipd = self.registrar(interval=1)
        self.assertEqual(register_many(sipd, 100), 100)
        self.db.stop()
        try:
            # registrations go on from memory while the database is away
            self.assertEqual(register_many(sipd, 100, first=100), 100)
            time.sleep(2.5)
            self.assertFalse(sipd.stats()["usrloc"]["db_up"])
        finally:
            self.db.start()
        deadline = time.time() + 30 * SLOW
        while time.time() < deadline:
            try:
                if self.db.count("location") == 200:
                    break
            except AssertionError:
                pass
            time.sleep(0.5)
        self.assertEqual(self.db.count("location"), 200)
        log = sipd.log()
        self.assertEqual(log.count("unreachable"), 1, log)
        self.assertEqual(log.count("reachable again"), 1, log)

    def test_write_through(self):
        sipd = self.registrar(mode=1)
        sipp_register(sipd, "2000", "<sip:2000@192.0.2.90>", 600)
        self.assertEqual(self.db.count("location", where="username='2000'"), 1)
        sipp_register(sipd, "2000", "<sip:2000@192.0.2.90>", 0, cseq=2)
        self.assertEqual(self.db.count("location", where="username='2000'"), 0)

    def test_kamailio_schema(self):
        subprocess.run([DB_SCRIPT, "load-kamailio", self.db.dir], capture_output=True,
                       timeout=120, check=True)
        url = self.db.url.rsplit("/", 1)[0] + "/kamailio"
        self.db.sql("GRANT ALL ON kamailio.* TO 'ser'@'localhost'; "
                    "GRANT ALL ON kamailio.* TO 'ser'@'127.0.0.1'")
        sipd = self.new_sipd(ROUTES, db_url=url,
                             modules={"usrloc": {"db_mode": 1, "timer_interval": 60}})
        sipp_register(sipd, "3000", "<sip:3000@192.0.2.99>", 600)
        self.assertEqual(self.db.count("location", db="kamailio"), 1)
        sipd.stop(signal.SIGTERM)
        sipd.start()
        self.assertEqual(status_of(request_to(sipd, "3000")), 299)


    def test_wrong_table_version_refuses_to_start(self):
        # Kamailio refuses a table whose recorded layout it does not read; so does sipd
        self.db.sql("USE ser; UPDATE version SET table_version = 7 WHERE table_name = 'location'")
        self.addCleanup(self.db.sql, "USE ser; UPDATE version SET table_version = 9 "
                                     "WHERE table_name = 'location'")
        sipd = self.new_sipd(ROUTES, db_url=self.db.url, start=False,
                             modules={"usrloc": {"db_mode": 2}})
        sipd.start(wait=False)
        code = sipd.proc.wait(timeout=30)
        self.assertNotEqual(code, 0)
        self.assertIn("db_url: table location has layout version 7 in the version table; sipd "
                      "reads version 9", sipd.log())


class SharedDatabaseTest(DatabaseTestCase):
    """Several sipd instances on one database: db_mode 3, and server_id in write-back."""

    def test_db_only_mode_shares_registrations(self):
        mods = {"usrloc": {"db_mode": 3}}
        a = self.new_sipd(ROUTES, db_url=self.db.url, modules=mods, server_id=1)
        b = self.new_sipd(ROUTES, db_url=self.db.url, modules=mods, server_id=2)
        sipp_register(a, "4000", "<sip:4000@192.0.2.110>", 600)
        # registered on a, found on b: nothing is cached
        self.assertEqual(status_of(request_to(b, "4000")), 299)
        reply = sipp_register(b, "4000", "<sip:4000@192.0.2.111>", 600)
        self.assertIn("sip:4000@192.0.2.110", contacts_in(reply))
        self.assertIn("sip:4000@192.0.2.111", contacts_in(reply))

    def test_write_back_nodes_keep_their_own_rows(self):
        mods = {"usrloc": {"db_mode": 2, "timer_interval": 1}}
        a = self.new_sipd(ROUTES, db_url=self.db.url, modules=mods, server_id=11)
        b = self.new_sipd(ROUTES, db_url=self.db.url, modules=mods, server_id=12)
        sipp_register(a, "5000", "<sip:5000@192.0.2.120>", 600)
        sipp_register(b, "5000", "<sip:5000@192.0.2.121>", 600)
        deadline = time.time() + 10 * SLOW
        while self.db.count("location", where="username='5000'") < 2 and time.time() < deadline:
            time.sleep(0.3)
        # b unregisters its binding: a's row stays
        sipp_register(b, "5000", "<sip:5000@192.0.2.121>", 0, cseq=2)
        deadline = time.time() + 10 * SLOW
        while self.db.count("location", where="username='5000'") != 1 and time.time() < deadline:
            time.sleep(0.3)
        self.assertEqual(self.db.count("location", where="username='5000' AND server_id=11"), 1)
        self.assertEqual(self.db.count("location", where="server_id=12"), 0)

    def test_db_only_mode_expires_its_rows(self):
        a = self.new_sipd(ROUTES, db_url=self.db.url, server_id=21,
                          modules={"usrloc": {"db_mode": 3, "timer_interval": 1},
                                   "registrar": {"min_expires": 1}})
        sipp_register(a, "6000", "<sip:6000@192.0.2.130>", 2)
        self.assertEqual(self.db.count("location", where="username='6000'"), 1)
        deadline = time.time() + 10 * SLOW
        while self.db.count("location", where="username='6000'") and time.time() < deadline:
            time.sleep(0.3)
        self.assertEqual(self.db.count("location", where="username='6000'"), 0)
        self.assertEqual(status_of(request_to(a, "6000")), 404)
