#!/usr/bin/env python3
"""sipctl_parse_test.py: checks the JSON of `sipctl parse` on torture-corpus messages.

usage: sipctl_parse_test.py [--corpus] SIPCTL TORTURE_DIR

Without --corpus: named cases (fields, verdicts, exit codes). With --corpus:
every message of the corpus must give exit 0 and well-formed JSON, which
under a sanitizer build is the sweep for leaks and overreads.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SIPCTL = None
TORTURE = None


def run(*args, stdin=b""):
    """Runs `sipctl parse ARGS`; returns (exit code, stdout bytes, stderr text)."""
    p = subprocess.run([SIPCTL, "parse", *args], input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def load(out):
    """The printed document; json.loads on strictly decoded UTF-8, so bad bytes fail."""
    return json.loads(out.decode("utf-8", "strict"))


def corpus_path(name):
    return os.path.join(TORTURE, name)


def parse_file(test, name, *options):
    """Parses a corpus file, asserting exit 0 and nothing on stderr."""
    rc, out, err = run(*options, corpus_path(name))
    test.assertEqual(rc, 0, f"{name}: exit {rc}, stderr: {err}")
    test.assertEqual(err, "", name)
    return load(out)


def header(doc, name):
    return [h for h in doc["headers"] if h["name"] == name]


class NamedCases(unittest.TestCase):
    def test_wsinv_folded_headers(self):
        d = parse_file(self, "wsinv.dat")
        self.assertEqual(d["type"], "request")
        self.assertEqual(d["verdict"], {"action": "accept", "reason": ""})
        self.assertNotIn("error", d)
        self.assertEqual(d["method"], "INVITE")
        self.assertEqual(d["version"], "SIP/2.0")
        ruri = d["request_uri"]
        self.assertEqual(ruri["raw"], "sip:vivekg@chair-dnrc.example.com;unknownparam")
        self.assertEqual(ruri["scheme"], "sip")
        self.assertEqual(ruri["user"], "vivekg")
        self.assertNotIn("user_decoded", ruri)  # no escapes in it
        self.assertEqual(ruri["host"], "chair-dnrc.example.com")
        self.assertEqual(ruri["host_type"], "name")
        self.assertNotIn("port", ruri)
        self.assertEqual(ruri["params"], [{"name": "unknownparam", "value": None}])

        # every header, in order, names as written, values unfolded
        names = [h["name"] for h in d["headers"]]
        self.assertEqual(names, ["TO", "from", "MaX-fOrWaRdS", "Call-ID", "Content-Length",
                                 "cseq", "Via", "s", "NewFangledHeader",
                                 "UnknownHeaderWithUnusualValue", "Content-Type", "Route",
                                 "v", "m"])
        types = {h["name"]: h["type"] for h in d["headers"]}
        self.assertEqual(types["TO"], "To")
        self.assertEqual(types["s"], "Subject")
        self.assertEqual(types["v"], "Via")
        self.assertEqual(types["m"], "Contact")
        self.assertIsNone(types["NewFangledHeader"])
        for h in d["headers"]:
            self.assertNotIn("\r", h["value"], h["name"])
            self.assertNotIn("\n", h["value"], h["name"])
        self.assertEqual(header(d, "NewFangledHeader")[0]["value"],
                         "newfangled value continued newfangled value")
        self.assertEqual(header(d, "cseq")[0]["value"], "0009 INVITE")
        self.assertEqual(header(d, "s")[0]["value"], "")
        self.assertEqual(header(d, "UnknownHeaderWithUnusualValue")[0]["value"], ";;,,;;,;")

        # decoded values
        self.assertEqual(d["call_id"], "wsinv.ndaksdj@192.0.2.1")
        self.assertEqual(d["cseq"], {"number": 9, "method": "INVITE"})
        self.assertEqual(d["max_forwards"], 68)
        self.assertIsNone(d["expires"])
        self.assertEqual(d["content_length"], 150)
        self.assertEqual(d["body_length"], 150)
        self.assertEqual(d["to"]["tag"], "1918181833n")
        self.assertEqual(d["to"]["uri"]["host"], "chair-dnrc.example.com")
        self.assertEqual(d["from"]["tag"], "98asjd8")
        self.assertEqual(d["from"]["display"], 'J Rosenberg \\"')
        self.assertEqual(d["from"]["uri"]["user"], "jdrosen")
        vias = d["via"]
        self.assertEqual([(v["protocol"], v["version"], v["transport"], v["host"])
                          for v in vias],
                         [("SIP", "2.0", "UDP", "192.0.2.2"),
                          ("SIP", "2.0", "TCP", "spindle.example.com"),
                          ("SIP", "2.0", "UDP", "192.168.255.111")])
        self.assertEqual([v["branch"] for v in vias],
                         ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"])
        self.assertEqual(vias[0]["host_type"], "ipv4")
        self.assertEqual(len(d["contact"]), 1)
        contact = d["contact"][0]
        self.assertEqual(contact["display"], 'Quoted string ""')
        self.assertEqual(contact["params"], [{"name": "newparam", "value": "newvalue"},
                                             {"name": "secondparam", "value": None},
                                             {"name": "q", "value": "0.33"}])
        self.assertNotIn("authorization", d)

    def test_badinv01_reply_400(self):
        d = parse_file(self, "badinv01.dat")
        self.assertEqual(d["verdict"]["action"], "reply")
        self.assertEqual(d["verdict"]["code"], 400)
        self.assertTrue(d["verdict"]["reason"].startswith("Bad Request"))
        e = d["error"]
        self.assertEqual(set(e), {"offset", "line", "column", "reason", "detail"})
        self.assertIsInstance(e["offset"], int)
        self.assertIn("Via", e["reason"])
        self.assertEqual(e["line"], 7)  # the Via line
        # the header table is complete though the keys were not decoded
        self.assertEqual(len(d["headers"]), 9)
        self.assertEqual(d["request_uri"]["host"], "example.com")
        self.assertNotIn("call_id", d)
        self.assertNotIn("via", d)

    def test_bigcode_drop(self):
        d = parse_file(self, "bigcode.dat")
        self.assertEqual(d["type"], "response")
        self.assertEqual(d["verdict"]["action"], "drop")
        self.assertNotIn("code", d["verdict"])
        self.assertEqual(d["error"]["reason"], "bad status code")
        self.assertEqual(d["error"]["line"], 1)
        self.assertNotIn("status", d)
        self.assertNotIn("headers", d)  # a broken status line stops the parse

    def test_esc01_user_decoded(self):
        d = parse_file(self, "esc01.dat")
        self.assertEqual(d["verdict"]["action"], "accept")
        ruri = d["request_uri"]
        self.assertEqual(ruri["user"], "sips%3Auser%40example.com")
        self.assertEqual(ruri["user_decoded"], "sips:user@example.com")
        self.assertEqual(ruri["host"], "example.net")
        self.assertEqual(d["to"]["uri"]["user_decoded"], "user")
        self.assertEqual(d["from"]["uri"]["user_decoded"], "I have spaces")
        params = d["contact"][0]["uri"]["params"]
        self.assertEqual([(p.get("name_decoded"), p.get("value_decoded")) for p in params],
                         [("lr", None), ("name", "value%41")])

    def test_escnull_nul_in_user(self):
        d = parse_file(self, "escnull.dat")
        self.assertEqual([c["uri"]["user_decoded"] for c in d["contact"]], ["\0", "\0\0"])

    def test_intmeth_nul_and_utf8(self):
        with open(corpus_path("intmeth.dat"), "rb") as f:
            raw = f.read()
        self.assertIn(b"\0", raw)
        d = parse_file(self, "intmeth.dat")  # load() insists on valid UTF-8 and JSON
        self.assertEqual(d["method"], "!interesting-Method0123456789_*+`.%indeed'~")
        self.assertEqual(d["cseq"]["method"], d["method"])
        self.assertEqual(d["to"]["display"], "BEL:\x07 NUL:\x00 DEL:\x7f")
        ext = header(d, "extensionHeader-!.%*+_`'~")[0]
        self.assertEqual(ext["value"], "\ufeff\u5927\u505c\u96fb")
        self.assertNotIn("value_not_utf8", ext)
        self.assertEqual(d["from"]["params"][0]["value"],
                         '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"')
        self.assertEqual(d["request_uri"]["password"],
                         "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        self.assertEqual(d["max_forwards"], 255)

    def test_not_utf8_is_escaped_and_flagged(self):
        msg = (b"INVITE sip:%FCser@example.com SIP/2.0\r\n"
               b"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1;rport=5061\r\n"
               b'From: "M\xfcller 100%" <sip:m@example.com>;tag=1\r\n'
               b"To: <sip:a@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
               b'Authorization: Digest username="bob", realm="example.com", nonce="n"\r\n'
               b"Content-Length: 0\r\n\r\n")
        rc, out, err = run("-", stdin=msg)
        self.assertEqual(rc, 0, err)
        d = load(out)
        self.assertEqual(d["from"]["display"], "M%FCller 100%25")
        self.assertIs(d["from"]["display_not_utf8"], True)
        self.assertIs(header(d, "From")[0]["value_not_utf8"], True)
        self.assertEqual(d["request_uri"]["user_decoded"], "%FCser")
        self.assertIs(d["request_uri"]["user_decoded_not_utf8"], True)
        self.assertNotIn("user_not_utf8", d["request_uri"])
        self.assertEqual(d["via"][0]["rport"], 5061)
        self.assertIsNone(d["to"]["tag"])
        self.assertEqual(d["authorization"], {"scheme": "Digest", "username": "bob",
                                              "realm": "example.com", "nonce": "n"})

    def test_nonexistent_file(self):
        path = corpus_path("no-such-message.dat")
        rc, out, err = run(path)
        self.assertEqual(rc, 2)
        self.assertEqual(out, b"")
        self.assertEqual(err.strip(), f"sipctl parse: {path}: No such file or directory")

    def test_directory(self):
        rc, out, err = run(TORTURE)
        self.assertEqual(rc, 2)
        self.assertEqual(out, b"")
        self.assertIn("Is a directory", err)

    def test_input_over_1_mib(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"X" * (1024 * 1024 + 1))
            f.flush()
            rc, out, err = run(f.name)
        self.assertEqual(rc, 2)
        self.assertEqual(out, b"")
        self.assertIn("larger than", err)

    def test_message_over_limit_still_parsed(self):
        # bigger than sipd's 65535-byte limit but within what sipctl reads
        msg = (b"OPTIONS sip:a@example.com SIP/2.0\r\n"
               b"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
               b"X-Pad: " + b"p" * 70000 + b"\r\n\r\n")
        rc, out, err = run(stdin=msg)
        self.assertEqual(rc, 0, err)
        d = load(out)
        self.assertEqual(d["verdict"]["action"], "reply")
        self.assertIn(d["verdict"]["code"], (400, 513))

    def test_stdin(self):
        with open(corpus_path("wsinv.dat"), "rb") as f:
            raw = f.read()
        _, from_file, _ = run(corpus_path("wsinv.dat"))
        for args in (("-",), ()):
            rc, out, err = run(*args, stdin=raw)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, from_file, args)

    def test_empty_input(self):
        rc, out, err = run("-", stdin=b"")
        self.assertEqual(rc, 0, err)
        d = load(out)
        self.assertIsNone(d["type"])
        self.assertEqual(d["verdict"]["action"], "drop")
        self.assertEqual(d["error"]["reason"], "empty message")

    def test_pretty_equals_compact(self):
        for name in ("wsinv.dat", "intmeth.dat", "badinv01.dat", "bigcode.dat"):
            rc1, compact, _ = run(corpus_path(name))
            rc2, pretty, _ = run("--pretty", corpus_path(name))
            self.assertEqual((rc1, rc2), (0, 0), name)
            self.assertEqual(compact.count(b"\n"), 1, name)  # one line
            self.assertTrue(compact.endswith(b"\n"), name)
            self.assertIn(b'\n  "verdict": {', pretty, name)
            self.assertEqual(load(pretty), load(compact), name)
            # same key order, not just the same content
            self.assertEqual(list(load(pretty)), list(load(compact)), name)

    def test_key_order(self):
        d = parse_file(self, "wsinv.dat")
        self.assertEqual(list(d)[:4], ["type", "verdict", "method", "request_uri"])
        self.assertEqual(list(d)[-1], "headers")

    def test_usage(self):
        p = subprocess.run([SIPCTL, "parse", "--help"], capture_output=True)
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith(b"usage: sipctl parse [--pretty] [FILE|-]"))
        for args in (["--bogus"], [corpus_path("wsinv.dat"), corpus_path("esc01.dat")]):
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(out, b"", args)
            self.assertIn("usage: sipctl parse", err, args)


def corpus_files():
    """Every message of the corpus: the *.dat files and the two archive folders."""
    files = []
    for sub in ("", "rfc4475-archive-extra", "rfc5118-archive"):
        folder = os.path.join(TORTURE, sub)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and (sub or name.endswith(".dat")):
                files.append(path)
    return files


class Corpus(unittest.TestCase):
    def test_every_message(self):
        files = corpus_files()
        self.assertGreaterEqual(len(files), 70)
        for path in files:
            with self.subTest(path=os.path.relpath(path, TORTURE)):
                for args in ((path,), ("--pretty", path)):
                    rc, out, err = run(*args)
                    self.assertEqual(rc, 0, err)
                    self.assertEqual(err, "")
                    d = load(out)
                    v = d["verdict"]
                    self.assertIn(v["action"], ("accept", "reply", "drop"))
                    self.assertEqual("code" in v, v["action"] == "reply")
                    if "error" in d:  # a failed parse is never accepted
                        self.assertNotEqual(v["action"], "accept")
                    else:
                        self.assertIn("headers", d)
                        self.assertIn("body_length", d)


def main():
    global SIPCTL, TORTURE
    args = sys.argv[1:]
    corpus = "--corpus" in args
    args = [a for a in args if a != "--corpus"]
    if len(args) != 2:
        sys.exit(__doc__)
    SIPCTL, TORTURE = os.path.abspath(args[0]), os.path.abspath(args[1])
    case = Corpus if corpus else NamedCases
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
