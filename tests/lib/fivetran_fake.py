#!/usr/bin/env python3
"""tests/lib/fivetran_fake.py: a protocol-level fake of Fivetran's REST API
(https://fivetran.com/docs/rest-api) for kite's Fivetran tasks: Fivetran is a
SaaS, there is no server to install.

It prints its port on the first line of stdout once it listens on 127.0.0.1
and serves until killed (or --max-seconds pass). It speaks what the docs
describe and the task uses:

  GET  /v1/connectors/{id}        {"code": "Success", "data": {id, succeeded_at,
                                   failed_at, status: {sync_state, tasks, ...}}}
  POST /v1/connectors/{id}/sync   body {"force": bool}; {"code": "Success",
                                   "message": "Sync has been successfully triggered ..."}

Every request must carry HTTP basic auth with --key/--secret (else 401
{"code": "AuthFailed", ...}) and Accept: application/json;version=2 (else
400). An unknown connector is 404 NotFound_Connector. Each request is
appended as one JSON line {method, path, body, auth_ok, accept} to --log.

Connectors (their id says what the sync does):
  ok_*     after the sync, "syncing" for 3 polls, then succeeded_at = now
  fail_*   "syncing" for 2 polls, then failed_at = now, with a task message
  slow_*   "syncing" for ever
  stale_*  before the sync only an old failed_at; then succeeds as ok_*
"""
import argparse
import base64
import json
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OLD = "2024-01-01T00:00:00.000Z"
LOCK = threading.Lock()
CONNS = {}  # id -> {"polls": n since the sync (None: none started), ...}


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def connector(cid):
    c = CONNS.setdefault(cid, {"polls": None, "succeeded_at": None, "failed_at": None})
    if c["polls"] is None and c["succeeded_at"] is None and c["failed_at"] is None:
        if cid.startswith("stale_"):
            c["failed_at"] = OLD
        else:
            c["succeeded_at"] = OLD
    return c


def view(cid, c):
    state, tasks = "scheduled", []
    if c["polls"] is not None:
        c["polls"] += 1
        kind = cid.split("_", 1)[0]
        limit = {"ok": 3, "stale": 3, "fail": 2}.get(kind)
        if limit is None or c["polls"] <= limit:
            state = "syncing"
        else:
            if kind == "fail":
                c["failed_at"] = c.get("done") or now_iso()
            else:
                c["succeeded_at"] = c.get("done") or now_iso()
            c["done"] = c["failed_at"] if kind == "fail" else c["succeeded_at"]
    if cid.startswith("fail_") and c["failed_at"] and c["failed_at"] != OLD:
        tasks = [{"code": "reconnect", "message": "Reconnect the connector: the password was changed"}]
    return {
        "id": cid,
        "group_id": "group_1",
        "service": "postgres",
        "schema": "pg",
        "paused": False,
        "sync_frequency": 360,
        "succeeded_at": c["succeeded_at"],
        "failed_at": c["failed_at"],
        "created_at": OLD,
        "status": {"setup_state": "connected", "sync_state": state,
                   "update_state": "on_schedule", "is_historical_sync": False,
                   "tasks": tasks, "warnings": []},
    }


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, obj):
        b = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        want = "Basic " + base64.b64encode(f"{ARGS.key}:{ARGS.secret}".encode()).decode()
        auth_ok = self.headers.get("Authorization") == want
        accept = self.headers.get("Accept")
        with LOCK:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "body": body,
                                    "auth_ok": auth_ok, "accept": accept,
                                    "content_type": self.headers.get("Content-Type")}) + "\n")
            if not auth_ok:
                return self.answer(401, {"code": "AuthFailed",
                                         "message": "Missing or invalid API key or secret"})
            if accept != "application/json;version=2":
                return self.answer(400, {"code": "InvalidInput", "message": "Unsupported Accept"})
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) < 3 or parts[:2] != ["v1", "connectors"]:
                return self.answer(404, {"code": "NotFound", "message": "No such endpoint"})
            cid = parts[2]
            if cid.startswith("missing"):
                return self.answer(404, {"code": "NotFound_Connector",
                                         "message": f"Connector with id '{cid}' doesn't exist"})
            c = connector(cid)
            if self.command == "GET" and len(parts) == 3:
                return self.answer(200, {"code": "Success", "data": view(cid, c)})
            if self.command == "POST" and parts[3:] == ["sync"]:
                try:
                    j = json.loads(body) if body else {}
                except ValueError:
                    j = None
                if not isinstance(j, dict) or not isinstance(j.get("force", False), bool):
                    return self.answer(400, {"code": "InvalidInput", "message": "force must be a boolean"})
                c["polls"] = 0
                return self.answer(200, {"code": "Success",
                                         "message": "Sync has been successfully triggered for connector with id '%s'" % cid})
            return self.answer(405, {"code": "MethodNotAllowed", "message": "Method not allowed"})

    do_GET = do_POST = do_PATCH = do_DELETE = handle_any


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--max-seconds", type=float, default=600)
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Timer(ARGS.max_seconds, lambda: (srv.shutdown())).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
    sys.exit(0)
