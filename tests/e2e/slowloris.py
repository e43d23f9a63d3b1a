#!/usr/bin/env python3
"""slowloris.py: a slow-header attack and a checker, both on loopback.

Holds --conns connections to the server, each sending its request headers
one line every --interval seconds and never finishing them (a connection the
server closes is opened again, --rate a second at most, as slowloris tools
do). Meanwhile a
checker opens a fresh connection every 0.5 s for GET /health and for an API
call (GET /api/v1/flows/search with --token) and times each answer.

Prints one line of figures; exits 0 when every check answered 200 within
--max-latency seconds, 1 otherwise. Bounded in time (--seconds), loopback
only. Used by tests/e2e/server_slowloris.sh (short) and
bench/bench_slowloris.sh (long).
"""
import argparse, http.client, select, socket, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--conns", type=int, default=600)
ap.add_argument("--seconds", type=float, default=15)
ap.add_argument("--interval", type=float, default=4)
ap.add_argument("--max-latency", type=float, default=1.0)
ap.add_argument("--rate", type=float, default=100, help="connections reopened per second, at most")
a = ap.parse_args()
HOST = "127.0.0.1"

stop = time.monotonic() + a.seconds
lat = {"health": [], "api": []}
bad = []

def check():
    while time.monotonic() < stop:
        for name, path, hdrs in (("health", "/health", {}),
                                 ("api", "/api/v1/flows/search", {"Authorization": "Bearer " + a.token})):
            t0 = time.monotonic()
            try:
                c = http.client.HTTPConnection(HOST, a.port, timeout=max(a.max_latency * 5, 5))
                c.request("GET", path, headers=hdrs)
                st = c.getresponse().status
                c.close()
            except Exception as e:  # a refused or timed-out check is a failure
                st = repr(e)
            dt = time.monotonic() - t0
            lat[name].append(dt)
            if st != 200 or dt > a.max_latency:
                bad.append((name, st, round(dt, 3)))
        time.sleep(0.5)

def opener():
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((HOST, a.port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s

socks = {}
opened = closed_by_server = 0
held_max = 0
t = threading.Thread(target=check)
# open the attack first, then start checking while it holds
for _ in range(a.conns):
    s = opener()
    if s:
        socks[s] = time.monotonic()
        opened += 1
t.start()
started = time.monotonic()
reopened = 0
while time.monotonic() < stop:
    now = time.monotonic()
    held_max = max(held_max, len(socks))
    # a readable attack socket was answered or closed by the server: reopen
    r, _, _ = select.select(list(socks), [], [], 0.2) if socks else ([], [], [])
    for s in r:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            del socks[s]
            s.close()
            closed_by_server += 1
    for s, last in list(socks.items()):
        if now - last >= a.interval:
            try:
                s.send(b"X-Slow: %d\r\n" % int(now))
                socks[s] = now
            except OSError:
                del socks[s]
                s.close()
                closed_by_server += 1
    # a token bucket: at most --rate reopened connections a second
    budget = int((time.monotonic() - started) * a.rate) - reopened
    while len(socks) < a.conns and time.monotonic() < stop and budget > 0:
        budget -= 1
        reopened += 1
        s = opener()
        if not s:
            break
        socks[s] = time.monotonic()
        opened += 1
t.join()
for s in socks:
    s.close()

def fig(v):
    if not v:
        return "none"
    v = sorted(v)
    return "n=%d p50=%.1fms max=%.1fms" % (len(v), v[len(v) // 2] * 1000, v[-1] * 1000)

print("slowloris: %d connections (%d opened, %d closed by the server, at most %d open at once) for %.0f s; "
      "health %s; api %s; %d failed checks" % (a.conns, opened, closed_by_server, held_max, a.seconds,
                                               fig(lat["health"]), fig(lat["api"]), len(bad)))
for b in bad[:10]:
    print("  failed check:", b)
sys.exit(0 if not bad and lat["health"] and lat["api"] else 1)
