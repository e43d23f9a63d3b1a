#!/usr/bin/env python3
"""docker_fake.py: a fake Docker Engine API (v1.41) on a Unix socket, for
tests/e2e/docker.sh where no real dockerd can start.

It implements exactly the endpoints kite's Docker runner calls (and the few
more the real `docker` CLI calls for the same operations, so that the suite
can check the fake against the real client):

  HEAD|GET /_ping                      API-Version 1.41
  GET  /images/{name}/json             200 if the image is known, else 404
  POST /images/create?fromImage=&tag=  a progress stream; X-Registry-Auth is
                                       decoded (base64url JSON) and checked
                                       against --registry-user/--registry-password
  POST /containers/create              the body's fields and types are checked
                                       as the engine does (400 otherwise)
  GET  /containers/{id}/json           State, Config.Tty (the CLI reads it)
  PUT  /containers/{id}/archive?path=  a tar, unpacked into the fake's files
  HEAD /containers/{id}/archive?path=  X-Docker-Container-Path-Stat (docker cp)
  GET  /containers/{id}/archive?path=  a tar of the folder or file at path
  POST /containers/{id}/start          "runs" the container: the script
  GET  /containers/{id}/logs           the multiplexed frames of its output
  POST /containers/{id}/wait           {"StatusCode": n}
  POST /containers/{id}/stop|kill
  DELETE /containers/{id}

The container's behaviour comes from the script file (--script, JSON, read
at each create): {"stdout": [...lines], "stderr": [...], "exit": n,
"files": {"relative/to/WorkingDir": "text", "$OUTPUT_DIR/x": "text"},
"sleep": seconds (the logs stream stays open that long), "oom": bool}.
Every request is appended to the --log file as one JSON line: method, path,
query, the headers kite sets, the JSON body (create), the tar's entry names
(archive PUT). Errors answer {"message": ...} like the engine.
"""
import argparse
import base64
import io
import json
import os
import socketserver
import struct
import sys
import tarfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

STATE = {"images": set(), "containers": {}, "n": 0}
LOCK = threading.Lock()
ARGS = None


def log(entry):
    if ARGS.log:
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")


def check_create(b):
    """The engine's own checks of the fields kite sends, by type."""
    if not isinstance(b, dict):
        return "body is not an object"
    types = {"Image": str, "Cmd": list, "Entrypoint": list, "Env": list, "WorkingDir": str,
             "User": str, "Labels": dict, "HostConfig": dict, "AttachStdout": bool,
             "AttachStderr": bool, "Tty": bool}
    for k, v in b.items():
        if k in types and v is not None and not isinstance(v, types[k]):
            return "json: cannot unmarshal %s into Go struct field .%s" % (type(v).__name__, k)
    if not b.get("Image"):
        return "config: no image"
    for k in ("Cmd", "Entrypoint", "Env"):
        if any(not isinstance(x, str) for x in b.get(k) or []):
            return "json: cannot unmarshal into Go struct field .%s of type string" % k
    for e in b.get("Env") or []:
        if "=" not in e or e.startswith("="):
            return "invalid environment variable: %s" % e
    wd = b.get("WorkingDir")
    if wd and not wd.startswith("/"):
        return "the working directory '%s' is invalid, it needs to be an absolute path" % wd
    hc = b.get("HostConfig") or {}
    ints = ("Memory", "MemorySwap", "MemoryReservation", "KernelMemory", "NanoCpus", "ShmSize",
            "MemorySwappiness")
    for k in ints:
        if hc.get(k) is not None and (not isinstance(hc[k], int) or isinstance(hc[k], bool)):
            return "json: cannot unmarshal into Go struct field HostConfig.%s of type int64" % k
    if hc.get("Memory") and hc["Memory"] < 6 * 1024 * 1024:
        return "Minimum memory limit allowed is 6MB"
    for bnd in hc.get("Binds") or []:
        if not isinstance(bnd, str) or len(bnd.split(":")) not in (2, 3) or not bnd.split(":")[1].startswith("/"):
            return "invalid volume specification: '%s'" % bnd
    if hc.get("NetworkMode") is not None and not isinstance(hc["NetworkMode"], str):
        return "json: cannot unmarshal into Go struct field HostConfig.NetworkMode of type string"
    return None


def frames(c):
    out = b""
    for line in c["script"].get("stdout", []):
        d = (line + "\n").encode()
        out += struct.pack(">BxxxL", 1, len(d)) + d
    for line in c["script"].get("stderr", []):
        d = (line + "\n").encode()
        out += struct.pack(">BxxxL", 2, len(d)) + d
    return out


def tar_of(files, dirs, path):
    """A tar of the fake's files under path, named from its base name (as the
    engine does), or None if nothing is there."""
    path = path.rstrip("/") or "/"
    base = os.path.basename(path) or "."
    bio = io.BytesIO()
    found = False
    with tarfile.open(fileobj=bio, mode="w") as t:
        if files.get(path) is not None:
            data = files[path]
            ti = tarfile.TarInfo(base)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
            return bio.getvalue()
        made = set()
        for p in sorted(files):
            if p.startswith(path + "/") or path == "/":
                rel = p[len(path):].lstrip("/")
                parts = rel.split("/")
                for i in range(len(parts)):
                    d = "/".join(parts[:i])
                    if d not in made:
                        made.add(d)
                        ti = tarfile.TarInfo(base + ("/" + d if d else ""))
                        ti.type = tarfile.DIRTYPE
                        ti.mode = 0o755
                        t.addfile(ti)
                data = files[p]
                if data is None:
                    continue  # a folder
                ti = tarfile.TarInfo(base + "/" + rel)
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
                found = True
        if not found and path not in dirs and not made:
            return None
    return bio.getvalue()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return "unix"

    def log_message(self, fmt, *a):
        if ARGS.verbose:
            sys.stderr.write("fake: " + (fmt % a) + "\n")

    def send(self, code, body=b"", ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def err(self, code, msg):
        self.send(code, {"message": msg})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        p = u.path
        parts = p.split("/")
        if len(parts) > 1 and parts[1].startswith("v") and parts[1][1:2].isdigit():
            p = "/" + "/".join(parts[2:])
        return p, q

    def handle_any(self):
        p, q = self.route()
        raw = self.body() if self.command in ("POST", "PUT") else b""
        entry = {"method": self.command, "path": p, "query": q}
        for h in ("X-Registry-Auth", "Content-Type"):
            if self.headers.get(h):
                entry[h] = self.headers.get(h)
        try:
            self.dispatch(p, q, raw, entry)
        except BrokenPipeError:
            pass
        finally:
            log(entry)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any

    def container(self, cid):
        with LOCK:
            for k, c in STATE["containers"].items():
                if k == cid or (len(cid) >= 4 and k.startswith(cid)):
                    return k, c
        return None, None

    def dispatch(self, p, q, raw, entry):
        if p == "/_ping":
            return self.send(200, b"OK", "text/plain", {"Docker-Experimental": "false", "OSType": "linux"})
        if p == "/version":
            return self.send(200, {"Version": "20.10.24-fake", "ApiVersion": "1.41", "MinAPIVersion": "1.12",
                                   "Os": "linux", "Arch": "amd64"})
        if p.startswith("/images/") and p.endswith("/json") and self.command == "GET":
            name = p[len("/images/"):-len("/json")]
            if name in STATE["images"] or (":" not in name.split("/")[-1] and name + ":latest" in STATE["images"]):
                return self.send(200, {"Id": "sha256:" + "0" * 64, "RepoTags": [name]})
            return self.err(404, "No such image: %s" % name)
        if p == "/images/create" and self.command == "POST":
            ref = q.get("fromImage", "")
            tag = q.get("tag", "")
            full = ref + (":" + tag if tag else "")
            auth = self.headers.get("X-Registry-Auth")
            if auth:
                pad = "=" * (-len(auth) % 4)
                try:
                    a = json.loads(base64.urlsafe_b64decode(auth + pad))
                except Exception as ex:
                    return self.err(400, "bad X-Registry-Auth: %s" % ex)
                entry["auth"] = {k: ("<set>" if k == "password" else v) for k, v in a.items()}
                entry["auth_password_ok"] = a.get("password") == ARGS.registry_password
            if ARGS.registry_user and ref.startswith(ARGS.private_prefix):
                a = {}
                if auth:
                    a = json.loads(base64.urlsafe_b64decode(auth + "=" * (-len(auth) % 4)))
                if a.get("username") != ARGS.registry_user or a.get("password") != ARGS.registry_password:
                    body = json.dumps({"status": "Pulling from " + ref}) + "\n" + json.dumps(
                        {"errorDetail": {"message": "unauthorized: incorrect username or password"},
                         "error": "unauthorized: incorrect username or password"}) + "\n"
                    return self.send(200, body.encode())
            if ref.startswith("missing/"):
                return self.err(404, "pull access denied for %s, repository does not exist" % ref)
            STATE["images"].add(full)
            body = "".join(json.dumps(x) + "\n" for x in (
                {"status": "Pulling from " + ref, "id": tag or "latest"},
                {"status": "Download complete", "progressDetail": {}, "id": "abc"},
                {"status": "Status: Downloaded newer image for " + full}))
            return self.send(200, body.encode())
        if p == "/containers/create" and self.command == "POST":
            try:
                b = json.loads(raw or b"null")
            except ValueError as ex:
                return self.err(400, "invalid JSON: %s" % ex)
            entry["body"] = b
            bad = check_create(b)
            if bad:
                return self.err(400, bad)
            img = b["Image"]
            if img not in STATE["images"] and img + ":latest" not in STATE["images"]:
                return self.err(404, "No such image: %s" % img)
            script = {}
            if ARGS.script and os.path.exists(ARGS.script):
                with open(ARGS.script) as f:
                    script = json.load(f)
            with LOCK:
                STATE["n"] += 1
                cid = "%064x" % (0xfeed0000 + STATE["n"])
                STATE["containers"][cid] = {"config": b, "script": script, "files": {}, "dirs": {"/", "/tmp"},
                                            "status": "created", "exit": None, "started": 0}
            return self.send(201, {"Id": cid, "Warnings": []})
        if p.startswith("/containers/"):
            rest = p[len("/containers/"):]
            cid, _, op = rest.partition("/")
            k, c = self.container(cid)
            if not c:
                return self.err(404, "No such container: %s" % cid)
            return self.container_op(k, c, op, q, raw, entry)
        return self.err(404, "page not found")

    def container_op(self, k, c, op, q, raw, entry):
        if op == "json" and self.command == "GET":
            st = c["status"]
            return self.send(200, {"Id": k, "Name": "/fake", "Image": c["config"]["Image"],
                                   "Config": {"Tty": False, "Image": c["config"]["Image"],
                                              "Cmd": c["config"].get("Cmd"), "Env": c["config"].get("Env")},
                                   "HostConfig": c["config"].get("HostConfig", {}),
                                   "State": {"Status": st, "Running": st == "running",
                                             "ExitCode": c["exit"] or 0,
                                             "OOMKilled": bool(c["script"].get("oom"))}})
        if op == "archive":
            path = q.get("path", "")
            if not path.startswith("/"):
                return self.err(400, "path must be absolute")
            if self.command == "PUT":
                try:
                    t = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
                    members = t.getmembers()
                except tarfile.TarError as ex:
                    return self.err(400, "not a tar archive: %s" % ex)
                names = []
                for m in members:
                    full = os.path.normpath(os.path.join(path, m.name))
                    names.append(m.name + ("/" if m.isdir() else ""))
                    if m.isdir():
                        c["dirs"].add(full)
                        c["files"].setdefault(full, None)
                    elif m.isfile():
                        c["files"][full] = t.extractfile(m).read()
                entry["entries"] = names
                return self.send(200, b"")
            files = {p: v for p, v in c["files"].items()}
            pp = path.rstrip("/") or "/"
            if pp in c["dirs"] or any(f.startswith(pp + "/") for f in files):
                stat = {"name": os.path.basename(pp) or "/", "size": 4096,
                        "mode": 0o755 | (1 << 31), "mtime": "2026-01-01T00:00:00Z", "linkTarget": ""}
            elif files.get(pp) is not None:
                stat = {"name": os.path.basename(pp), "size": len(files[pp]),
                        "mode": 0o644, "mtime": "2026-01-01T00:00:00Z", "linkTarget": ""}
            else:
                return self.err(404, "Could not find the file %s in container %s" % (path, k))
            hdr = {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(stat).encode()).decode()}
            if self.command == "HEAD":
                return self.send(200, b"", "application/x-tar", hdr)
            data = tar_of(files, c["dirs"], pp)
            if data is None:
                return self.err(404, "Could not find the file %s in container %s" % (path, k))
            return self.send(200, data, "application/x-tar", hdr)
        if op == "start" and self.command == "POST":
            if c["status"] == "running":
                return self.send(304, b"")
            c["status"] = "running"
            c["started"] = time.time()
            env = dict(e.split("=", 1) for e in c["config"].get("Env") or [])
            wd = c["config"].get("WorkingDir") or "/"
            for name, text in (c["script"].get("files") or {}).items():
                if name.startswith("$OUTPUT_DIR/"):
                    full = os.path.join(env.get("OUTPUT_DIR", "/out"), name[len("$OUTPUT_DIR/"):])
                else:
                    full = os.path.join(wd, name)
                c["files"][os.path.normpath(full)] = text.encode()
            return self.send(204, b"")
        if op == "logs" and self.command == "GET":
            if q.get("follow") in ("1", "true"):
                # the stream ends when the container does
                left = c["started"] + float(c["script"].get("sleep", 0)) - time.time()
                body = frames(c)
                self.send_response(200)
                self.send_header("Api-Version", "1.41")
                self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                while left > 0 and c["status"] == "running":
                    time.sleep(0.05)
                    left -= 0.05
                self.close_connection = True
                if c["status"] == "running":
                    c["status"] = "exited"
                    c["exit"] = int(c["script"].get("exit", 0))
                return
            return self.send(200, frames(c), "application/vnd.docker.multiplexed-stream")
        if op == "wait" and self.command == "POST":
            while c["status"] == "running" and time.time() < c["started"] + float(c["script"].get("sleep", 0)):
                time.sleep(0.05)
            if c["status"] == "running":
                c["status"] = "exited"
                c["exit"] = int(c["script"].get("exit", 0))
            return self.send(200, {"StatusCode": 137 if c["script"].get("oom") else (c["exit"] or 0),
                                   "Error": None})
        if op in ("stop", "kill") and self.command == "POST":
            entry["stopped"] = c["status"]
            if c["status"] != "running":
                return self.send(304, b"")
            c["status"] = "exited"
            c["exit"] = 137
            return self.send(204, b"")
        if op == "" and self.command == "DELETE":
            with LOCK:
                STATE["containers"].pop(k, None)
            return self.send(204, b"")
        return self.err(404, "page not found")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", help="listen on this Unix socket")
    ap.add_argument("--port-file", help="listen on a free loopback TCP port, written to this file")
    ap.add_argument("--log")
    ap.add_argument("--script")
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--registry-user")
    ap.add_argument("--registry-password")
    ap.add_argument("--private-prefix", default="", help="images that need the registry credentials")
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()
    STATE["images"].update(ARGS.image)
    if ARGS.port_file:
        srv = TcpServer(("127.0.0.1", 0), H)
        with open(ARGS.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    else:
        if os.path.exists(ARGS.socket):
            os.unlink(ARGS.socket)
        srv = Server(ARGS.socket, H)
    srv.serve_forever()


if __name__ == "__main__":
    main()
