#!/usr/bin/env python3
"""tests/lib/hooksrv.py: a loopback stand-in for the services kite's alert
tasks post to (tests/e2e/notify.sh, bench/bench_notify.sh).

It checks each request the way the service would (the path, the content
type, the authentication, the body's JSON shape), answers as the service
answers (200, 202, 204, Telegram's {"ok": true}...) or 400 with the reason,
and records every request as DIR/NNNNNN.json: {service, method, path, query,
headers, body, ok, reason}. It prints its port on the first line of stdout
once it listens; with --tls CERT KEY it speaks HTTPS. --no-record keeps
nothing (for the benchmark).

Routes, by the first path segment:
  /slack/*     JSON object with text or blocks              200 "ok"
  /zulip/*     JSON object with text or blocks              200 {"result": "success"}
  /teams/*     JSON object (MessageCard, or type/attachments) 200 "1"
  /gchat/*     JSON object with text or cardsV2             200 {}
  /discord/*   JSON object with content or embeds           204
  /telegram/bot<token>/sendMessage  JSON {chat_id, text}    200 {"ok": true, ...}
               (a token starting "bad": 401 {"ok": false})
  /line/*      Bearer token, JSON {messages: [{type, text}]} 200 {}
  /twilio/*    basic auth, a form with Body                 201 JSON
  /pagerduty/* JSON with event_action; trigger needs routing_key and
               payload {summary, source, severity}          202 {"status": "success"}
  /opsgenie/*  Authorization "GenieKey ...", JSON with message 202
  /sendgrid/*  Bearer token, JSON {personalizations[0].to, from.email, content} 202
  /squadcast/* JSON; trigger needs message, resolve needs event_id  202 {"status": "accepted"}
  /whatsapp/*  JSON with a contacts or messages list; each message of type
               text has text.body                           200 {}
  /sentry/api/<project>/envelope/?sentry_key=K  an envelope: header line
               {event_id (32 hex), dsn}, item header {type: event, length
               (the event's bytes)}, the event (JSON)       200 {"id": event_id}
  /sentry/api/<project>/store/?sentry_key=K     the event (JSON)  200 {"id"}
  /zenduty/*   JSON with message and alert_type (critical, acknowledged,
               resolved, error, warning, info)              201 {"message": ...}
  /x/*         Authorization "Bearer ..." or "OAuth ..." (oauth_consumer_key,
               oauth_nonce, oauth_signature, oauth_signature_method HMAC-SHA1,
               oauth_timestamp, oauth_token, oauth_version 1.0), JSON {text}
               of at most 280 characters             201 {"data": {"id", "text"}}
  /messenger/* access_token in the query, JSON {recipient: {id},
               messaging_type (RESPONSE, UPDATE, MESSAGE_TAG), message: {text}}
                                                      200 {"recipient_id", "message_id"}
  /hook/*      anything                                     200 "ok"
  /status/N    status N                                     (recorded too)
  /slow?s=S    waits S seconds, then 200
"""
import argparse
import base64
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
SEQ = [0]
ARGS = None


def need_json(h, body):
    ct = h.headers.get("Content-Type", "")
    if not ct.startswith("application/json"):
        return None, "Content-Type is %r, not application/json" % ct
    try:
        v = json.loads(body)
    except ValueError as e:
        return None, "body is not JSON: %s" % e
    if not isinstance(v, dict):
        return None, "body is not a JSON object"
    return v, None


def check(h, service, path, body):
    """(status, answer, reason or None)"""
    auth = h.headers.get("Authorization", "")
    if service in ("slack", "zulip"):
        v, err = need_json(h, body)
        if err:
            return 400, "invalid_payload", err
        if not (isinstance(v.get("text"), str) or isinstance(v.get("blocks"), list)):
            return 400, "invalid_payload", "neither text nor blocks"
        if service == "zulip":
            return 200, '{"result": "success"}', None
        return 200, "ok", None
    if service == "teams":
        v, err = need_json(h, body)
        if err:
            return 400, err, err
        if v.get("@type") == "MessageCard":
            if not isinstance(v.get("sections", []), list):
                return 400, "sections is not a list", "sections is not a list"
        elif not (v.get("type") or v.get("attachments") or v.get("text")):
            return 400, "not a card", "neither @type MessageCard, type, attachments nor text"
        return 200, "1", None
    if service == "gchat":
        v, err = need_json(h, body)
        if err:
            return 400, err, err
        if not (isinstance(v.get("text"), str) or v.get("cardsV2") or v.get("cards")):
            return 400, "no text", "neither text nor cardsV2"
        return 200, "{}", None
    if service == "discord":
        v, err = need_json(h, body)
        if err:
            return 400, err, err
        if not (v.get("content") or isinstance(v.get("embeds"), list)):
            return 400, '{"message": "Cannot send an empty message"}', "neither content nor embeds"
        return 204, "", None
    if service == "telegram":
        parts = path.split("/")
        if len(parts) != 4 or not parts[2].startswith("bot") or parts[3] != "sendMessage":
            return 404, '{"ok": false}', "not /telegram/bot<token>/sendMessage"
        if parts[2].startswith("botbad"):
            return 401, '{"ok": false, "error_code": 401, "description": "Unauthorized"}', "bad token"
        v, err = need_json(h, body)
        if err:
            return 400, '{"ok": false}', err
        if not v.get("chat_id") or not isinstance(v.get("text"), str):
            return 400, '{"ok": false}', "chat_id or text missing"
        return 200, json.dumps({"ok": True, "result": {"message_id": 1, "text": v["text"]}}), None
    if service == "line":
        if not auth.startswith("Bearer ") or len(auth) < 10:
            return 401, "{}", "no Bearer token"
        v, err = need_json(h, body)
        if err:
            return 400, "{}", err
        msgs = v.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(
                m.get("type") == "text" and isinstance(m.get("text"), str) for m in msgs):
            return 400, "{}", "messages is not a list of {type: text, text}"
        return 200, "{}", None
    if service == "twilio":
        if not auth.startswith("Basic "):
            return 401, "{}", "no basic auth"
        user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
        if not user or not pw:
            return 401, "{}", "basic auth without user or password"
        if not h.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return 400, "{}", "not a form"
        form = parse_qs(body.decode(), keep_blank_values=True)
        if "Body" not in form and "body" not in form:
            return 400, "{}", "no Body field"
        return 201, json.dumps({"sid": "NT1", "account_sid": user}), None
    if service == "pagerduty":
        v, err = need_json(h, body)
        if err:
            return 400, "{}", err
        act = v.get("event_action")
        if act not in ("trigger", "acknowledge", "resolve"):
            return 400, '{"status": "invalid event"}', "event_action %r" % act
        if act == "trigger":
            p = v.get("payload") or {}
            if not v.get("routing_key"):
                return 400, '{"status": "invalid event"}', "no routing_key"
            for f in ("summary", "source", "severity"):
                if not p.get(f):
                    return 400, '{"status": "invalid event"}', "payload.%s missing" % f
        return 202, '{"status": "success", "message": "Event processed"}', None
    if service == "opsgenie":
        if not auth.startswith("GenieKey "):
            return 401, '{"message": "Key format is not valid!"}', "no GenieKey"
        v, err = need_json(h, body)
        if err:
            return 400, "{}", err
        if not isinstance(v.get("message"), str) or not v["message"]:
            return 422, '{"message": "Message can not be empty."}', "no message"
        return 202, '{"result": "Request will be processed", "requestId": "r1"}', None
    if service == "sendgrid":
        if not auth.startswith("Bearer ") or len(auth) < 10:
            return 401, "{}", "no Bearer token"
        v, err = need_json(h, body)
        if err:
            return 400, "{}", err
        pers = v.get("personalizations")
        if not isinstance(pers, list) or not pers or not pers[0].get("to"):
            return 400, "{}", "personalizations[0].to missing"
        if not (v.get("from") or {}).get("email"):
            return 400, "{}", "from.email missing"
        if not v.get("content") and not v.get("template_id"):
            return 400, "{}", "no content"
        return 202, "", None
    if service == "squadcast":
        v, err = need_json(h, body)
        if err:
            return 400, '{"error": "bad json"}', err
        if v.get("status") == "resolve":
            if not v.get("event_id"):
                return 400, '{"error": "event_id missing"}', "resolve without event_id"
        elif not isinstance(v.get("message"), str) or not v["message"]:
            return 400, '{"error": "message missing"}', "no message"
        if "tags" in v and not isinstance(v["tags"], dict):
            return 400, '{"error": "tags"}', "tags is not an object"
        return 202, '{"status": "accepted"}', None
    if service == "whatsapp":
        v, err = need_json(h, body)
        if err:
            return 400, "{}", err
        if not isinstance(v.get("contacts", []), list) or not isinstance(v.get("messages", []), list):
            return 400, "{}", "contacts or messages is not a list"
        if not v.get("contacts") and not v.get("messages"):
            return 400, "{}", "neither contacts nor messages"
        for m in v.get("messages", []):
            if m.get("type") == "text" and "body" not in (m.get("text") or {}):
                return 400, "{}", "a text message without text.body"
        return 200, "{}", None
    if service == "sentry":
        parts = path.split("/")
        q = parse_qs(urlsplit(h.path).query)
        if len(parts) != 6 or parts[2] != "api" or not parts[3].isdigit() or parts[4] not in ("envelope", "store"):
            return 404, "{}", "not /sentry/api/<project>/envelope|store/"
        if not q.get("sentry_key") or q.get("sentry_version") != ["7"]:
            return 401, '{"detail": "missing authorization information"}', "no sentry_key or sentry_version"
        text = body.decode("utf-8", "replace")
        if parts[4] == "envelope":
            lines = body.split(b"\n")
            try:
                head, item = json.loads(lines[0]), json.loads(lines[1])
            except (ValueError, IndexError) as e:
                return 400, "{}", "envelope headers: %s" % e
            ev = b"\n".join(lines[2:]).rstrip(b"\n")
            if item.get("type") != "event" or item.get("length") != len(ev):
                return 400, "{}", "item header %r for an event of %d bytes" % (item, len(ev))
            eid = head.get("event_id", "")
            if len(eid) != 32 or any(ch not in "0123456789abcdef" for ch in eid) or "@" not in head.get("dsn", ""):
                return 400, "{}", "envelope header %r" % head
            text = ev.decode()
        try:
            event = json.loads(text)
        except ValueError as e:
            return 400, "{}", "event is not JSON: %s" % e
        if not isinstance(event, dict) or not event.get("level") and not event.get("message"):
            return 400, "{}", "event without level or message"
        return 200, json.dumps({"id": event.get("event_id", "")}), None
    if service == "zenduty":
        v, err = need_json(h, body)
        if err:
            return 400, "{}", err
        if not isinstance(v.get("message"), str) or not v["message"]:
            return 400, '{"message": ["This field is required."]}', "no message"
        if v.get("alert_type") not in ("critical", "acknowledged", "resolved", "error", "warning", "info"):
            return 400, '{"alert_type": ["not a valid choice"]}', "alert_type %r" % v.get("alert_type")
        return 201, json.dumps({"message": v["message"]}), None
    if service == "x":
        if auth.startswith("OAuth "):
            params = dict(kv.strip().split("=", 1) for kv in auth[6:].split(","))
            need = ("oauth_consumer_key", "oauth_nonce", "oauth_signature", "oauth_signature_method",
                    "oauth_timestamp", "oauth_token", "oauth_version")
            missing = [k for k in need if not params.get(k, "").startswith('"')]
            if missing:
                return 401, '{"title": "Unauthorized"}', "OAuth header without %s" % ",".join(missing)
            if params["oauth_signature_method"] != '"HMAC-SHA1"' or params["oauth_version"] != '"1.0"':
                return 401, '{"title": "Unauthorized"}', "OAuth method or version"
        elif not auth.startswith("Bearer ") or len(auth) < 8:
            return 401, '{"title": "Unauthorized"}', "no Bearer or OAuth authorization"
        v, err = need_json(h, body)
        if err:
            return 400, "{}", err
        t = v.get("text")
        if not isinstance(t, str) or not t:
            return 400, '{"title": "Invalid Request"}', "no text"
        if len(t.encode("utf-16-le")) // 2 > 280:
            return 400, '{"title": "Invalid Request"}', "text longer than 280"
        return 201, json.dumps({"data": {"id": "1445880548472328192", "text": t}}), None
    if service == "messenger":
        q = parse_qs(urlsplit(h.path).query)
        if not q.get("access_token", [""])[0]:
            return 400, '{"error": {"message": "An access token is required"}}', "no access_token"
        v, err = need_json(h, body)
        if err:
            return 400, "{}", err
        if not isinstance(v.get("recipient"), dict) or not v["recipient"].get("id"):
            return 400, '{"error": {"message": "recipient"}}', "no recipient.id"
        if v.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return 400, '{"error": {"message": "messaging_type"}}', "messaging_type %r" % v.get("messaging_type")
        if not isinstance(v.get("message"), dict) or not v["message"].get("text"):
            return 400, '{"error": {"message": "message"}}', "no message.text"
        return 200, json.dumps({"recipient_id": v["recipient"]["id"], "message_id": "m_1"}), None
    if service == "hook":
        return 200, "ok", None
    return 404, "no such service", "unknown route"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms) whenever the client is idle
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def record(self, service, u, body, status, reason):
        if ARGS.no_record:
            return
        with LOCK:
            SEQ[0] += 1
            seq = SEQ[0]
        rec = {"service": service, "method": self.command, "path": u.path, "query": u.query,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "replace"), "status": status,
               "ok": reason is None, "reason": reason}
        tmp = os.path.join(ARGS.dir, ".%06d.tmp" % seq)
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(ARGS.dir, "%06d.json" % seq))

    def handle_any(self):
        u = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = u.path.split("/")
        service = parts[1] if len(parts) > 1 else ""
        if service == "slow":
            # recorded before the wait: a client that gives up must not have its
            # record appear seconds later, in the middle of another check's count
            self.record(service, u, body, 200, None)
            time.sleep(float(parse_qs(u.query).get("s", ["1"])[0]))
            status, answer = 200, "slow"
        else:
            if service == "status":
                status, answer, reason = int(parts[2]), "status %s" % parts[2], None
            else:
                status, answer, reason = check(self, service, u.path, body)
            self.record(service, u, body, status, reason)
        data = answer.encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "application/json" if data[:1] in (b"{", b"[") else "text/plain")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=".")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=600)
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls[0], ARGS.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    threading.Timer(ARGS.max_seconds, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
