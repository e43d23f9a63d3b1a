#!/usr/bin/env python3
"""s3_fake.py: an S3-compatible server on loopback for kite's tests, that
checks every request's AWS Signature Version 4 the way S3 does.

Each request's signature is recomputed with botocore (Debian's
python3-botocore: botocore.auth.S3SigV4Auth, the signer of the AWS SDK for
Python) from the method, the path, the query, the headers the request says
it signed, its x-amz-date and the secret key, and compared with the one in
the Authorization header; a mismatch answers 403 SignatureDoesNotMatch, a
body whose SHA-256 is not x-amz-content-sha256 answers 400
XAmzContentSHA256Mismatch, a missing session token 403 InvalidToken.

Objects are files in a folder (--root). Operations, path-style
(/bucket/key): CreateBucket, HeadBucket, PutObject, GetObject (a Range, If-Match), HeadObject,
DeleteObject, CopyObject (x-amz-copy-source), ListObjectsV2 (prefix,
delimiter, max-keys, continuation-token, start-after), DeleteObjects (POST
?delete, Content-MD5 checked), CreateMultipartUpload, UploadPart,
CompleteMultipartUpload, AbortMultipartUpload. Answers are S3's XML.

Test controls, unsigned, under /_fake/: POST /_fake/fail?status=503&count=N
(the next N signed requests answer that status, SlowDown/InternalError),
GET /_fake/stats (requests per operation, the largest body read in one
request, signature failures).

usage: s3_fake.py --root DIR --port-file F --access-key AK --secret-key SK
                  [--session-token T] [--selftest]
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import secrets
import shutil
import sys
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def now_http():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def xml_text(tag, children):
    root = ET.Element(tag, xmlns=NS)

    def add(parent, items):
        for k, v in items:
            el = ET.SubElement(parent, k)
            if isinstance(v, list):
                add(el, v)
            elif v is not None:
                el.text = str(v)
    add(root, children)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


class Store:
    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()
        self.uploads = {}       # upload id -> (bucket, key, {part: (path, etag, size)}, meta)
        self.stats = {"sigfail": 0, "max_read": 0}
        self.fail = []          # statuses to answer next
        os.makedirs(root, exist_ok=True)

    def bdir(self, b):
        return os.path.join(self.root, "b", urllib.parse.quote(b, safe=""))

    def opath(self, b, k):
        return os.path.join(self.bdir(b), urllib.parse.quote(k, safe="") + ".data")

    def meta(self, b, k):
        p = self.opath(b, k)[:-5] + ".meta"
        try:
            with open(p) as f:
                return json.load(f)
        except OSError:
            return None

    def set_meta(self, b, k, m):
        with open(self.opath(b, k)[:-5] + ".meta", "w") as f:
            json.dump(m, f)

    def keys(self, b):
        out = []
        for n in os.listdir(self.bdir(b)):
            if n.endswith(".data"):
                out.append(urllib.parse.unquote(n[:-5]))
        return sorted(out)

    def count(self, op):
        with self.lock:
            self.stats[op] = self.stats.get(op, 0) + 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    @property
    def st(self):
        return self.server.store

    # ---- answers ----
    def answer(self, code, body=b"", headers=None, ctype="application/xml"):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", secrets.token_hex(8))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, s3code, msg, resource=""):
        self.answer(code, xml_text("Error", [("Code", s3code), ("Message", msg), ("Resource", resource),
                                             ("RequestId", secrets.token_hex(8))]))

    # ---- reading the body, hashing as it comes ----
    def read_body(self, to_path=None):
        n = int(self.headers.get("Content-Length") or 0)
        h = hashlib.sha256()
        md5 = hashlib.md5()
        chunks = [] if to_path is None else None
        f = open(to_path, "wb") if to_path else None
        left = n
        while left > 0:
            c = self.rfile.read(min(left, 1 << 20))
            if not c:
                break
            left -= len(c)
            h.update(c)
            md5.update(c)
            if f:
                f.write(c)
            else:
                chunks.append(c)
        if f:
            f.close()
        with self.st.lock:
            self.st.stats["max_read"] = max(self.st.stats["max_read"], n)
        return (b"".join(chunks) if chunks is not None else None), h.hexdigest(), md5, n

    # ---- SigV4 ----
    def check_signature(self, body_sha):
        a = self.server.args
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return self.sigfail(403, "AccessDenied", "the request is not signed with AWS4-HMAC-SHA256")
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        cred = parts.get("Credential", "").split("/")
        signed = parts.get("SignedHeaders", "").split(";")
        if len(cred) != 5 or cred[0] != a.access_key or cred[3] != "s3" or cred[4] != "aws4_request":
            return self.sigfail(403, "InvalidAccessKeyId", "unknown access key or bad credential scope")
        amzdate = self.headers.get("x-amz-date", "")
        if not amzdate or amzdate[:8] != cred[1]:
            return self.sigfail(403, "AccessDenied", "x-amz-date missing or not the credential's date")
        try:
            t = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return self.sigfail(403, "AccessDenied", "x-amz-date is not YYYYMMDDTHHMMSSZ")
        if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 900:
            return self.sigfail(403, "RequestTimeTooSkewed", "the request time is too far from the server's")
        for must in ("host", "x-amz-date", "x-amz-content-sha256"):
            if must not in signed:
                return self.sigfail(403, "AccessDenied", "header %s is not signed" % must)
        if a.session_token:
            if "x-amz-security-token" not in signed or self.headers.get("x-amz-security-token") != a.session_token:
                return self.sigfail(403, "InvalidToken", "the session token is missing, unsigned or wrong")
        claimed = self.headers.get("x-amz-content-sha256")
        if claimed != "UNSIGNED-PAYLOAD" and claimed != body_sha:
            self.count_fail()
            self.error(400, "XAmzContentSHA256Mismatch", "the body's SHA-256 is not x-amz-content-sha256")
            return False
        hdrs = {}
        for name in signed:
            vals = self.headers.get_all(name) or []
            hdrs[name] = ",".join(vals)
        req = AWSRequest(method=self.command, url="http://%s%s" % (self.headers.get("Host"), self.path), headers=hdrs)
        req.context["timestamp"] = amzdate
        signer = S3SigV4Auth(Credentials(a.access_key, a.secret_key, a.session_token), "s3", cred[2])
        canonical = signer.canonical_request(req)
        want = signer.signature(signer.string_to_sign(req, canonical), req)
        if want != parts.get("Signature"):
            return self.sigfail(403, "SignatureDoesNotMatch",
                                "The request signature we calculated does not match the signature you provided. "
                                "Canonical request: " + canonical.replace("\n", "\\n"))
        return True

    def count_fail(self):
        with self.st.lock:
            self.st.stats["sigfail"] += 1

    def sigfail(self, code, s3code, msg):
        self.count_fail()
        self.error(code, s3code, msg)
        return False

    # ---- dispatch ----
    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        path = urllib.parse.unquote(u.path)
        if path.startswith("/_fake/"):
            return self.control(path, q)
        bucket, _, key = path[1:].partition("/")
        st = self.st
        # a body to a file (objects, parts) or to memory (XML)
        tmp = None
        is_data = self.command == "PUT" and key and "x-amz-copy-source" not in self.headers
        if is_data:
            os.makedirs(os.path.join(st.root, "tmp"), exist_ok=True)
            tmp = os.path.join(st.root, "tmp", secrets.token_hex(8))
        body, sha, md5, n = self.read_body(tmp)
        try:
            if not self.check_signature(sha):
                return
            with st.lock:
                injected = st.fail.pop(0) if st.fail else None
            if injected:
                st.count("injected")
                return self.error(injected, "SlowDown" if injected == 503 else "InternalError",
                                  "injected by the test")
            if not bucket:
                return self.error(400, "InvalidRequest", "ListBuckets is not supported by the fake")
            if self.command == "PUT" and not key:
                return self.create_bucket(bucket)
            if not os.path.isdir(st.bdir(bucket)):
                return self.error(404, "NoSuchBucket", "The specified bucket does not exist", "/" + bucket)
            if not key:
                if self.command == "GET" and q.get("list-type") == ["2"]:
                    return self.list_v2(bucket, q)
                if self.command == "POST" and "delete" in q:
                    return self.delete_objects(bucket, body, md5)
                if self.command == "HEAD":
                    st.count("HeadBucket")
                    return self.answer(200)
                return self.error(400, "InvalidRequest", "operation not supported by the fake")
            if self.command == "POST" and "uploads" in q:
                return self.create_mpu(bucket, key)
            if self.command == "PUT" and "uploadId" in q:
                return self.upload_part(q, tmp, md5, n)
            if self.command == "POST" and "uploadId" in q:
                return self.complete_mpu(bucket, key, q, body)
            if self.command == "DELETE" and "uploadId" in q:
                st.count("AbortMultipartUpload")
                with st.lock:
                    up = st.uploads.pop(q["uploadId"][0], None)
                for p in (up[2].values() if up else []):
                    os.unlink(p[0])
                return self.answer(204)
            if self.command == "PUT" and "x-amz-copy-source" in self.headers:
                return self.copy(bucket, key)
            if self.command == "PUT":
                return self.put(bucket, key, tmp, md5, n)
            if self.command in ("GET", "HEAD"):
                return self.get(bucket, key)
            if self.command == "DELETE":
                st.count("DeleteObject")
                p = st.opath(bucket, key)
                if os.path.exists(p):
                    os.unlink(p)
                    os.unlink(p[:-5] + ".meta")
                return self.answer(204)
            return self.error(400, "InvalidRequest", "operation not supported by the fake")
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = lambda self: self.route()

    def control(self, path, q):
        st = self.st
        if path == "/_fake/fail":
            self.read_body()
            with st.lock:
                st.fail = [int(q.get("status", ["503"])[0])] * int(q.get("count", ["1"])[0])
            return self.answer(204)
        if path == "/_fake/stats":
            with st.lock:
                return self.answer(200, json.dumps(st.stats).encode(), ctype="application/json")
        return self.error(404, "NoSuchKey", "no such control")

    # ---- operations ----
    def create_bucket(self, bucket):
        st = self.st
        st.count("CreateBucket")
        if os.path.isdir(st.bdir(bucket)):
            return self.error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                              "succeeded and you already own it.", "/" + bucket)
        os.makedirs(st.bdir(bucket))
        return self.answer(200, headers={"Location": "/" + bucket})

    def put(self, bucket, key, tmp, md5, n):
        st = self.st
        st.count("PutObject")
        etag = '"%s"' % md5.hexdigest()
        os.replace(tmp, st.opath(bucket, key))
        meta = {"etag": etag, "size": n, "mtime": datetime.datetime.now().timestamp(),
                "type": self.headers.get("Content-Type") or "binary/octet-stream",
                "user": {k[11:]: v for k, v in self.headers.items() if k.lower().startswith("x-amz-meta-")}}
        st.set_meta(bucket, key, meta)
        return self.answer(200, headers={"ETag": etag})

    def get(self, bucket, key):
        st = self.st
        st.count("GetObject" if self.command == "GET" else "HeadObject")
        m = st.meta(bucket, key)
        if not m:
            return self.error(404, "NoSuchKey", "The specified key does not exist.", "/%s/%s" % (bucket, key))
        im = self.headers.get("If-Match")
        if im and im != m["etag"]:
            return self.error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                              "/%s/%s" % (bucket, key))
        # Range: bytes=A-B (one range, as S3 takes it)
        start, end, rg = 0, m["size"] - 1, self.headers.get("Range")
        if rg and self.command == "GET":
            st.count("GetObjectRange")
            a, _, b = rg.partition("=")[2].partition("-")
            start = int(a)
            end = min(int(b), m["size"] - 1) if b else m["size"] - 1
            if start >= m["size"]:
                return self.error(416, "InvalidRange", "The requested range is not satisfiable")
        self.send_response(206 if rg and self.command == "GET" else 200)
        self.send_header("ETag", m["etag"])
        self.send_header("Content-Length", str(end - start + 1 if m["size"] else 0))
        if rg and self.command == "GET":
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, m["size"]))
        self.send_header("Content-Type", m["type"])
        self.send_header("Last-Modified", now_http())
        for k, v in m["user"].items():
            self.send_header("x-amz-meta-" + k, v)
        self.end_headers()
        if self.command == "GET":
            with open(st.opath(bucket, key), "rb") as f:
                f.seek(start)
                left = end - start + 1 if m["size"] else 0
                while left > 0:
                    chunk = f.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)

    def copy(self, bucket, key):
        st = self.st
        st.count("CopyObject")
        src = urllib.parse.unquote(self.headers["x-amz-copy-source"]).lstrip("/")
        sb, _, sk = src.partition("/")
        sk = sk.split("?versionId=")[0]
        m = st.meta(sb, sk) if os.path.isdir(st.bdir(sb)) else None
        if not m:
            return self.error(404, "NoSuchKey", "The specified key does not exist.", "/" + src)
        shutil.copyfile(st.opath(sb, sk), st.opath(bucket, key))
        m = dict(m, mtime=datetime.datetime.now().timestamp())
        st.set_meta(bucket, key, m)
        return self.answer(200, xml_text("CopyObjectResult", [("LastModified", iso(m["mtime"])),
                                                              ("ETag", m["etag"])]))

    def list_v2(self, bucket, q):
        st = self.st
        st.count("ListObjectsV2")
        prefix = q.get("prefix", [""])[0]
        delim = q.get("delimiter", [""])[0]
        maxk = int(q.get("max-keys", ["1000"])[0])
        token = q.get("continuation-token", [""])[0]
        after = base64.b64decode(token).decode() if token else q.get("start-after", [""])[0]
        items, prefixes, truncated, last = [], [], False, None
        for k in st.keys(bucket):
            if not k.startswith(prefix) or (after and k <= after):
                continue
            if delim:
                rest = k[len(prefix):]
                if delim in rest:
                    cp = prefix + rest[:rest.index(delim) + len(delim)]
                    if cp not in prefixes:
                        if len(items) + len(prefixes) >= maxk:
                            truncated = True
                            break
                        prefixes.append(cp)
                    last = k
                    continue
            if len(items) + len(prefixes) >= maxk:
                truncated = True
                break
            items.append(k)
            last = k
        kids = [("Name", bucket), ("Prefix", prefix), ("KeyCount", len(items) + len(prefixes)),
                ("MaxKeys", maxk), ("IsTruncated", "true" if truncated else "false")]
        if delim:
            kids.append(("Delimiter", delim))
        if token:
            kids.append(("ContinuationToken", token))
        if truncated:
            kids.append(("NextContinuationToken", base64.b64encode(last.encode()).decode()))
        for k in items:
            m = st.meta(bucket, k)
            kids.append(("Contents", [("Key", k), ("LastModified", iso(m["mtime"])), ("ETag", m["etag"]),
                                      ("Size", m["size"]), ("StorageClass", "STANDARD")]))
        for p in prefixes:
            kids.append(("CommonPrefixes", [("Prefix", p)]))
        return self.answer(200, xml_text("ListBucketResult", kids))

    def delete_objects(self, bucket, body, md5):
        st = self.st
        st.count("DeleteObjects")
        cm = self.headers.get("Content-MD5")
        if not cm and not any(h.lower().startswith("x-amz-checksum-") for h in self.headers):
            return self.error(400, "InvalidRequest", "Missing required header for this request: Content-MD5")
        if cm and cm != base64.b64encode(md5.digest()).decode():
            return self.error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        root = ET.fromstring(body)
        quiet = (root.findtext("{%s}Quiet" % NS) or root.findtext("Quiet") or "false") == "true"
        kids = []
        objs = root.findall("{%s}Object" % NS) or root.findall("Object")
        if len(objs) > 1000:
            return self.error(400, "MalformedXML", "more than 1000 keys")
        for o in objs:
            k = o.findtext("{%s}Key" % NS) or o.findtext("Key")
            p = st.opath(bucket, k)
            if os.path.exists(p):
                os.unlink(p)
                os.unlink(p[:-5] + ".meta")
            if not quiet:
                kids.append(("Deleted", [("Key", k)]))
        return self.answer(200, xml_text("DeleteResult", kids))

    def create_mpu(self, bucket, key):
        st = self.st
        st.count("CreateMultipartUpload")
        uid = secrets.token_urlsafe(24)
        with st.lock:
            st.uploads[uid] = (bucket, key, {}, {"type": self.headers.get("Content-Type") or "binary/octet-stream",
                                                 "user": {k[11:]: v for k, v in self.headers.items()
                                                          if k.lower().startswith("x-amz-meta-")}})
        return self.answer(200, xml_text("InitiateMultipartUploadResult",
                                         [("Bucket", bucket), ("Key", key), ("UploadId", uid)]))

    def upload_part(self, q, tmp, md5, n):
        st = self.st
        st.count("UploadPart")
        uid = q["uploadId"][0]
        num = int(q["partNumber"][0])
        with st.lock:
            up = st.uploads.get(uid)
        if not up:
            return self.error(404, "NoSuchUpload", "The specified upload does not exist.")
        if not 1 <= num <= 10000:
            return self.error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000")
        dst = os.path.join(st.root, "tmp", "part-%s-%d" % (uid[:12], num))
        os.replace(tmp, dst)
        etag = '"%s"' % md5.hexdigest()
        with st.lock:
            up[2][num] = (dst, etag, n, md5.digest())
        return self.answer(200, headers={"ETag": etag})

    def complete_mpu(self, bucket, key, q, body):
        st = self.st
        st.count("CompleteMultipartUpload")
        uid = q["uploadId"][0]
        with st.lock:
            up = st.uploads.get(uid)
        if not up:
            return self.error(404, "NoSuchUpload", "The specified upload does not exist.")
        root = ET.fromstring(body)
        parts = root.findall("{%s}Part" % NS) or root.findall("Part")
        nums = []
        for p in parts:
            num = int(p.findtext("{%s}PartNumber" % NS) or p.findtext("PartNumber"))
            etag = p.findtext("{%s}ETag" % NS) or p.findtext("ETag")
            if num not in up[2] or up[2][num][1] != etag:
                return self.error(400, "InvalidPart", "One or more of the specified parts could not be found.")
            nums.append(num)
        if nums != sorted(nums) or not nums:
            return self.error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
        for num in nums[:-1]:
            if up[2][num][2] < 5 * 1024 * 1024:
                return self.error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum "
                                  "allowed object size (5 MiB per part but the last).")
        out = st.opath(bucket, key)
        total, digests = 0, b""
        with open(out + ".tmp", "wb") as f:
            for num in nums:
                with open(up[2][num][0], "rb") as pf:
                    shutil.copyfileobj(pf, f, 1 << 20)
                total += up[2][num][2]
                digests += up[2][num][3]
        os.replace(out + ".tmp", out)
        for v in up[2].values():
            if os.path.exists(v[0]):
                os.unlink(v[0])
        with st.lock:
            st.uploads.pop(uid, None)
        etag = '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(nums))
        st.set_meta(bucket, key, {"etag": etag, "size": total, "mtime": datetime.datetime.now().timestamp(),
                                  "type": up[3]["type"], "user": up[3]["user"]})
        return self.answer(200, xml_text("CompleteMultipartUploadResult",
                                         [("Location", "/%s/%s" % (bucket, key)), ("Bucket", bucket),
                                          ("Key", key), ("ETag", etag)]))


def serve(args):
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.args = args
    srv.store = Store(args.root)
    return srv


def selftest(root):
    """Drives the fake with botocore's own signer (what the AWS SDK sends),
    then with a wrong key and a tampered body, so the check is known to
    accept real SigV4 and refuse anything else."""
    import urllib.request
    import urllib.error
    a = argparse.Namespace(port=0, root=root, access_key="AKIDSELFTEST", secret_key="selftest/secret+key",
                           session_token=None)
    srv = serve(a)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    host = "127.0.0.1:%d" % srv.server_address[1]

    def signed(method, path, body=b"", key=a.secret_key, headers=None, tamper=False):
        url = "http://%s%s" % (host, path)
        req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        S3SigV4Auth(Credentials(a.access_key, key), "s3", "us-east-1").add_auth(req)
        r = urllib.request.Request(url, method=method, data=(body + b"x") if tamper else (body or None),
                                   headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(r) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    assert signed("PUT", "/bkt")[0] == 200
    assert signed("PUT", "/bkt/a%20b/c.txt", b"hello")[0] == 200
    c, b = signed("GET", "/bkt/a%20b/c.txt")
    assert c == 200 and b == b"hello", (c, b)
    c, b = signed("GET", "/bkt?list-type=2&prefix=a")
    assert c == 200 and b"<Key>a b/c.txt</Key>" in b, b
    c, b = signed("GET", "/bkt/a%20b/c.txt", key="wrong")
    assert c == 403 and b"SignatureDoesNotMatch" in b, (c, b)
    c, b = signed("PUT", "/bkt/x", b"body", tamper=True)
    assert c in (400, 403), (c, b)
    body = b'<Delete><Object><Key>a b/c.txt</Key></Object></Delete>'
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    c, b = signed("POST", "/bkt?delete", body, headers={"Content-MD5": md5})
    assert c == 200 and b"<Deleted>" in b, (c, b)
    srv.shutdown()
    print("s3_fake selftest: ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--access-key", default="AKIDKITETEST")
    ap.add_argument("--secret-key", default="kite/test+secret")
    ap.add_argument("--session-token")
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    if a.selftest:
        return selftest(a.root)
    srv = serve(a)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(a.port_file + ".tmp", a.port_file)
    else:
        print(port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
