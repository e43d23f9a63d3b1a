#!/usr/bin/python3
"""tests/lib/smtpd.py: a real SMTP server on loopback for the mail tests,
a few lines over the aiosmtpd library (Debian's python3-aiosmtpd; its
command line has no AUTH).

  smtpd.py --dir DIR [--user U --password P] [--starttls CERT KEY]
           [--implicit-tls CERT KEY] [--max-seconds N]

Prints its port on the first line of stdout once it listens. With --user,
AUTH (PLAIN, LOGIN) is required and checked; with --starttls it offers
STARTTLS and requires it before AUTH and MAIL; with --implicit-tls it speaks
TLS from the first byte (SMTPS). Each message is saved as DIR/NNNNNN.json:
{mail_from, rcpt_tos, login, tls, data}, data being the message as sent.
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SEQ = [0]
LOCK = threading.Lock()


class Saver:
    def __init__(self, folder):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        with LOCK:
            SEQ[0] += 1
            seq = SEQ[0]
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        rec = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "login": login,
               "tls": server.transport.get_extra_info("ssl_object") is not None,
               "data": envelope.original_content.decode("utf-8", "replace")}
        tmp = os.path.join(self.folder, ".%06d.tmp" % seq)
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(self.folder, "%06d.json" % seq))
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()

    def auth(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and data.login.decode() == a.user
              and data.password.decode() == a.password)
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    kw = {}
    if a.user:
        kw.update(authenticator=auth, auth_required=True, auth_require_tls=bool(a.starttls))
    if a.starttls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*a.starttls)
        kw.update(tls_context=ctx, require_starttls=True)
    if a.implicit_tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*a.implicit_tls)
        kw.update(ssl_context=ctx)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = Controller(Saver(a.dir), hostname="127.0.0.1", port=port, **kw)
    c.start()
    print(port, flush=True)
    time.sleep(a.max_seconds)
    c.stop()


if __name__ == "__main__":
    sys.exit(main())
