#!/bin/bash
# bench_task_cost.sh: what one task costs through the whole of kite, next to
# the machine's limits measured in the same run (docs/engine.md, "The cost
# of a task"):
#   - a further shell task in a sequential flow (`kite run` of 40 `echo`
#     tasks minus a 1-task flow, over 39) against a bare posix_spawn of
#     `sh -c 'echo step N'`; the 40-step flow, start-up included, against
#     40 bare spawns;
#   - the Windmill workload (bench/scripts_fibo40.yaml) against 40 bare
#     `python3 -c` starts of the same code;
#   - a further Return task (40 Return tasks minus 1, over 39), against a
#     bare SQLite commit (WAL, synchronous=NORMAL);
#   - the 40-step Return flow answered through a webhook with `wait: true`
#     (kite server local), per step, against a GET /health round trip (with
#     KITE_BEFORE, both servers up at once and the calls interleaved);
#   - where strace exists, the system calls of a further Return task
#     (futex: thread wake-ups and lock waits; fcntl: SQLite's locks;
#     pwrite64: WAL writes), which a loaded machine does not blur.
# Wall-clock figures are medians of BENCH_RUNS runs (default 7), each kite
# run on a fresh data folder. KITE_BEFORE=<another kite binary> measures it
# too, runs interleaved with $KITE's, so both see the same load.
# Figures only, no asserts.
set -u
KITE=${KITE:-build/kite}
ROOT=${ROOT:-$PWD}
export KITE ROOT
export BENCH_RUNS=${BENCH_RUNS:-7}
export KITE_BEFORE=${KITE_BEFORE:-}
exec python3 - <<'EOF'
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

RUNS = int(os.environ["BENCH_RUNS"])
ROOT = os.environ["ROOT"]
kites = [("now", os.path.abspath(os.environ["KITE"]))]
if os.environ.get("KITE_BEFORE"):
    kites.insert(0, ("before", os.path.abspath(os.environ["KITE_BEFORE"])))
work = tempfile.mkdtemp(prefix="kite-bench-cost-")
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
devnull = os.open(os.devnull, os.O_WRONLY)

def spawn(argv, env=None):
    fa = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    pid = os.posix_spawn(argv[0], argv, env if env is not None else ENV, file_actions=fa)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st)

def med(xs):
    return statistics.median(xs)

def bare_sh40():
    t0 = time.perf_counter()
    for i in range(1, 41):
        spawn(["/bin/sh", "-c", f"echo step {i}"])
    return time.perf_counter() - t0

FIBO = "def fibo(n):\n    return n if n < 2 else fibo(n - 1) + fibo(n - 2)\nprint(fibo(10))\n"

def bare_py40():
    t0 = time.perf_counter()
    for _ in range(40):
        spawn(["/usr/bin/python3", "-c", FIBO])
    return time.perf_counter() - t0

def bare_commits(n=3000):
    import sqlite3
    p = os.path.join(work, "bare.db")
    db = sqlite3.connect(p, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
    t0 = time.perf_counter()
    for _ in range(n):
        db.execute("BEGIN")
        db.execute("INSERT INTO t(v) VALUES ('x')")
        db.execute("COMMIT")
    dt = time.perf_counter() - t0
    db.close()
    return dt / n

def write_flow(name, steps, kind):
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(f"id: {name}\nnamespace: bench.cost\ntasks:\n")
        for i in range(1, steps + 1):
            if kind == "echo":
                f.write(f"  - id: step{i}\n    type: io.kestra.plugin.scripts.shell.Commands\n"
                        f"    commands:\n      - echo step {i}\n")
            else:
                f.write(f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n"
                        f"    format: \"{{{{ task.id }}}}\"\n")
    return path

flows = {n: write_flow(n, s, k) for n, s, k in
         [("echo1", 1, "echo"), ("echo40", 40, "echo"), ("ret1", 1, "ret"), ("ret40", 40, "ret")]}
flows["fibo40"] = os.path.join(ROOT, "bench/scripts_fibo40.yaml")
seq = [0]

def kite_run(kite, flow):
    seq[0] += 1
    data = os.path.join(work, f"data{seq[0]}")
    t0 = time.perf_counter()
    rc = spawn([kite, "run", flow, "--data", data, "--quiet"], dict(os.environ))
    dt = time.perf_counter() - t0
    shutil.rmtree(data, ignore_errors=True)
    if rc != 0:
        print(f"bench_task_cost: {kite} run {flow} exited {rc}", file=sys.stderr)
    return dt

# ---- wall clock, interleaved ----------------------------------------------------------
names = ["echo1", "echo40", "ret1", "ret40", "fibo40"]
times = {(k, n): [] for k, _ in kites for n in names}
sh, py, commit = [], [], []
bare_sh40(); bare_py40()
for k, b in kites:
    kite_run(b, flows["ret1"])  # warm the page cache
for r in range(RUNS):
    sh.append(bare_sh40())
    py.append(bare_py40())
    commit.append(bare_commits(1000))
    for n in names:
        for k, b in kites:
            times[(k, n)].append(kite_run(b, flows[n]))

sh40, py40, c1 = med(sh), med(py), med(commit)
print(f"limits (medians of {RUNS}): bare sh -c {sh40 / 40 * 1e3:.2f} ms a spawn; bare python3 -c {py40 / 40 * 1e3:.1f} ms "
      f"a start; bare SQLite commit {c1 * 1e6:.0f} us")
for k, _ in kites:
    m = {n: med(times[(k, n)]) for n in names}
    ft = (m["echo40"] - m["echo1"]) / 39
    fr = (m["ret40"] - m["ret1"]) / 39
    print(f"[{k}] a further shell task {ft * 1e3:.2f} ms = {ft / (sh40 / 40):.2f}x a bare spawn (aim 1.5x); "
          f"40-step echo flow, start-up included, {m['echo40'] * 1e3:.0f} ms = {m['echo40'] / sh40:.2f}x 40 bare spawns (aim 2x)")
    print(f"[{k}] windmill fibo(10) x 40: {m['fibo40']:.3f} s = {m['fibo40'] / py40:.2f}x 40 bare python3 starts "
          f"({py40:.3f} s; aim 1.15x)")
    print(f"[{k}] a further Return task {fr * 1e3:.3f} ms = {fr / c1:.1f} bare commits; "
          f"kite run of a 1-task flow (start-up) {m['ret1'] * 1e3:.0f} ms")

# ---- webhook, wait: true ----------------------------------------------------------------
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

fdir = os.path.join(work, "flows")
os.makedirs(fdir, exist_ok=True)
with open(os.path.join(fdir, "hook40.yaml"), "w") as f:
    f.write("id: hook40\nnamespace: bench.cost\ntasks:\n")
    for i in range(1, 41):
        f.write(f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ task.id }}}}\"\n")
    f.write("triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: benchkey\n"
            "    wait: true\n")

def get(url, method="GET"):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
        return r.status

# every server is up at once and the calls alternate between them, so that
# before and after see the same load
servers = []
for k, b in kites:
    port = free_port()
    data = os.path.join(work, f"srv-{k}")
    env = dict(os.environ, KITE_ADMIN_TOKEN="bench-token-0123456789")
    srv = subprocess.Popen([b, "server", "local", "--port", str(port), "--data", data, "--flows", fdir, "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    servers.append((k, srv, f"http://127.0.0.1:{port}"))
try:
    for k, srv, base in servers:
        hook = f"{base}/api/v1/executions/webhook/bench.cost/hook40/benchkey"
        for _ in range(200):
            try:
                if get(base + "/health") == 200:
                    break
            except Exception:
                time.sleep(0.05)
        for _ in range(100):  # the flow is loaded from --flows
            try:
                if get(hook, "POST") == 200:
                    break
            except Exception:
                time.sleep(0.05)
    calls = {k: [] for k, _, _ in servers}
    health = {k: [] for k, _, _ in servers}
    for _ in range(max(RUNS, 30)):
        for k, srv, base in servers:
            hook = f"{base}/api/v1/executions/webhook/bench.cost/hook40/benchkey"
            t0 = time.perf_counter(); get(base + "/health"); health[k].append(time.perf_counter() - t0)
            t0 = time.perf_counter(); get(hook, "POST"); calls[k].append(time.perf_counter() - t0)
    for k, _, _ in servers:
        w, h = med(calls[k]), med(health[k])
        print(f"[{k}] 40-step Return flow through a webhook (wait: true): {w * 1e3:.1f} ms, {(w - h) / 40 * 1e3:.3f} ms a step "
              f"(aim 0.2); GET /health {h * 1e3:.2f} ms")
except Exception as ex:
    print(f"webhook: {ex}", file=sys.stderr)
finally:
    for k, srv, base in servers:
        srv.terminate(); srv.wait()

# ---- system calls per further task ------------------------------------------------------------------
def strace_counts(kite, flow):
    out = os.path.join(work, "strace.out")
    data = os.path.join(work, f"st{seq[0]}"); seq[0] += 1
    subprocess.run(["strace", "-f", "-c", "-o", out, kite, "run", flow, "--data", data, "--quiet"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(data, ignore_errors=True)
    c = {}
    for line in open(out):
        p = line.split()
        if len(p) >= 5 and p[0][0].isdigit() and p[-1] != "total":
            c[p[-1]] = int(p[3])
        elif p and p[-1] == "total":
            c["total"] = int(p[3])
    return c

if shutil.which("strace"):
    for k, b in kites:
        a = [strace_counts(b, flows["ret1"]) for _ in range(3)]
        z = [strace_counts(b, flows["ret40"]) for _ in range(3)]
        def per(name):
            return (med([x.get(name, 0) for x in z]) - med([x.get(name, 0) for x in a])) / 39
        print(f"[{k}] system calls of a further Return task: {per('total'):.0f} in all, futex {per('futex'):.0f}, "
              f"fcntl {per('fcntl'):.0f}, pwrite64 {per('pwrite64'):.0f}, pread64 {per('pread64'):.0f}")
shutil.rmtree(work, ignore_errors=True)
EOF
