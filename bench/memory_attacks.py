#!/usr/bin/env python3
"""memory_attacks.py: the memory attacks of issue 16 against a running
server, each measured as the server's peak RSS (sampled from /proc every
50 ms) while it runs:
  - 50 concurrent 10 MB webhook bodies with a wrong key (no token needed)
  - 50 concurrent 10 MB webhook bodies with the right key
  - 500 concurrent wrong-key webhooks to a large flow (about 1 MB of YAML)
  - 500 concurrent GET /api/v1/flows/search?size=1000
Usage: memory_attacks.py PORT TOKEN PID. Prints one line per attack.
"""
import http.client, sys, threading, time

port, token, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])

def rss():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
    return 0

def call(method, path, body=None, hdrs=None, res=None):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request(method, path, body=body, headers=hdrs or {})
        r = c.getresponse()
        r.read()
        if res is not None:
            res.append(r.status)
        c.close()
    except Exception as e:
        if res is not None:
            res.append(type(e).__name__)

def attack(name, n, fn):
    peak = [rss()]
    done = [False]
    def sample():
        while not done[0]:
            peak[0] = max(peak[0], rss())
            time.sleep(0.05)
    s = threading.Thread(target=sample)
    s.start()
    res = []
    t0 = time.monotonic()
    ts = [threading.Thread(target=fn, args=(i, res)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    done[0] = True
    s.join()
    st = {}
    for r in res:
        st[r] = st.get(r, 0) + 1
    print("%-48s peak RSS %7.1f MB, after %7.1f MB, %.1f s, answers %s" %
          (name, peak[0] / 1024, rss() / 1024, time.monotonic() - t0, st))

auth = {"Authorization": "Bearer " + token}
def put_flow(yml):
    call("POST", "/api/v1/flows", yml.encode(), dict(auth, **{"Content-Type": "application/x-yaml"}))

put_flow("id: hook\nnamespace: mem\ntriggers:\n  - id: wh\n    type: io.kestra.plugin.core.trigger.Webhook\n"
         "    key: right-key-0123\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
big = ["id: big\nnamespace: mem\ntriggers:\n  - id: wh\n    type: io.kestra.plugin.core.trigger.Webhook\n"
       "    key: right-key-0123\ntasks:\n"]
for i in range(6000):
    big.append("  - id: t%d\n    type: io.kestra.plugin.core.log.Log\n    message: \"%s\"\n" % (i, "x" * 100))
put_flow("".join(big))
for i in range(200):
    put_flow("id: f%d\nnamespace: mem.search\ndescription: \"%s\"\ntasks:\n  - id: log\n"
             "    type: io.kestra.plugin.core.log.Log\n    message: hi\n" % (i, "d" * 4000))
body = b"x" * (10 * 1000 * 1000)
print("idle RSS %.1f MB" % (rss() / 1024))
attack("50 x 10 MB webhook bodies, wrong key", 50,
       lambda i, res: call("POST", "/api/v1/executions/webhook/mem/hook/wrong", body, None, res))
attack("50 x 10 MB webhook bodies, right key", 50,
       lambda i, res: call("POST", "/api/v1/executions/webhook/mem/hook/right-key-0123", body, None, res))
attack("500 wrong-key webhooks to a 1 MB flow", 500,
       lambda i, res: call("POST", "/api/v1/executions/webhook/mem/big/wrong", b"{}", None, res))
attack("500 x flows/search?size=1000", 500,
       lambda i, res: call("GET", "/api/v1/flows/search?size=1000", None, auth, res))
