"""Integration tests of sipctl add/passwd/rm/list (serctl's user verbs) against a real MariaDB:
the rows they write, their errors and exit codes, and the cache invalidation they ask of sipd."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest

from sipdtest import SIPCTL, SRC_DIR, DatabaseTestCase

EXTRAS_SQL = os.path.join(SRC_DIR, "sql/sipd-extras.sql")


class FakeSipd:
    """A control socket that records one JSON-RPC request per connection and answers it."""

    def __init__(self, path, error=None):
        self.path = path
        self.error = error
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            req = json.loads(buf)
            self.requests.append(req)
            reply = {"jsonrpc": "2.0", "id": req.get("id")}
            if self.error:
                reply["error"] = {"code": -32601, "message": self.error}
            else:
                reply["result"] = {"removed": 1}
            conn.sendall((json.dumps(reply) + "\n").encode())

    def close(self):
        self.sock.close()
        self.thread.join(5)


class SipctlUsersTest(DatabaseTestCase):
    """One MariaDB for the class; each test starts from an empty subscriber table."""

    def setUp(self):
        self.db.sql("DELETE FROM subscriber")
        self.dir = tempfile.mkdtemp(prefix="sipctl-users-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.ctl = os.path.join(self.dir, "ctl")  # nobody listens: sipd is not running

    def config(self, auth_db=None, **core):
        """A config.json like the seed's ser.cfg (calculate_ha1 1, password_column "password")."""
        cfg = {"db_url": self.db.url, "listen": ["udp:127.0.0.1:5099", "udp:[::1]:5099"],
               "ctl_socket": self.ctl,
               "modules": {"auth_db": {"calculate_ha1": 1, "password_column": "password"}}}
        if auth_db is not None:
            cfg["modules"]["auth_db"] = auth_db
        cfg.update(core)
        path = os.path.join(self.dir, "config-%d.json" % len(os.listdir(self.dir)))
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def sipctl(self, *args):
        p = subprocess.run([SIPCTL] + list(args), capture_output=True, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def row(self, user, domain, columns="password, ha1, ha1b"):
        out = self.db.sql("SELECT %s FROM subscriber WHERE username = '%s' AND domain = '%s'" %
                          (columns, user, domain))
        return [line.split("\t") for line in out.splitlines()]

    def digests_ok(self, user, domain, password):
        """ha1 and ha1b as kamctl computes them, checked by the server's own MD5()."""
        q = ("ha1 = MD5('%(u)s:%(d)s:%(p)s'), ha1b = MD5('%(u)s@%(d)s:%(d)s:%(p)s')" %
             {"u": user, "d": domain, "p": password})
        return self.row(user, domain, q) == [["1", "1"]]

    def test_add_passwd_rm_list(self):
        cfg = self.config()
        code, out, err = self.sipctl("-c", cfg, "add", "1000", "password1")
        self.assertEqual(code, 0, err)
        self.assertIn("1000@127.0.0.1", out)
        self.assertIn("listen", out)  # says where the domain came from
        self.assertEqual(err, "")  # sipd not running: nothing to say
        self.assertEqual(self.row("1000", "127.0.0.1", "password"), [["password1"]])
        self.assertTrue(self.digests_ok("1000", "127.0.0.1", "password1"))

        code, out, err = self.sipctl("-c", cfg, "add", "1000", "other")
        self.assertEqual(code, 1)
        self.assertIn("exists", err)
        self.assertEqual(self.row("1000", "127.0.0.1", "password"), [["password1"]])

        code, out, err = self.sipctl("-c", cfg, "passwd", "1000", "n3w:pass@word")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.row("1000", "127.0.0.1", "password"), [["n3w:pass@word"]])
        self.assertTrue(self.digests_ok("1000", "127.0.0.1", "n3w:pass@word"))
        code, out, err = self.sipctl("-c", cfg, "passwd", "1999", "x")
        self.assertEqual(code, 1)
        self.assertIn("no such user", err)

        self.assertEqual(self.sipctl("-c", cfg, "add", "1001@example.com", "password2")[0], 0)
        self.assertTrue(self.digests_ok("1001", "example.com", "password2"))
        code, out, err = self.sipctl("-c", cfg, "list")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines(), ["1000@127.0.0.1", "1001@example.com"])
        code, out, err = self.sipctl("-c", cfg, "--json", "list")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), [{"username": "1000", "domain": "127.0.0.1"},
                                           {"username": "1001", "domain": "example.com"}])

        code, out, err = self.sipctl("-c", cfg, "rm", "1000")
        self.assertEqual(code, 0, err)
        self.assertIn("removed 1000@127.0.0.1", out)
        self.assertEqual(self.db.count("subscriber", where="username = '1000'"), 0)
        code, out, err = self.sipctl("-c", cfg, "rm", "1000")
        self.assertEqual(code, 1)
        self.assertIn("no such user", err)
        self.assertEqual(self.sipctl("-c", cfg, "rm", "1001@example.com")[0], 0)
        self.assertEqual(self.sipctl("-c", cfg, "list")[1], "")

    def test_hashes_only_without_calculate_ha1(self):
        cfg = self.config({"calculate_ha1": False})
        self.assertEqual(self.sipctl("-c", cfg, "add", "1000", "password1")[0], 0)
        self.assertEqual(self.row("1000", "127.0.0.1", "password"), [[""]])
        self.assertTrue(self.digests_ok("1000", "127.0.0.1", "password1"))
        # Kamailio's own setting: the HA1 lives in the password column "ha1"
        cfg = self.config({"calculate_ha1": 0, "password_column": "ha1"})
        self.assertEqual(self.sipctl("-c", cfg, "passwd", "1000", "password9")[0], 0)
        self.assertTrue(self.digests_ok("1000", "127.0.0.1", "password9"))

    def test_domain_defaults(self):
        cases = [
            ({"aliases": ["alias.example.org:5070", "other"]}, "alias.example.org", "alias"),
            ({}, "127.0.0.1", "listen"),
            ({"listen": ["udp:[::1]:5099"]}, "::1", "listen"),
            ({"listen": "0.0.0.0"}, "localhost", "localhost"),
        ]
        for n, (core, domain, why) in enumerate(cases):
            code, out, err = self.sipctl("-c", self.config(**core), "add", "u%d" % n, "pw")
            self.assertEqual(code, 0, err)
            self.assertIn("u%d@%s" % (n, domain), out)
            self.assertIn(domain, out)
            self.assertEqual(self.row("u%d" % n, domain, "password"), [["pw"]])
        # no config at all: --db and "localhost"
        code, out, err = self.sipctl("--db", self.db.url, "--json", "add", "u9", "pw")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["domain"], "localhost")
        # without calculate_ha1 (Kamailio's default) no plaintext is stored
        self.assertEqual(self.row("u9", "localhost", "password"), [[""]])

    def test_email(self):
        cfg = self.config()
        # Kamailio's layout: no column for it, a warning, and the user is added anyway
        code, out, err = self.sipctl("-c", cfg, "add", "1000", "password1", "user1@nowhere.com")
        self.assertEqual(code, 0, err)
        self.assertIn("email address was not stored", err)
        self.assertIn("sipd-extras.sql", err)
        with open(EXTRAS_SQL) as f:
            self.db.sql(f.read())
        self.addCleanup(self.db.sql, "ALTER TABLE subscriber DROP COLUMN email_address")
        code, out, err = self.sipctl("-c", cfg, "add", "1001", "password2", "user2@nowhere.com")
        self.assertEqual(code, 0, err)
        self.assertEqual(err, "")
        self.assertEqual(self.row("1001", "127.0.0.1", "email_address"), [["user2@nowhere.com"]])
        code, out, err = self.sipctl("-c", cfg, "--json", "list")
        self.assertIn({"username": "1001", "domain": "127.0.0.1",
                       "email_address": "user2@nowhere.com"}, json.loads(out))

    def test_unreachable_database(self):
        for url in ["mysql://ser:s3cretpw@unix(%s/no/such.sock)/ser" % self.dir,
                    "mysql://ser:s3cretpw@127.0.0.1:1/ser"]:
            for args in (["add", "1000", "password1"], ["list"], ["rm", "1000"]):
                code, out, err = self.sipctl("-c", self.config(db_url=url), *args)
                self.assertEqual(code, 1, err)
                self.assertIn("unreachable", err)
                self.assertIn("ser:***@", err)
                self.assertNotIn("s3cretpw", err + out)
        # --db overrides the config
        code, out, err = self.sipctl("-c", self.config(), "--db", url, "list")
        self.assertEqual(code, 1)
        self.assertNotIn("s3cretpw", err)

    def test_bad_config_and_usage(self):
        code, _, err = self.sipctl("-c", self.config({"calculate_ha1": 1,
                                                      "password_column": "pass`word"}),
                                   "add", "1000", "x")
        self.assertEqual(code, 1)
        self.assertIn("password_column", err)
        code, _, err = self.sipctl("-c", self.config({"calculate_ha1": 1,
                                                      "password_column": "no_such_column"}),
                                   "add", "1000", "x")
        self.assertEqual(code, 1)
        self.assertIn("no_such_column", err)
        code, _, err = self.sipctl("-c", self.config({"calculate_ha1": "yes"}), "list")
        self.assertEqual(code, 1)
        self.assertIn("calculate_ha1", err)
        bad = os.path.join(self.dir, "bad.json")
        with open(bad, "w") as f:
            f.write("{ not json")
        self.assertEqual(self.sipctl("-c", bad, "list")[0], 1)
        self.assertEqual(self.db.count("subscriber"), 0)
        cfg = self.config()
        self.assertEqual(self.sipctl("-c", cfg, "add", "1000")[0], 2)
        self.assertEqual(self.sipctl("-c", cfg, "rm")[0], 2)
        self.assertEqual(self.sipctl("-c", cfg, "list", "extra")[0], 2)
        self.assertEqual(self.sipctl("add", "1000", "x")[0], 2)  # no -c, no --db
        code, _, err = self.sipctl("-c", cfg, "add", "x" * 65, "pw")
        self.assertEqual(code, 1)
        self.assertIn("64", err)
        # "--" lets a password start with '-'
        self.assertEqual(self.sipctl("-c", cfg, "add", "--", "1000", "--json")[0], 0)
        self.assertTrue(self.digests_ok("1000", "127.0.0.1", "--json"))

    def test_invalidates_sipd_cache(self):
        fake = FakeSipd(self.ctl)
        self.addCleanup(fake.close)
        code, out, err = self.sipctl("-c", self.config(), "add", "1000", "password1")
        self.assertEqual(code, 0, err)
        self.assertEqual(err, "")
        fake.thread.join(5)
        self.assertEqual(len(fake.requests), 1)
        self.assertEqual(fake.requests[0]["method"], "subscriber.invalidate")
        self.assertEqual(fake.requests[0]["params"], {"username": "1000", "domain": "127.0.0.1"})

    def test_sipd_error_is_a_warning(self):
        fake = FakeSipd(self.ctl, error="Method not found")
        self.addCleanup(fake.close)
        code, out, err = self.sipctl("-c", self.config(), "add", "1000", "password1")
        self.assertEqual(code, 0, err)
        self.assertIn("warning", err)
        self.assertIn("Method not found", err)
        self.assertEqual(self.db.count("subscriber", where="username = '1000'"), 1)

    def test_with_running_sipd(self):
        sipd = self.new_sipd()
        for args in (["add", "1000", "password1"], ["passwd", "1000", "password2"],
                     ["rm", "1000"]):
            code, out, err = self.sipctl("-s", sipd.ctl, "--db", self.db.url, *args)
            self.assertEqual(code, 0, err)
            # a sipd without subscriber.invalidate answers with an error: a warning at most
            self.assertTrue(err == "" or "subscriber.invalidate" in err, err)
        self.assertEqual(self.db.count("subscriber"), 0)


if __name__ == "__main__":
    unittest.main()
