#!/usr/bin/env python3
"""git_http.py: Git's smart HTTP protocol on loopback for kite's tests: git's
own git-http-backend (from the git package) run as a CGI program behind a
small HTTP server, with HTTP Basic authentication.

Every request must carry `Authorization: Basic` with --user and --password,
else it answers 401 with a WWW-Authenticate challenge (so a client has to
send its credentials, as GitHub or GitLab make it). Repositories are the
bare ones under --root (GIT_PROJECT_ROOT), all exported, and pushes are
allowed (REMOTE_USER is set to the user). Request bodies may be sent with
Content-Length or chunked (libgit2 streams a push's pack chunked).

With --tls-cert and --tls-key it speaks HTTPS (a certificate the test made
with openssl). With --keepalive-401 a 401 carries a body and keeps the
connection, as GitHub or nginx answer.

usage: git_http.py --root DIR --port-file F --user U --password P
                   [--tls-cert PEM --tls-key PEM] [--keepalive-401]
"""
import argparse
import base64
import os
import ssl
import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BACKEND = os.environ.get("GIT_HTTP_BACKEND", "/usr/lib/git-core/git-http-backend")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("git_http: " + (fmt % args) + "\n")

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_git(self):
        data = self.body()
        want = "Basic " + base64.b64encode(("%s:%s" % (self.server.user, self.server.password)).encode()).decode()
        if self.headers.get("Authorization") != want:
            self.server.refused += 1
            if self.server.keepalive_401:
                # as GitHub or nginx answer: a body, and the connection kept
                return self.answer(401, [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Type", "text/html")],
                                   b"<html><body><h1>401 Authorization Required</h1></body></html>\n")
            self.close_connection = True
            return self.answer(401, [("WWW-Authenticate", 'Basic realm="git"'), ("Connection", "close")], b"")
        u = urllib.parse.urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": self.server.user,
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(u.path),
            "QUERY_STRING": u.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(data)),
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        p = subprocess.run([BACKEND], input=data, env=env, capture_output=True)
        head, _, out = p.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, out = p.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k.strip(), v.strip()))
        if p.returncode and not p.stdout:
            status, out = 500, p.stderr
        if self.command == "POST" and "receive-pack" in u.path and status == 200:
            self.server.pushes += 1
        self.answer(status, headers, out)

    def do_GET(self):
        if self.path == "/_stats":
            data = ("refused=%d pushes=%d\n" % (self.server.refused, self.server.pushes)).encode()
            return self.answer(200, [("Content-Type", "text/plain")], data)
        self.handle_git()

    def do_POST(self):
        self.handle_git()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--keepalive-401", action="store_true")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.root, srv.user, srv.password = os.path.abspath(a.root), a.user, a.password
    srv.refused = srv.pushes = 0
    srv.keepalive_401 = a.keepalive_401
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
