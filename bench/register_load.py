#!/usr/bin/env python3
"""Registration load for bench/run: N extensions register with digest
(MD5, qop=auth) from one UDP socket, WINDOW transactions in flight.
Prints: ok, failed, seconds. Usage: register_load.py HOST PORT USERS_CSV WINDOW"""
import hashlib, random, select, socket, sys, time

host, port, users_file, window = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
users = [l.strip().split(";") for l in open(users_file) if ";" in l]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.setblocking(False)
me = "%s:%d" % sock.getsockname()
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()


def register(i, cseq, auth=""):
    user = users[i][0]
    msg = (
        f"REGISTER sip:demo.localhost SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKb{i}x{cseq}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:{user}@demo.localhost>;tag=b{i}\r\nTo: <sip:{user}@demo.localhost>\r\n"
        f"Call-ID: bench-{i}@{me}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{me}>\r\nExpires: 3600\r\n"
        f"{auth}Content-Length: 0\r\n\r\n"
    )
    sock.sendto(msg.encode(), (host, port))


def answer(i, challenge):
    user, pw = users[i]
    params = dict(
        p.strip().split("=", 1) for p in challenge.split(" ", 1)[1].split(",") if "=" in p
    )
    realm, nonce = params["realm"].strip('"'), params["nonce"].strip('"')
    uri, cnonce, nc = "sip:demo.localhost", "%08x" % random.getrandbits(32), "00000001"
    ha1, ha2 = md5(f"{user}:{realm}:{pw}"), md5(f"REGISTER:{uri}")
    resp = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{resp}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"\r\n'
    )


ok = failed = 0
nxt = 0
inflight = {}
t0 = time.time()
while nxt < len(users) or inflight:
    while nxt < len(users) and len(inflight) < window:
        register(nxt, 1)
        inflight[nxt] = time.time()
        nxt += 1
    r, _, _ = select.select([sock], [], [], 1.0)
    if not r:
        # Nothing for a second: whatever is in flight is lost.
        failed += len(inflight)
        inflight.clear()
        continue
    while True:
        try:
            data = sock.recv(65535).decode(errors="replace")
        except BlockingIOError:
            break
        head = data.split("\r\n")
        status = head[0].split(" ")[1]
        cid = next(h for h in head if h.lower().startswith("call-id:"))
        i = int(cid.split("bench-")[1].split("@")[0])
        if i not in inflight:
            continue
        if status == "401":
            ch = next(h for h in head if h.lower().startswith("www-authenticate:") and "MD5" in h)
            register(i, 2, answer(i, ch.split(":", 1)[1].strip()))
        elif status == "200":
            ok += 1
            del inflight[i]
        elif int(status) >= 300:
            failed += 1
            del inflight[i]
print(ok, failed, "%.3f" % (time.time() - t0))
