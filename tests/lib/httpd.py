#!/usr/bin/env python3
"""tests/lib/httpd.py: a real HTTP/1.1 server on loopback for kite's tests.

Started by a test, it prints its port on the first line of stdout once it
listens, and serves until killed (or until --max-seconds pass, so a test that
dies cannot leave it behind). With --tls CERT KEY it speaks HTTPS.

Routes (any method):
  /echo            200, JSON {method, path, query, headers, body, body_len}
  /status/N        status N, body "status N"
  /redirect?to=U   302 to U
  /hops/K          302 to /hops/K-1 ... /hops/0 answers like /echo
  /big?n=N         N bytes of "x"
  /slow?s=S        waits S seconds, then 200 "slow"
  /stall           sends headers and 10 bytes of a 1000-byte body, then waits
  /conns           the number of TCP connections accepted so far
"""
import argparse
import json
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CONNS = 0
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global CONNS
        with LOCK:
            CONNS += 1
        super().setup()

    def log_message(self, *args):
        pass

    def send(self, code, body, ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Test", "kite")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        body = self.read_body()
        parts = u.path.strip("/").split("/")
        if u.path == "/echo" or (parts[0] == "hops" and parts[1:] == ["0"]):
            self.send(200, json.dumps({
                "method": self.command, "path": u.path, "query": u.query,
                "headers": {k: v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"), "body_len": len(body)}),
                "application/json")
        elif parts[0] == "status" and len(parts) == 2:
            self.send(int(parts[1]), "status " + parts[1])
        elif u.path == "/redirect":
            self.send(302, "", headers=[("Location", q["to"][0])])
        elif parts[0] == "hops":
            self.send(302, "", headers=[("Location", "/hops/%d" % (int(parts[1]) - 1))])
        elif u.path == "/big":
            self.send(200, b"x" * int(q["n"][0]))
        elif u.path == "/slow":
            time.sleep(float(q["s"][0]))
            self.send(200, "slow")
        elif u.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            time.sleep(30)
        elif u.path == "/conns":
            with LOCK:
                n = CONNS
            self.send(200, str(n))
        else:
            self.send(404, "no route " + u.path)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass    # a client that hung up on purpose (timeouts, caps) is no news


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()
    socketserver.TCPServer.allow_reuse_address = True
    srv = Server(("127.0.0.1", a.port), Handler)
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    threading.Timer(a.max_seconds, lambda: srv.shutdown()).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
