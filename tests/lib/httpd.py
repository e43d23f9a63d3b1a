#!/usr/bin/env python3
"""tests/lib/httpd.py: a real HTTP/1.1 server on loopback for kite's tests.

Started by a test, it prints its port on the first line of stdout once it
listens (on --host, 127.0.0.1 by default), and serves until killed (or until --max-seconds pass, so a test that
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
  /multipart       parses a multipart/form-data body: JSON {field: {filename,
                   content_type, content, size}}
  /sse?n=N         text/event-stream of N events (id, event, JSON data), a
                   comment and a plain-text event
  /file            a body with Content-Disposition: attachment; filename=...
  /empty           200 with an empty body
  /latin1          "café" in ISO-8859-1, saying so in its Content-Type
  /auth?basic=U:P  200 "authorized" when the request's Authorization is Basic
  /auth?bearer=T   U:P (or Bearer T), else 401 "unauthorized"
  /flaky?key=K&fail=N  503 for the first N requests with key K, then 200 "ok"
A request whose target is an absolute URL (http://host/path) is served as a
forward proxy would: the route of its path, with "proxied": true and the
Proxy-Authorization header in /echo's answer.
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
FLAKY = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body leave at once (no 40 ms ACK waits)

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
        proxied = self.path.startswith("http://")
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        body = self.read_body()
        parts = u.path.strip("/").split("/")
        if u.path == "/echo" or (parts[0] == "hops" and parts[1:] == ["0"]):
            self.send(200, json.dumps({
                "method": self.command, "path": u.path, "query": u.query,
                "proxied": proxied,
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
        elif u.path == "/multipart":
            import email.parser
            import email.policy
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + self.headers.get("Content-Type", "").encode() +
                b"\r\n\r\n" + body)
            out = {}
            for part in msg.iter_parts():
                data = part.get_payload(decode=True) or b""
                out[part.get_param("name", header="content-disposition")] = {
                    "filename": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "content": data.decode("utf-8", "replace"), "size": len(data)}
            self.send(200, json.dumps(out), "application/json")
        elif u.path == "/sse":
            n = int(q.get("n", ["3"])[0])
            ev = ": a comment\n\n"
            for i in range(n):
                ev += "id: %d\nevent: tick\ndata: {\"i\": %d, \"msg\": \"m%d\"}\n\n" % (i, i, i)
            ev += "data: plain\ndata: two lines\n\n"
            self.send(200, ev, "text/event-stream")
        elif u.path == "/file":
            self.send(200, "id,name\n1,kite\n", "text/csv",
                      headers=[("Content-Disposition", 'attachment; filename="report.csv"')])
        elif u.path == "/empty":
            self.send(200, b"")
        elif u.path == "/latin1":
            self.send(200, "café".encode("latin-1"), "text/plain; charset=ISO-8859-1")
        elif u.path == "/auth":
            import base64
            want = ("Basic " + base64.b64encode(q["basic"][0].encode()).decode()
                    if "basic" in q else "Bearer " + q["bearer"][0])
            if self.headers.get("Authorization") == want:
                self.send(200, "authorized")
            else:
                self.send(401, "unauthorized")
        elif u.path == "/flaky":
            k = q["key"][0]
            with LOCK:
                FLAKY[k] = FLAKY.get(k, 0) + 1
                n = FLAKY[k]
            if n <= int(q["fail"][0]):
                self.send(503, "try again (%d)" % n)
            else:
                self.send(200, "ok after %d" % n)
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
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()
    socketserver.TCPServer.allow_reuse_address = True
    srv = Server((a.host, a.port), Handler)
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    threading.Timer(a.max_seconds, lambda: srv.shutdown()).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
