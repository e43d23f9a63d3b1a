#!/usr/bin/env python3
"""vault_fake.py: a protocol-level stand-in for HashiCorp Vault's KV v2 and
AppRole endpoints, for kite's tests (no Vault server can be installed here).

It speaks the request and response shapes of Vault's API documentation
(developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2 and
.../api-docs/auth/approle):

  POST /v1/auth/approle/login      {"role_id", "secret_id"} -> {"auth": {"client_token",
                                   "lease_duration", "renewable", "policies", ...}};
                                   a wrong pair: 400 {"errors": ["invalid role or secret ID"]}
  GET  /v1/<mount>/data/<path>     X-Vault-Token -> {"data": {"data": {...}, "metadata":
                                   {"created_time", "custom_metadata", "deletion_time",
                                   "destroyed", "version"}}, "lease_id", "renewable", ...};
                                   missing: 404 {"errors": []}; soft-deleted: 404 with
                                   data.data null; a bad token: 403 {"errors": ["permission denied"]}
  POST|PUT /v1/<mount>/data/<path> {"data": {...}} -> {"data": <metadata of the new version>}
  DELETE /v1/<mount>/data/<path>   soft-deletes the latest version -> 204

Test controls (not Vault's): POST /_fake/revoke (every AppRole token becomes
invalid), POST /_fake/hang?seconds=N (reads stall N seconds), GET /_fake/stats
(request counts). `--selftest` starts the fake and checks it against the
documented samples above, the way the docs' curl examples call Vault.

usage: vault_fake.py --port-file F [--token T] [--role-id R --secret-id S]
                     [--mount secret] [--ttl SECONDS]
"""
import argparse
import datetime
import json
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.root_token = args.token
        self.role_id = args.role_id
        self.secret_id = args.secret_id
        self.mounts = set(args.mount)
        self.ttl = args.ttl
        self.tokens = {}            # AppRole client tokens -> expiry (monotonic)
        self.kv = {}                # (mount, path) -> list of versions {data, created, deleted}
        self.hang = 0.0
        self.stats = {"login": 0, "read": 0, "write": 0, "delete": 0, "denied": 0}


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(data=None, auth=None):
    return {"request_id": secrets.token_hex(8), "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": data, "wrap_info": None, "warnings": None, "auth": auth}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    @property
    def st(self):
        return self.server.state

    def answer(self, code, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def token_ok(self):
        tok = self.headers.get("X-Vault-Token")
        st = self.st
        with st.lock:
            if tok and st.root_token and tok == st.root_token:
                return True
            exp = st.tokens.get(tok)
            if exp is not None and (exp == 0 or time.monotonic() < exp):
                return True
            st.stats["denied"] += 1
        self.answer(403, {"errors": ["permission denied"]})
        return False

    def kv_target(self):
        """(mount, path) for /v1/<mount>/data/<path>, or None."""
        p = self.path.split("?", 1)[0]
        if not p.startswith("/v1/"):
            return None
        rest = urllib.request.unquote(p[4:])
        for m in sorted(self.st.mounts, key=len, reverse=True):
            pre = m + "/data/"
            if rest.startswith(pre) and len(rest) > len(pre):
                return m, rest[len(pre):]
        return None

    def do_POST(self):
        st = self.st
        if self.path == "/v1/auth/approle/login":
            b = self.body() or {}
            with st.lock:
                st.stats["login"] += 1
            if not st.role_id or b.get("role_id") != st.role_id or b.get("secret_id") != st.secret_id:
                return self.answer(400, {"errors": ["invalid role or secret ID"]})
            tok = "hvs." + secrets.token_urlsafe(18)
            with st.lock:
                st.tokens[tok] = time.monotonic() + st.ttl if st.ttl else 0
            auth = {"client_token": tok, "accessor": secrets.token_urlsafe(12), "policies": ["default", "kite"],
                    "token_policies": ["default", "kite"], "metadata": {"role_name": "kite"},
                    "lease_duration": st.ttl, "renewable": True, "entity_id": "", "token_type": "service",
                    "orphan": True}
            return self.answer(200, envelope(None, auth))
        if self.path == "/_fake/revoke":
            with st.lock:
                st.tokens.clear()
            return self.answer(204)
        if self.path.startswith("/_fake/hang"):
            q = dict(x.split("=") for x in self.path.split("?", 1)[1].split("&")) if "?" in self.path else {}
            st.hang = float(q.get("seconds", "30"))
            return self.answer(204)
        return self.write()

    do_PUT = lambda self: self.write()

    def write(self):
        t = self.kv_target()
        if not t:
            return self.answer(404, {"errors": []})
        if not self.token_ok():
            return
        b = self.body()
        if not isinstance(b, dict) or not isinstance(b.get("data"), dict):
            return self.answer(400, {"errors": ["no data provided"]})
        st = self.st
        with st.lock:
            st.stats["write"] += 1
            vs = st.kv.setdefault(t, [])
            vs.append({"data": b["data"], "created": now_iso(), "deleted": ""})
            meta = {"created_time": vs[-1]["created"], "custom_metadata": None, "deletion_time": "",
                    "destroyed": False, "version": len(vs)}
        return self.answer(200, envelope(meta))

    def do_GET(self):
        st = self.st
        if self.path == "/_fake/stats":
            with st.lock:
                return self.answer(200, dict(st.stats))
        if self.path == "/v1/sys/health":
            return self.answer(200, {"initialized": True, "sealed": False, "standby": False})
        t = self.kv_target()
        if not t:
            return self.answer(404, {"errors": []})
        if not self.token_ok():
            return
        with st.lock:
            st.stats["read"] += 1
            hang = st.hang
        if hang:
            time.sleep(hang)
        with st.lock:
            vs = st.kv.get(t)
            if not vs:
                return self.answer(404, {"errors": []})
            v = vs[-1]
            meta = {"created_time": v["created"], "custom_metadata": None, "deletion_time": v["deleted"],
                    "destroyed": False, "version": len(vs)}
            if v["deleted"]:
                return self.answer(404, envelope({"data": None, "metadata": meta}))
            return self.answer(200, envelope({"data": v["data"], "metadata": meta}))

    def do_DELETE(self):
        t = self.kv_target()
        if not t:
            return self.answer(404, {"errors": []})
        if not self.token_ok():
            return
        st = self.st
        with st.lock:
            st.stats["delete"] += 1
            vs = st.kv.get(t)
            if vs:
                vs[-1]["deleted"] = now_iso()
        return self.answer(204)


def serve(args):
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    return srv


def selftest():
    """Checks the fake against the sample requests and answers of Vault's
    API documentation (the fields kite reads and the ones the docs show)."""
    a = argparse.Namespace(port=0, token="root-tok", role_id="role-1", secret_id="sec-1", mount=["secret"], ttl=60)
    srv = serve(a)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]

    def call(method, path, body=None, token=None):
        req = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        if token:
            req.add_header("X-Vault-Token", token)
        try:
            with urllib.request.urlopen(req) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    # KV v2 "Create/Update secret": POST /v1/secret/data/my-secret {"options": {...}, "data": {...}}
    code, d = call("POST", "/v1/secret/data/my-secret", {"options": {"cas": 0}, "data": {"foo": "bar"}}, "root-tok")
    assert code == 200 and d["data"]["version"] == 1 and d["data"]["destroyed"] is False, (code, d)
    assert set(d["data"]) >= {"created_time", "custom_metadata", "deletion_time", "destroyed", "version"}
    # "Read secret version": data.data and data.metadata
    code, d = call("GET", "/v1/secret/data/my-secret", None, "root-tok")
    assert code == 200 and d["data"]["data"] == {"foo": "bar"} and d["data"]["metadata"]["version"] == 1, d
    assert set(d) >= {"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"}
    # a missing secret is a 404 with an errors list
    code, d = call("GET", "/v1/secret/data/nope", None, "root-tok")
    assert code == 404 and d["errors"] == [], (code, d)
    # no or a wrong token: 403 permission denied
    code, d = call("GET", "/v1/secret/data/my-secret", None, "bad")
    assert code == 403 and d["errors"] == ["permission denied"], (code, d)
    # "Delete latest version of secret": 204, then a read is a 404 whose data.data is null
    code, _ = call("DELETE", "/v1/secret/data/my-secret", None, "root-tok")
    assert code == 204
    code, d = call("GET", "/v1/secret/data/my-secret", None, "root-tok")
    assert code == 404 and d["data"]["data"] is None and d["data"]["metadata"]["deletion_time"], (code, d)
    # AppRole "Login with AppRole": POST /v1/auth/approle/login {"role_id", "secret_id"} -> auth.client_token
    code, d = call("POST", "/v1/auth/approle/login", {"role_id": "role-1", "secret_id": "sec-1"})
    assert code == 200 and d["auth"]["client_token"] and d["auth"]["lease_duration"] == 60, d
    assert set(d["auth"]) >= {"client_token", "accessor", "policies", "token_policies", "metadata",
                              "lease_duration", "renewable"}
    tok = d["auth"]["client_token"]
    call("POST", "/v1/secret/data/app/db", {"data": {"value": "pw"}}, "root-tok")
    code, d = call("GET", "/v1/secret/data/app/db", None, tok)
    assert code == 200 and d["data"]["data"]["value"] == "pw"
    code, d = call("POST", "/v1/auth/approle/login", {"role_id": "role-1", "secret_id": "wrong"})
    assert code == 400 and d["errors"], (code, d)
    srv.shutdown()
    print("vault_fake selftest: ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--token")
    ap.add_argument("--role-id")
    ap.add_argument("--secret-id")
    ap.add_argument("--mount", action="append", default=None)
    ap.add_argument("--ttl", type=int, default=3600)
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    if a.selftest:
        return selftest()
    a.mount = a.mount or ["secret"]
    srv = serve(a)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    else:
        print(port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
