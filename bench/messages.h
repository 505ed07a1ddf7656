/* messages.h: the SIP messages every parse benchmark times, the same bytes for each parser. */
#ifndef SIPD_BENCH_MESSAGES_H
#define SIPD_BENCH_MESSAGES_H

#include <stddef.h>

/*
 * Realistic traffic a registrar/proxy sees, as a softphone or a PBX sends
 * it: compact enough to be typical, with the headers a proxy must read
 * (several Vias with parameters, tagged From/To, Contact parameters,
 * Expires, Max-Forwards, a digest Authorization). Plain C data: included by
 * the C++ driver and the C shims alike.
 */

/* REGISTER with digest credentials (a re-REGISTER after a 401). */
static const char bench_msg_register[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-5f3e8a1b9c2d\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>;expires=3600\r\n"
    "To: <sip:alice@example.com>\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=7c2b4a91\r\n"
    "Call-ID: 5a8c1e3f9b2d@192.0.2.10\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Expires: 3600\r\n"
    "Authorization: Digest username=\"alice\", realm=\"example.com\", "
    "nonce=\"Zk3vQgAAAAB1c2Vy9c1e0a7b\", uri=\"sip:example.com\", "
    "response=\"0d6b3a9e5c7f1428b6e2a4d8c0f39e71\", algorithm=MD5, "
    "cnonce=\"3f9a1c7b\", qop=auth, nc=00000001\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

/* INVITE from a phone, with an SDP offer (audio, several codecs). */
static const char bench_msg_invite[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-d8754z-77ab31c0e4f2\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n"
    "To: <sip:bob@example.com>\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=9f21c7d3\r\n"
    "Call-ID: b84f2e6a0c1d4e59a3f7@192.0.2.10\r\n"
    "CSeq: 1 INVITE\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, INFO\r\n"
    "Content-Type: application/sdp\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: Linphone/5.2.0 (belle-sip/5.2.0)\r\n"
    "Content-Length: 307\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=Talk\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 7078 RTP/AVP 96 0 8 101\r\n"
    "a=rtpmap:96 opus/48000/2\r\n"
    "a=fmtp:96 useinbandfec=1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n";

/* 200 OK to an INVITE that crossed two proxies: three Vias, Record-Route, Contact. */
static const char bench_msg_ok[] =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-p2-4d1c6e0a9b37;received=198.51.100.7\r\n"
    "Via: SIP/2.0/UDP 203.0.113.4:5060;branch=z9hG4bK-p1-a07e2c95d1f4;rport=5060\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;received=192.0.2.10;rport=5060;"
    "branch=z9hG4bK-d8754z-77ab31c0e4f2\r\n"
    "Record-Route: <sip:198.51.100.7;lr>, <sip:203.0.113.4;lr>\r\n"
    "Contact: <sip:bob@192.0.2.77:5062;transport=udp>\r\n"
    "To: <sip:bob@example.com>;tag=3e8d51a2\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=9f21c7d3\r\n"
    "Call-ID: b84f2e6a0c1d4e59a3f7@192.0.2.10\r\n"
    "CSeq: 1 INVITE\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n"
    "Content-Type: application/sdp\r\n"
    "Server: Grandstream GXP2170 1.0.11.3\r\n"
    "Content-Length: 158\r\n"
    "\r\n"
    "v=0\r\n"
    "o=bob 3344 3344 IN IP4 192.0.2.77\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.77\r\n"
    "t=0 0\r\n"
    "m=audio 5004 RTP/AVP 0 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n";

struct bench_message {
    const char *name;
    const char *data;
    size_t len; /* without the literal's NUL */
};

#define BENCH_MESSAGE(name, array) {name, array, sizeof(array) - 1}

static const struct bench_message bench_messages[] = {
    BENCH_MESSAGE("register", bench_msg_register),
    BENCH_MESSAGE("invite", bench_msg_invite),
    BENCH_MESSAGE("ok", bench_msg_ok),
};

#define BENCH_MESSAGE_COUNT (sizeof(bench_messages) / sizeof(bench_messages[0]))

#endif
