#!/usr/bin/env python3
"""Generates src/sip/hdr_table.h: SIP header names -> enum sip_hdr_type.

The table is committed; run this after changing the list below:
    python3 scripts/gen-hdr-table.py > src/sip/hdr_table.h
Lookup hashes the name's first sixteen bytes (bit 5 of each cleared, so that
case does not matter; the bytes past the name zeroed; the two words XORed)
with one multiply into a table with no collisions, then confirms with masked
compares: each name is stored lower case, followed by ": " and zero padded
to 24 bytes, with a case-fold mask; any name is confirmed by up to three
masked word compares and a length test. A header line's name of up to 14
bytes followed by ": " has a second, smaller key and table: its first
eight bytes (bit 5 cleared, the bytes past the name zeroed) XORed with
its length in the top byte, hashed into a table of those names only, and
confirmed by one 16-byte compare over the name, the colon and the SP,
the bytes past them made equal to anything (fold and name 0xff there,
which no other compare reads: theirs stop at the name): a stored name of
another length has its colon elsewhere, so the length needs no test of
its own. Sorting header lines costs no string search and no byte loop.
The multipliers come from seeded searches, so the output is the same on
every run.
"""
import sys

L, S, N = "SIP_HF_LIST", "SIP_HF_SINGLE", "SIP_HF_NAMEADDR"
# (canonical name, compact form or None, flags)
HEADERS = [
    ("Accept", None, [L]),
    ("Accept-Contact", "a", [L]),
    ("Accept-Encoding", None, [L]),
    ("Accept-Language", None, [L]),
    ("Alert-Info", None, [L]),
    ("Allow", None, [L]),
    ("Allow-Events", "u", [L]),
    ("Authentication-Info", None, []),
    ("Authorization", None, []),
    ("Call-ID", "i", [S]),
    ("Call-Info", None, [L]),
    ("Contact", "m", [L, N]),
    ("Content-Disposition", None, [S]),
    ("Content-Encoding", "e", [L]),
    ("Content-Language", None, [L]),
    ("Content-Length", "l", [S]),
    ("Content-Type", "c", [S]),
    ("CSeq", None, [S]),
    ("Date", None, [S]),
    ("Error-Info", None, [L]),
    ("Event", "o", [S]),
    ("Expires", None, [S]),
    ("From", "f", [S, N]),
    ("Identity", "y", []),
    ("In-Reply-To", None, [L]),
    ("Max-Forwards", None, [S]),
    ("MIME-Version", None, [S]),
    ("Min-Expires", None, [S]),
    ("Min-SE", None, [S]),
    ("Organization", None, []),
    ("P-Asserted-Identity", None, [L, N]),
    ("P-Preferred-Identity", None, [L, N]),
    ("Path", None, [L, N]),
    ("Priority", None, [S]),
    ("Privacy", None, []),
    ("Proxy-Authenticate", None, []),
    ("Proxy-Authorization", None, []),
    ("Proxy-Require", None, [L]),
    ("RAck", None, [S]),
    ("Reason", None, [L]),
    ("Record-Route", None, [L, N]),
    ("Refer-To", "r", [S, N]),
    ("Referred-By", "b", [S, N]),
    ("Reject-Contact", "j", [L]),
    ("Replaces", None, []),
    ("Reply-To", None, [S, N]),
    ("Request-Disposition", "d", [L]),
    ("Require", None, [L]),
    ("Retry-After", None, [S]),
    ("Route", None, [L, N]),
    ("RSeq", None, [S]),
    ("Server", None, []),
    ("Service-Route", None, [L, N]),
    ("Session-Expires", "x", [S]),
    ("SIP-ETag", None, [S]),
    ("SIP-If-Match", None, [S]),
    ("Subject", "s", []),
    ("Subscription-State", None, [S]),
    ("Supported", "k", [L]),
    ("Timestamp", None, [S]),
    ("To", "t", [S, N]),
    ("Unsupported", None, [L]),
    ("User-Agent", None, []),
    ("Via", "v", [L]),
    ("Warning", None, [L]),
    ("WWW-Authenticate", None, []),
]


def enum_name(name):
    return "SIP_HDR_" + name.upper().replace("-", "_")


NAME_MAX = 24   # bytes compared: three 64-bit words
KEY_BYTES = 16  # bytes hashed: two 64-bit words
SHORT_MAX = 14  # the longest name compared with ": " in 16 bytes
HASH_BITS = 9
MASK64 = (1 << 64) - 1


def le64(b):
    return int.from_bytes(b[:8].ljust(8, b"\0"), "little")


def hash_key(name):
    """Mirrors the key in C: the first KEY_BYTES bytes of the name, bit 5
    of each cleared (bytes past its end zero), as two little-endian words
    XORed."""
    b = bytes(c & 0xdf for c in name.encode()[:KEY_BYTES]).ljust(KEY_BYTES, b"\0")
    return le64(b[:8]) ^ le64(b[8:16])


def slot_of(key, mult):
    return ((key * mult) & MASK64) >> (64 - HASH_BITS)


def short_key(name):
    """Mirrors the short key in C: the first eight bytes of a name of at
    most SHORT_MAX bytes, bit 5 of each cleared (bytes past its end zero),
    as a little-endian word, XORed with its length in the top byte."""
    b = bytes(c & 0xdf for c in name.encode()[:8]).ljust(8, b"\0")
    return le64(b) ^ (len(name) << 56)


def find_hash(names, key_of=hash_key):
    import random
    keys = {}
    for n in names:
        k = key_of(n)
        if k in keys:
            sys.exit(f"{n} and {keys[k]} have the same key: hash more bytes")
        keys[k] = n
    rnd = random.Random(3261)  # deterministic: the same table every run
    for _ in range(200000):
        mult = rnd.getrandbits(64) | 1
        slots = {}
        for k, n in keys.items():
            h = slot_of(k, mult)
            if h in slots or h == 0:  # index 0 is slot 0's: the key 0 hashes there
                break
            slots[h] = n
        else:
            return mult, slots
    sys.exit("no collision-free hash found")


def words(b, n=NAME_MAX):
    b = b.ljust(n, b"\0")
    return [int.from_bytes(b[i:i + 8], "little") for i in range(0, n, 8)]


def w2(ws):
    return "{" + ", ".join(f"0x{w:016x}ull" for w in ws) + "}"


def main():
    spelled = []
    for name, compact, _ in HEADERS:
        assert len(name) < NAME_MAX, name  # room for the colon
        spelled.append((name, name))
        if compact:
            spelled.append((compact, name))
    mult, slots = find_hash([s for s, _ in spelled])
    smult, sslots = find_hash([s for s, _ in spelled if len(s) <= SHORT_MAX], short_key)
    canon = {s: n for s, n in spelled}
    order = sorted(slots)
    out = sys.stdout
    out.write("/* hdr_table.h: generated by scripts/gen-hdr-table.py; do not edit. */\n")
    out.write("#ifndef SIPD_SIP_HDR_TABLE_H\n#define SIPD_SIP_HDR_TABLE_H\n\n")
    out.write("#include <stdint.h>\n\n")
    out.write("#include \"sip/sip.h\"\n\n")
    out.write("/* the longest known name: longer ones are never looked up */\n")
    out.write(f"#define SIP_HDR_NAME_MAX {NAME_MAX}u\n")
    out.write(f"#define SIP_HDR_HASH_BITS {HASH_BITS}u\n")
    out.write("/* key: the name's first 16 bytes as two little-endian words, each\n"
              " * ANDed with sip_hdr_key_mask[length, at most 16], XORed */\n")
    out.write("#define SIP_HDR_HASH(key) \\\n    ((unsigned)(((uint64_t)(key) * "
              f"0x{mult:016x}ull) >> (64 - SIP_HDR_HASH_BITS)))\n")
    out.write("/* short key: the first word of a name of at most "
              f"{SHORT_MAX} bytes ANDed with\n"
              " * short_mask[length], XORed with short_mix[length] */\n")
    out.write("#define SIP_HDR_SHORT_HASH(key) \\\n    ((unsigned)(((uint64_t)(key) * "
              f"0x{smult:016x}ull) >> (64 - SIP_HDR_HASH_BITS)))\n\n")
    out.write("/*\n * A known name as little-endian words: name (lower case, then \": \", zero\n"
              " * padded) and fold (0x20 under each letter, so that (byte | fold) equals\n"
              " * the lower-case letter for either case, while '-' and ':' match only\n"
              " * themselves). 64 bytes, so that an index scales by a shift; name and\n"
              " * fold 16-byte aligned, so that a vector compare takes them as operands.\n"
              " * For a name of at most "
              f"{SHORT_MAX} bytes, the bytes of 16 past the name and\n"
              " * \": \" are 0xff in both, so that (byte | fold) ^ name is 0 there for any\n"
              " * byte: the 16-byte compare needs no mask.\n"
              " */\n")
    out.write("struct sip_hdr_slot {\n    _Alignas(64) uint64_t name[3];\n    uint64_t pad;\n"
              "    uint64_t fold[3];\n    unsigned char len;\n    unsigned char type;\n};\n\n")
    out.write("/*\n * Everything a lookup reads, in one object, so that one base address\n"
              " * reaches all of it:\n"
              " * - slots: the known names; entry 0 matches no 16 bytes (its fold sets\n"
              " *   bit 0 of the first byte, its name clears it) and no length;\n"
              " * - index: hash -> the byte offset of a name's slot (0: none; index 0,\n"
              " *   where the key 0 hashes, is always 0);\n"
              f" * - key_mask[n]: the first n bytes of a name (n <= {KEY_BYTES}) with bit 5\n"
              " *   cleared, as two little-endian words: what SIP_HDR_HASH's key takes;\n"
              " * - short_mask[n], short_mix[n], for a colon at byte n of 16\n"
              f" *   (n <= {KEY_BYTES}): the first min(n, 8) bytes with bit 5 cleared and\n"
              f" *   n in the top byte for 1 <= n <= {SHORT_MAX}; else the key 0 (slot 0);\n"
              " * - short_index: SIP_HDR_SHORT_HASH -> the byte offset of the slot of\n"
              f" *   a name of at most {SHORT_MAX} bytes (0: none).\n */\n")
    out.write("struct sip_hdr_table {\n"
              f"    struct sip_hdr_slot slots[{len(order) + 1}];\n"
              f"    _Alignas(16) uint64_t key_mask[{KEY_BYTES + 1}][2];\n"
              f"    uint64_t short_mask[{KEY_BYTES + 1}];\n"
              f"    uint64_t short_mix[{KEY_BYTES + 1}];\n"
              "    uint16_t short_index[1u << SIP_HDR_HASH_BITS];\n"
              "    uint16_t index[1u << SIP_HDR_HASH_BITS];\n};\n\n")
    out.write("static const struct sip_hdr_table sip_hdr_table = {\n")
    out.write("    .slots = {\n")
    out.write("        {{0, 0, 0}, 0, {1, 0, 0}, 0, SIP_HDR_OTHER},\n")
    index = {}
    slots_of_name = {n: k for k, n in slots.items()}
    for i, k in enumerate(order, 1):
        sp = slots[k]
        index[k] = i
        b = sp.lower().encode()
        fold = bytes(0x20 if chr(c).isalpha() else 0 for c in b)
        out.write(f"        /* {i}: {sp.lower()} */\n")
        name = (b + b': ')[:NAME_MAX]
        if len(b) <= SHORT_MAX:  # anything matches past ": " in the 16-byte compare
            name = name.ljust(16, b"\xff")
            fold = (fold + b"\0\0").ljust(16, b"\xff")
        out.write(f"        {{{w2(words(name))},\n         0,\n         {w2(words(fold))},\n"
                  f"         {len(b)}, {enum_name(canon[sp])}}},\n")
    out.write("    },\n")
    out.write("    .key_mask = {\n")
    for n in range(KEY_BYTES + 1):
        out.write(f"        {w2(words(bytes([0xdf]) * n, 16))},\n")
    out.write("    },\n")
    short = range(1, SHORT_MAX + 1)
    out.write("    .short_mask = {\n")
    for n in range(KEY_BYTES + 1):
        m = le64(bytes([0xdf]) * min(n, 8)) if n in short else 0
        out.write(f"        0x{m:016x}ull,\n")
    out.write("    },\n")
    out.write("    .short_mix = {\n")
    for n in range(KEY_BYTES + 1):
        m = n << 56 if n in short else 0
        out.write(f"        0x{m:016x}ull,\n")
    out.write("    },\n")
    out.write("    .short_index = {\n")
    for k in sorted(sslots):
        out.write(f"        [{k}] = {index[slots_of_name[sslots[k]]]} * 64,\n")
    out.write("    },\n")
    out.write("    .index = {\n")
    for k in order:
        out.write(f"        [{k}] = {index[k]} * 64,\n")
    out.write("    },\n};\n\n")
    out.write("/* the slot at byte offset off of sip_hdr_table.slots */\n"
              "#define SIP_HDR_SLOT(off) \\\n"
              "    ((const struct sip_hdr_slot *)(const void *)"
              "((const char *)sip_hdr_table.slots + (off)))\n\n")
    out.write("struct sip_hdr_info {\n    const char *name;\n    unsigned flags;\n};\n\n")
    out.write("static const struct sip_hdr_info sip_hdr_infos[SIP_HDR_COUNT] = {\n")
    out.write("    [SIP_HDR_OTHER] = {\"\", 0},\n")
    for name, _, flags in HEADERS:
        f = " | ".join(flags) if flags else "0"
        out.write(f"    [{enum_name(name)}] = {{\"{name}\", {f}}},\n")
    out.write("};\n\n#endif\n")

main()
