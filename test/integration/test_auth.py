"""Integration tests of digest authentication: the seed's REGISTER route (examples/registrar.json)
against a real MariaDB subscriber table, with raw UDP, sipp [authentication] and sipsak."""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import unittest

from sipdtest import (SCENARIOS, SIPCTL, SLOW, SRC_DIR, DatabaseTestCase, Udp, header,
                      sip_request, status_of)
from test_registrar import sipp_register

with open(os.path.join(SRC_DIR, "examples/registrar.json")) as f:
    SEED = json.load(f)

REALM = "127.0.0.1"


def H(alg, text):
    h = hashlib.sha256() if alg == "SHA-256" else hashlib.md5()
    h.update(text.encode())
    return h.hexdigest()


def challenges(reply):
    """[{param: value}] of every WWW-Authenticate / Proxy-Authenticate, in order."""
    out = []
    for line in reply.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() in ("www-authenticate", "proxy-authenticate"):
            pairs = re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', value)
            out.append({k: (a or b) for k, a, b in pairs})
    return out


def credentials(alg, user, password, nonce, uri, method="REGISTER", qop=None, nc="00000001",
                cnonce="0a4f113b", realm=REALM, response=None):
    ha1 = H(alg, "%s:%s:%s" % (user, realm, password))
    ha2 = H(alg, "%s:%s" % (method, uri))
    if qop:
        resp = H(alg, "%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
    else:
        resp = H(alg, "%s:%s:%s" % (ha1, nonce, ha2))
    resp = response or resp
    value = 'Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=%s' % (
        user, realm, nonce, uri, resp, alg)
    if qop:
        value += ", qop=%s, nc=%s, cnonce=\"%s\"" % (qop, nc, cnonce)
    return value


class Phone:
    """A UDP phone registering as user with raw messages, to see every byte."""

    def __init__(self, sipd, user):
        self.sipd, self.user = sipd, user
        self.peer = Udp()
        self.cseq = 0
        self.call_id = "auth-%s-%d-%f" % (user, os.getpid(), time.time())
        self.uri = "sip:127.0.0.1:%d" % sipd.port

    def register(self, auth=None, to_user=None, expires=600):
        self.cseq += 1
        extra = "Contact: <sip:%s@192.0.2.5:5060>\r\nExpires: %d\r\n" % (self.user, expires)
        if auth:
            extra += "Authorization: %s\r\n" % auth
        req = sip_request("REGISTER", self.uri, via_port=self.peer.port, call_id=self.call_id,
                          extra=extra)
        req = req.replace(b"CSeq: 1 REGISTER", b"CSeq: %d REGISTER" % self.cseq)
        req = req.replace(b"To: <%s>" % self.uri.encode(),
                          b"To: <sip:%s@127.0.0.1>" % (to_user or self.user).encode())
        req = req.replace(b"From: <sip:tester@example.com>",
                          b"From: <sip:%s@127.0.0.1>" % self.user.encode())
        self.peer.send(req, self.sipd.port)
        replies = []
        while True:
            reply, _ = self.peer.recv(2.0)
            if reply is None:
                break
            replies.append(reply)
            if status_of(reply) >= 200:
                break
        return replies

    def close(self):
        self.peer.close()


class AuthTest(DatabaseTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.db.sql("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES "
                   "('1000', '127.0.0.1', 'password1', MD5('1000:127.0.0.1:password1'), ''), "
                   "('1001', '127.0.0.1', 'password2', MD5('1001:127.0.0.1:password2'), '')")

    def seed_sipd(self, auth=None, **kw):
        modules = json.loads(json.dumps(SEED["modules"]))
        modules["usrloc"] = {"db_mode": 0}
        modules["auth"] = dict({"secret": "test-secret"}, **(auth or {}))
        return self.new_sipd(SEED["routes"], db_url=self.db.url, modules=modules, **kw)

    def phone(self, sipd, user):
        p = Phone(sipd, user)
        self.addCleanup(p.close)
        return p

    def test_challenge_then_both_algorithms(self):
        sipd = self.seed_sipd()
        for alg in ("SHA-256", "MD5"):
            p = self.phone(sipd, "1000")
            replies = p.register()
            self.assertEqual([status_of(r) for r in replies], [100, 401])
            ch = challenges(replies[1])
            self.assertEqual([c["algorithm"] for c in ch], ["SHA-256", "MD5"])
            self.assertTrue(all(c["realm"] == REALM for c in ch))
            nonce = [c for c in ch if c["algorithm"] == alg][0]["nonce"]
            replies = p.register(credentials(alg, "1000", "password1", nonce, p.uri))
            self.assertEqual(status_of(replies[-1]), 200, replies[-1])
            self.assertIn(b"Contact: <sip:1000@192.0.2.5:5060>;expires=", replies[-1])
        self.assertEqual(sipd.stats()["usrloc"]["contacts"], 1)

    def test_wrong_password_and_unknown_user_look_alike(self):
        sipd = self.seed_sipd()
        p = self.phone(sipd, "1000")
        nonce = challenges(p.register()[-1])[1]["nonce"]
        wrong = p.register(credentials("MD5", "1000", "nope", nonce, p.uri))[-1]
        q = self.phone(sipd, "7777")
        nonce2 = challenges(q.register()[-1])[1]["nonce"]
        unknown = q.register(credentials("MD5", "7777", "whatever", nonce2, q.uri))[-1]
        self.assertEqual(status_of(wrong), 401)
        self.assertEqual(status_of(unknown), 401)

        def shape(reply):
            lines = [l.split(":", 1)[0] for l in reply.decode().split("\r\n") if l]
            ch = [sorted(c) for c in challenges(reply)]
            return lines, ch
        self.assertEqual(shape(wrong), shape(unknown))
        self.assertEqual(sipd.stats()["usrloc"]["contacts"], 0)

    def test_check_to(self):
        sipd = self.seed_sipd()
        p = self.phone(sipd, "1000")
        nonce = challenges(p.register(to_user="1001")[-1])[1]["nonce"]
        reply = p.register(credentials("MD5", "1000", "password1", nonce, p.uri), to_user="1001")[-1]
        self.assertEqual(status_of(reply), 401)
        self.assertEqual(challenges(reply), [])  # the seed's plain 401, no new challenge
        self.assertEqual(sipd.stats()["usrloc"]["contacts"], 0)

    def test_stale_nonce_and_replayed_nc(self):
        sipd = self.seed_sipd(auth={"nonce_expire": 1})
        p = self.phone(sipd, "1000")
        nonce = challenges(p.register()[-1])[1]["nonce"]
        time.sleep(2.2)
        reply = p.register(credentials("MD5", "1000", "password1", nonce, p.uri))[-1]
        self.assertEqual(status_of(reply), 401)
        self.assertTrue(all(c.get("stale") == "true" for c in challenges(reply)), reply)
        # qop=auth: a fresh nonce, nc 1 accepted, the same nc again refused
        sipd2 = self.new_sipd(SEED["routes"], db_url=self.db.url, modules=dict(
            SEED["modules"], usrloc={"db_mode": 0}, auth={"secret": "s"}))
        p2 = self.phone(sipd2, "1000")
        nonce = challenges(p2.register()[-1])[1]["nonce"]
        cred = credentials("MD5", "1000", "password1", nonce, p2.uri, qop="auth")
        self.assertEqual(status_of(p2.register(cred)[-1]), 200)
        replay = p2.register(cred)[-1]
        self.assertEqual(status_of(replay), 401)
        cred2 = credentials("MD5", "1000", "password1", nonce, p2.uri, qop="auth", nc="00000002")
        self.assertEqual(status_of(p2.register(cred2)[-1]), 200)

    def test_sql_metacharacters_are_data(self):
        sipd = self.seed_sipd()
        for user in ("x' OR '1'='1", "1000\\\\", "1000'; DROP TABLE subscriber; --"):
            p = self.phone(sipd, "1000")
            nonce = challenges(p.register()[-1])[1]["nonce"]
            reply = p.register(credentials("MD5", user, "password1", nonce, p.uri))[-1]
            self.assertEqual(status_of(reply), 401)
        self.assertEqual(self.db.count("subscriber"), 2)
        self.assertEqual(status_of(Phone(sipd, "1000").register()[-1]), 401)

    def test_banned_after_failures(self):
        sipd = self.seed_sipd(auth={"ban_user_failures": 3, "ban_failures": 0})
        p = self.phone(sipd, "1001")
        for _ in range(3):
            nonce = challenges(p.register()[-1])[1]["nonce"]
            p.register(credentials("MD5", "1001", "wrong", nonce, p.uri))
        # even the right password fails while banned
        nonce = challenges(p.register()[-1])[1]["nonce"]
        reply = p.register(credentials("MD5", "1001", "password2", nonce, p.uri))[-1]
        self.assertNotEqual(status_of(reply), 200)
        bans = sipd.rpc("auth.ban_list")["result"]
        self.assertEqual([b["key"] for b in bans], ["user:1001"])
        p2 = subprocess.run([SIPCTL, "-s", sipd.ctl, "ban", "list"], capture_output=True,
                            timeout=10)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertIn(b"user:1001", p2.stdout)
        p2 = subprocess.run([SIPCTL, "-s", sipd.ctl, "ban", "rm", "user:1001"],
                            capture_output=True, timeout=10)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        p2 = subprocess.run([SIPCTL, "-s", sipd.ctl, "ban", "rm", "user:1001"],
                            capture_output=True, timeout=10)
        self.assertEqual(p2.returncode, 1)
        self.assertIn(b"no ban", p2.stderr)
        nonce = challenges(p.register()[-1])[1]["nonce"]
        reply = p.register(credentials("MD5", "1001", "password2", nonce, p.uri))[-1]
        self.assertEqual(status_of(reply), 200)

    def test_database_down_cold_miss_is_500_cached_user_still_works(self):
        sipd = self.seed_sipd()
        p = self.phone(sipd, "1000")
        nonce = challenges(p.register()[-1])[1]["nonce"]
        self.assertEqual(status_of(p.register(credentials("MD5", "1000", "password1", nonce, p.uri))[-1]), 200)
        self.db.stop()
        try:
            nonce = challenges(p.register()[-1])[1]["nonce"]
            reply = p.register(credentials("MD5", "1000", "password1", nonce, p.uri))[-1]
            self.assertEqual(status_of(reply), 200)  # from the cache
            q = self.phone(sipd, "1001")
            nonce = challenges(q.register()[-1])[1]["nonce"]
            reply = q.register(credentials("MD5", "1001", "password2", nonce, q.uri))[-1]
            self.assertEqual(status_of(reply), 500)
            self.assertEqual(header(reply, "Retry-After"), "5")
        finally:
            self.db.start()

    def test_sipp_authentication(self):
        sipd = self.seed_sipd(auth={"algorithms": "MD5"})
        args = ["sipp", "127.0.0.1:%d" % sipd.port, "-sf",
                os.path.join(SCENARIOS, "register-auth.xml"), "-m", "20", "-r", "50",
                "-timeout", "%ds" % int(30 * SLOW), "-timeout_error", "-nostdin",
                "-au", "1000", "-ap", "password1", "-key", "user", "1000"]
        p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=90 * SLOW)
        self.assertEqual(p.returncode, 0, p.stdout.decode("latin-1")[-3000:])

    @unittest.skipUnless(shutil.which("sipsak"), "sipsak not installed")
    def test_sipsak_registers(self):
        # sipsak 0.9.8 writes only four digits of the port into its URIs:
        # give sipd a four-digit one
        port = None
        for candidate in range(5100 + os.getpid() % 4000, 9999):
            try:
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probe.bind(("127.0.0.1", candidate))
                probe.close()
                port = candidate
                break
            except OSError:
                continue
        sipd = self.seed_sipd(auth={"algorithms": "MD5"}, port=port,
                              listen=["udp:127.0.0.1:%d" % port])
        p = subprocess.run(["sipsak", "-U", "-s", "sip:1001@127.0.0.1:%d" % sipd.port,
                            "-u", "1001", "-a", "password2", "-C", "sip:1001@192.0.2.77:5070", "-i", "-vv"],
                           capture_output=True, timeout=60 * SLOW)
        out = p.stdout.decode("latin-1") + p.stderr.decode("latin-1")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("sip:1001@192.0.2.77:5070", json.dumps(sipd.rpc("ul.show", {"aor": "1001"})))

    def test_thousand_users_register_at_once(self):
        values = ", ".join("('u%d', '127.0.0.1', 'pw%d', '', '')" % (i, i) for i in range(1000))
        self.db.sql("DELETE FROM subscriber WHERE username LIKE 'u%'; "
                    "INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES " + values)
        sipd = self.seed_sipd(auth={"algorithms": "MD5"})
        peer = Udp()
        self.addCleanup(peer.close)
        uri = "sip:127.0.0.1:%d" % sipd.port

        def req(i, cseq, auth=None):
            user = "u%d" % i
            extra = "Contact: <sip:%s@192.0.2.9:5060>\r\nExpires: 600\r\n" % user
            if auth:
                extra += "Authorization: %s\r\n" % auth
            r = sip_request("REGISTER", uri, via_port=peer.port, call_id="k-%d" % i, extra=extra)
            r = r.replace(b"CSeq: 1 ", b"CSeq: %d " % cseq)
            r = r.replace(b"To: <%s>" % uri.encode(), b"To: <sip:%s@127.0.0.1>" % user.encode())
            return r.replace(b"From: <sip:tester@example.com>", b"From: <sip:%s@127.0.0.1>" % user.encode())

        pending = {i: req(i, 1) for i in range(1000)}
        for r in pending.values():
            peer.send(r, sipd.port)
        done = set()
        deadline = time.time() + 120 * SLOW
        while len(done) < 1000 and time.time() < deadline:
            reply, _ = peer.recv(2.0)
            if reply is None:
                for i, r in pending.items():  # retransmit what is unanswered
                    if i not in done:
                        peer.send(r, sipd.port)
                continue
            i = int(header(reply, "Call-ID").split("-")[1])
            code = status_of(reply)
            if code == 401 and i not in done:
                nonce = challenges(reply)[0]["nonce"]
                pending[i] = req(i, 2, credentials("MD5", "u%d" % i, "pw%d" % i, nonce, uri))
                peer.send(pending[i], sipd.port)
            elif code == 200:
                done.add(i)
        self.assertEqual(len(done), 1000)
        self.assertEqual(sipd.stats()["usrloc"]["aors"], 1000)


if __name__ == "__main__":
    unittest.main()
