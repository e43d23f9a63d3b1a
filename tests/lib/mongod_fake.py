#!/usr/bin/env python3
"""mongod_fake.py: a small MongoDB server for kite's tests (MongoDB itself
cannot be installed on the test machines).

It speaks the wire protocol as MongoDB documents it: BSON (bsonspec.org)
encoded and decoded here, OP_MSG (opcode 2013, body and document-sequence
sections) for commands, and OP_QUERY on `db.$cmd` with OP_REPLY answers for
the legacy handshake libmongoc sends first. Commands: hello/isMaster, ping,
buildInfo, saslStart/saslContinue (SCRAM-SHA-256), find, getMore,
killCursors, insert, update, delete, aggregate ($match $project $sort $limit
$skip $count $group with $sum $avg $min $max $first $last $push), count,
drop, listCollections, endSessions. Queries: $eq $ne $gt $gte $lt $lte $in
$nin $and $or $nor $not $exists, dotted paths, arrays matched element-wise.
Updates: $set $unset $inc $push $setOnInsert, replacements, upsert.

Everything lives in memory; one lock serialises the commands. It is a test
double: it checks the protocol as the documentation says, not MongoDB's every
corner (no indexes but the unique _id, no transactions, no compression).

    mongod_fake.py --port-file F [--port N] [--user U --password P]

binds 127.0.0.1 (port 0: any free port), writes the port to F once it
listens, and serves until killed. With --user, every command but the
handshake, ping and SASL needs a SCRAM-SHA-256 login.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import os
import socket
import socketserver
import struct
import sys
import threading

# ---- BSON -------------------------------------------------------------------


class ObjectId:
    __slots__ = ("b",)

    def __init__(self, b=None):
        self.b = b if b is not None else os.urandom(12)

    def __eq__(self, o):
        return isinstance(o, ObjectId) and o.b == self.b

    def __hash__(self):
        return hash(self.b)

    def __repr__(self):
        return "ObjectId(%s)" % self.b.hex()


class Int64(int):
    pass


class DateTime(int):
    """milliseconds since the epoch"""


class Binary:
    __slots__ = ("sub", "data")

    def __init__(self, sub, data):
        self.sub, self.data = sub, data

    def __eq__(self, o):
        return isinstance(o, Binary) and (o.sub, o.data) == (self.sub, self.data)

    def __hash__(self):
        return hash(self.data)


class Raw:
    """a value kept as its bytes: decimal128, timestamp, regex..."""
    __slots__ = ("t", "data")

    def __init__(self, t, data):
        self.t, self.data = t, data

    def __eq__(self, o):
        return isinstance(o, Raw) and (o.t, o.data) == (self.t, self.data)

    def __hash__(self):
        return hash(self.data)


class MinKey:
    pass


class MaxKey:
    pass


def _cstring(b, i):
    j = b.index(b"\x00", i)
    return b[i:j].decode("utf-8"), j + 1


def decode_doc(b, i=0, as_list=False):
    (n,) = struct.unpack_from("<i", b, i)
    end = i + n
    if n < 5 or end > len(b) or b[end - 1] != 0:
        raise ValueError("bad BSON document length")
    i += 4
    out = [] if as_list else {}
    while i < end - 1:
        t = b[i]
        i += 1
        name, i = _cstring(b, i)
        if t == 0x01:
            (v,) = struct.unpack_from("<d", b, i)
            i += 8
        elif t in (0x02, 0x0D, 0x0E):
            (ln,) = struct.unpack_from("<i", b, i)
            v = b[i + 4:i + 4 + ln - 1].decode("utf-8")
            i += 4 + ln
        elif t in (0x03, 0x04):
            (ln,) = struct.unpack_from("<i", b, i)
            v = decode_doc(b, i, t == 0x04)
            i += ln
        elif t == 0x05:
            (ln,) = struct.unpack_from("<i", b, i)
            v = Binary(b[i + 4], bytes(b[i + 5:i + 5 + ln]))
            i += 5 + ln
        elif t == 0x06:
            v = None
        elif t == 0x07:
            v = ObjectId(bytes(b[i:i + 12]))
            i += 12
        elif t == 0x08:
            v = b[i] == 1
            i += 1
        elif t == 0x09:
            (v,) = struct.unpack_from("<q", b, i)
            v = DateTime(v)
            i += 8
        elif t == 0x0A:
            v = None
        elif t == 0x0B:
            _, j = _cstring(b, i)
            _, j = _cstring(b, j)
            v = Raw(t, bytes(b[i:j]))
            i = j
        elif t == 0x10:
            (v,) = struct.unpack_from("<i", b, i)
            i += 4
        elif t == 0x11:
            v = Raw(t, bytes(b[i:i + 8]))
            i += 8
        elif t == 0x12:
            (v,) = struct.unpack_from("<q", b, i)
            v = Int64(v)
            i += 8
        elif t == 0x13:
            v = Raw(t, bytes(b[i:i + 16]))
            i += 16
        elif t == 0xFF:
            v = MinKey()
        elif t == 0x7F:
            v = MaxKey()
        else:
            raise ValueError("unknown BSON type 0x%02x" % t)
        if as_list:
            out.append(v)
        else:
            out[name] = v
    return out


def _elem(name, v):
    k = name.encode("utf-8") + b"\x00"
    if v is None:
        return b"\x0A" + k
    if isinstance(v, bool):
        return b"\x08" + k + (b"\x01" if v else b"\x00")
    if isinstance(v, DateTime):
        return b"\x09" + k + struct.pack("<q", v)
    if isinstance(v, Int64):
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, int):
        if -2**31 <= v < 2**31:
            return b"\x10" + k + struct.pack("<i", v)
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, float):
        return b"\x01" + k + struct.pack("<d", v)
    if isinstance(v, str):
        s = v.encode("utf-8") + b"\x00"
        return b"\x02" + k + struct.pack("<i", len(s)) + s
    if isinstance(v, dict):
        return b"\x03" + k + encode_doc(v)
    if isinstance(v, (list, tuple)):
        return b"\x04" + k + encode_doc({str(i): x for i, x in enumerate(v)})
    if isinstance(v, ObjectId):
        return b"\x07" + k + v.b
    if isinstance(v, Binary):
        return b"\x05" + k + struct.pack("<i", len(v.data)) + bytes([v.sub]) + v.data
    if isinstance(v, Raw):
        return bytes([v.t]) + k + v.data
    if isinstance(v, MinKey):
        return b"\xFF" + k
    if isinstance(v, MaxKey):
        return b"\x7F" + k
    raise TypeError("cannot encode %r" % (v,))


def encode_doc(d):
    body = b"".join(_elem(k, v) for k, v in d.items())
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


# ---- values: order and equality (MongoDB's comparison order) ------------------

def _rank(v):
    if isinstance(v, MinKey):
        return 0
    if v is None:
        return 1
    if isinstance(v, bool):
        return 8
    if isinstance(v, (int, float)) and not isinstance(v, DateTime):
        return 2
    if isinstance(v, str):
        return 3
    if isinstance(v, dict):
        return 4
    if isinstance(v, list):
        return 5
    if isinstance(v, Binary):
        return 6
    if isinstance(v, ObjectId):
        return 7
    if isinstance(v, DateTime):
        return 9
    if isinstance(v, MaxKey):
        return 99
    return 10


def compare(a, b):
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra in (0, 1, 99):
        return 0
    if ra == 4:
        ia, ib = list(a.items()), list(b.items())
        for (ka, va), (kb, vb) in zip(ia, ib):
            c = compare(va, vb)
            if c:
                return c
            if ka != kb:
                return -1 if ka < kb else 1
        return (len(ia) > len(ib)) - (len(ia) < len(ib))
    if ra == 5:
        for x, y in zip(a, b):
            c = compare(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if ra == 6:
        a, b = a.data, b.data
    elif ra == 7:
        a, b = a.b, b.b
    elif ra == 10:
        a, b = repr(a), repr(b)
    return (a > b) - (a < b)


def equal(a, b):
    return compare(a, b) == 0


# ---- paths and the query matcher ---------------------------------------------

MISSING = object()


def get_path(doc, path):
    """the values at a dotted path (arrays fanned out), MISSING when none"""
    cur = [doc]
    for part in path.split("."):
        nxt = []
        for c in cur:
            if isinstance(c, dict):
                if part in c:
                    nxt.append(c[part])
            elif isinstance(c, list):
                if part.isdigit() and int(part) < len(c):
                    nxt.append(c[int(part)])
                else:
                    for e in c:
                        if isinstance(e, dict) and part in e:
                            nxt.append(e[part])
        cur = nxt
    return cur


class QueryError(Exception):
    pass


def _candidates(vals):
    """each value, and the elements of each array value"""
    out = []
    for v in vals:
        out.append(v)
        if isinstance(v, list):
            out.extend(v)
    return out


def _cmp_op(vals, op, arg):
    for v in _candidates(vals):
        if _rank(v) != _rank(arg):
            continue
        c = compare(v, arg)
        if (op == "$gt" and c > 0) or (op == "$gte" and c >= 0) or \
           (op == "$lt" and c < 0) or (op == "$lte" and c <= 0):
            return True
    return False


def _eq(vals, arg):
    if not vals:
        return arg is None
    return any(equal(v, arg) for v in _candidates(vals))


def match_field(vals, cond):
    if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
        for op, arg in cond.items():
            if op == "$eq":
                ok = _eq(vals, arg)
            elif op == "$ne":
                ok = not _eq(vals, arg)
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                ok = _cmp_op(vals, op, arg)
            elif op == "$in":
                if not isinstance(arg, list):
                    raise QueryError("$in needs an array")
                ok = any(_eq(vals, a) for a in arg)
            elif op == "$nin":
                if not isinstance(arg, list):
                    raise QueryError("$nin needs an array")
                ok = not any(_eq(vals, a) for a in arg)
            elif op == "$exists":
                ok = bool(vals) == bool(arg)
            elif op == "$not":
                ok = not match_field(vals, arg)
            elif op == "$size":
                ok = any(isinstance(v, list) and len(v) == arg for v in vals)
            else:
                raise QueryError("unknown operator: %s" % op)
            if not ok:
                return False
        return True
    return _eq(vals, cond)


def check_query(q):
    """raises QueryError for an unknown operator, whatever the data (as mongod)"""
    if isinstance(q, dict):
        for k, v in q.items():
            if k.startswith("$") and k not in KNOWN_OPS:
                raise QueryError("unknown operator: %s" % k)
            if isinstance(v, (dict, list)):
                check_query(v)
    elif isinstance(q, list):
        for v in q:
            check_query(v)


KNOWN_OPS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$not", "$size",
             "$and", "$or", "$nor", "$oid", "$date", "$each"}


def matches(doc, q):
    for k, cond in (q or {}).items():
        if k == "$and":
            if not all(matches(doc, s) for s in cond):
                return False
        elif k == "$or":
            if not any(matches(doc, s) for s in cond):
                return False
        elif k == "$nor":
            if any(matches(doc, s) for s in cond):
                return False
        elif k.startswith("$"):
            raise QueryError("unknown top level operator: %s" % k)
        elif not match_field(get_path(doc, k), cond):
            return False
    return True


def sort_docs(docs, spec):
    import functools

    def key_of(d, path):
        vals = get_path(d, path)
        return vals[0] if vals else None

    def cmp(a, b):
        for path, direction in spec.items():
            c = compare(key_of(a, path), key_of(b, path))
            if c:
                return c if direction >= 0 else -c
        return 0

    return sorted(docs, key=functools.cmp_to_key(cmp))


def set_path(doc, path, value):
    parts = path.split(".")
    cur = doc
    for p in parts[:-1]:
        if not isinstance(cur.get(p), dict):
            cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = value


def unset_path(doc, path):
    parts = path.split(".")
    cur = doc
    for p in parts[:-1]:
        cur = cur.get(p)
        if not isinstance(cur, dict):
            return
    cur.pop(parts[-1], None)


def project(doc, spec):
    if not spec:
        return doc
    incl = {k: v for k, v in spec.items() if k != "_id"}
    inclusive = any(v not in (0, False) for v in incl.values()) or \
        (not incl and spec.get("_id", 0) not in (0, False))
    if inclusive:
        out = {}
        if spec.get("_id", 1) not in (0, False) and "_id" in doc:
            out["_id"] = doc["_id"]
        for k, v in incl.items():
            if isinstance(v, str) and v.startswith("$"):
                vals = get_path(doc, v[1:])
                if vals:
                    set_path(out, k, vals[0])
            else:
                vals = get_path(doc, k)
                if vals:
                    set_path(out, k, vals[0])
        return out
    out = copy_doc(doc)
    for k, v in spec.items():
        if v in (0, False):
            unset_path(out, k)
    return out


def copy_doc(d):
    if isinstance(d, dict):
        return {k: copy_doc(v) for k, v in d.items()}
    if isinstance(d, list):
        return [copy_doc(v) for v in d]
    return d


def expr_value(doc, e):
    if isinstance(e, str) and e.startswith("$"):
        vals = get_path(doc, e[1:])
        return vals[0] if vals else None
    if isinstance(e, dict):
        return {k: expr_value(doc, v) for k, v in e.items()}
    return e


def group(docs, spec):
    groups = {}
    order = []
    for d in docs:
        gid = expr_value(d, spec.get("_id"))
        key = encode_doc({"k": gid})
        if key not in groups:
            groups[key] = {"_id": gid, "_acc": {}}
            order.append(key)
        g = groups[key]
        for field, acc in spec.items():
            if field == "_id":
                continue
            if not isinstance(acc, dict) or len(acc) != 1:
                raise QueryError("accumulator of %s must be one $op" % field)
            (op, arg), = acc.items()
            v = expr_value(d, arg) if op != "$count" else 1
            st = g["_acc"].setdefault(field, {"op": op, "n": 0, "v": None, "list": []})
            st["n"] += 1
            if op in ("$sum", "$count"):
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    st["v"] = (st["v"] or 0) + v
                elif st["v"] is None:
                    st["v"] = 0
            elif op == "$avg":
                if isinstance(v, (int, float)):
                    st["list"].append(v)
            elif op in ("$min", "$max"):
                if v is not None and (st["v"] is None or
                                      (compare(v, st["v"]) < 0) == (op == "$min")):
                    st["v"] = v
            elif op == "$first":
                if st["n"] == 1:
                    st["v"] = v
            elif op == "$last":
                st["v"] = v
            elif op == "$push":
                st["list"].append(v)
            else:
                raise QueryError("unknown group operator: %s" % op)
    out = []
    for key in order:
        g = groups[key]
        r = {"_id": g["_id"]}
        for field, st in g["_acc"].items():
            if st["op"] == "$avg":
                r[field] = (sum(st["list"]) / len(st["list"])) if st["list"] else None
            elif st["op"] == "$push":
                r[field] = st["list"]
            else:
                r[field] = st["v"]
        out.append(r)
    return out


def aggregate(docs, pipeline):
    docs = [copy_doc(d) for d in docs]
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            raise QueryError("a pipeline stage must be an object with one field")
        (name, arg), = stage.items()
        if name == "$match":
            docs = [d for d in docs if matches(d, arg)]
        elif name == "$project":
            docs = [project(d, arg) for d in docs]
        elif name == "$sort":
            docs = sort_docs(docs, arg)
        elif name == "$limit":
            docs = docs[:int(arg)]
        elif name == "$skip":
            docs = docs[int(arg):]
        elif name == "$count":
            docs = [{arg: len(docs)}] if docs else []
        elif name == "$group":
            docs = group(docs, arg)
        elif name == "$unwind":
            path = arg if isinstance(arg, str) else arg["path"]
            path = path[1:]
            nd = []
            for d in docs:
                vals = get_path(d, path)
                if vals and isinstance(vals[0], list):
                    for e in vals[0]:
                        c = copy_doc(d)
                        set_path(c, path, e)
                        nd.append(c)
            docs = nd
        else:
            raise QueryError("Unrecognized pipeline stage name: '%s'" % name)
    return docs


def apply_update(doc, u, inserting=False):
    if not any(k.startswith("$") for k in u):
        new = {"_id": doc["_id"]} if "_id" in doc else {}
        for k, v in u.items():
            if k != "_id":
                new[k] = copy_doc(v)
        return new
    new = copy_doc(doc)
    for op, fields in u.items():
        for path, v in fields.items():
            if op == "$set" or (op == "$setOnInsert" and inserting):
                set_path(new, path, copy_doc(v))
            elif op == "$setOnInsert":
                pass
            elif op == "$unset":
                unset_path(new, path)
            elif op == "$inc":
                vals = get_path(new, path)
                set_path(new, path, (vals[0] if vals else 0) + v)
            elif op == "$push":
                vals = get_path(new, path)
                lst = list(vals[0]) if vals and isinstance(vals[0], list) else []
                if isinstance(v, dict) and "$each" in v:
                    lst.extend(v["$each"])
                else:
                    lst.append(v)
                set_path(new, path, lst)
            else:
                raise QueryError("Unknown modifier: %s" % op)
    return new


# ---- SCRAM-SHA-256 (RFC 5802, RFC 7677; MongoDB's SASL conversation) ----------

class Scram:
    def __init__(self, user, password):
        self.user = user
        self.salt = os.urandom(28)  # libmongoc expects MongoDB's 28-byte salt
        self.iters = 4096
        salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), self.salt, self.iters)
        ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        self.stored = hashlib.sha256(ck).digest()
        self.server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def first(self, payload):
        msg = payload.decode("utf-8")
        if not msg.startswith("n,"):
            raise QueryError("unsupported GS2 header")
        bare = msg.split(",", 2)[2]
        attrs = dict(a.split("=", 1) for a in bare.split(","))
        user = attrs.get("n", "").replace("=2C", ",").replace("=3D", "=")
        nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
        sfirst = "r=%s,s=%s,i=%d" % (nonce, base64.b64encode(self.salt).decode(), self.iters)
        return {"user": user, "bare": bare, "sfirst": sfirst, "nonce": nonce}, sfirst.encode()

    def final(self, st, payload):
        msg = payload.decode("utf-8")
        attrs = dict(a.split("=", 1) for a in msg.split(","))
        without_proof = msg[:msg.rindex(",p=")]
        if attrs.get("r") != st["nonce"]:
            return None
        auth = ",".join([st["bare"], st["sfirst"], without_proof]).encode()
        sig = hmac.new(self.stored, auth, hashlib.sha256).digest()
        proof = base64.b64decode(attrs["p"])
        ck = bytes(x ^ y for x, y in zip(proof, sig))
        if st["user"] != self.user or hashlib.sha256(ck).digest() != self.stored:
            return None
        ssig = hmac.new(self.server_key, auth, hashlib.sha256).digest()
        return ("v=" + base64.b64encode(ssig).decode()).encode()


# ---- the server ---------------------------------------------------------------

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
LOCK = threading.Lock()
DBS = {}          # db -> collection -> list of docs
CURSORS = {}      # id -> (ns, remaining docs)
NEXT_CURSOR = [1000]
SCRAM = None
CONN_IDS = [0]


class CmdError(Exception):
    def __init__(self, code, name, msg):
        super().__init__(msg)
        self.code, self.name, self.msg = code, name, msg


def coll_docs(db, coll, create=False):
    d = DBS.setdefault(db, {}) if create else DBS.get(db, {})
    if create:
        return d.setdefault(coll, [])
    return d.get(coll, [])


def cursor_reply(db, coll, docs, batch, key="firstBatch", single=False):
    ns = "%s.%s" % (db, coll)
    first, rest = (docs, []) if batch is None or batch <= 0 else (docs[:batch], docs[batch:])
    cid = 0
    if rest and not single:
        cid = NEXT_CURSOR[0]
        NEXT_CURSOR[0] += 1
        CURSORS[cid] = (ns, rest)
    return {"cursor": {key: first, "id": Int64(cid), "ns": ns}, "ok": 1.0}


def hello_reply(cmd, conn):
    r = {
        "helloOk": True,
        "ismaster": True,
        "isWritablePrimary": True,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": 48000000,
        "maxWriteBatchSize": 100000,
        "localTime": DateTime(int(datetime.datetime.now().timestamp() * 1000)),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": conn.conn_id,
        "minWireVersion": 0,
        "maxWireVersion": 13,
        "readOnly": False,
        "ok": 1.0,
    }
    if "saslSupportedMechs" in cmd:
        r["saslSupportedMechs"] = ["SCRAM-SHA-256"]
    return r


def run_command(db, cmd, conn):
    name = next(iter(cmd))
    lname = name.lower()
    if lname in ("hello", "ismaster"):
        return hello_reply(cmd, conn)
    if lname == "ping":
        return {"ok": 1.0}
    if lname == "buildinfo":
        return {"version": "5.0.0-fake", "versionArray": [5, 0, 0, 0], "maxBsonObjectSize": 16777216,
                "ok": 1.0}
    if lname == "saslstart":
        if SCRAM is None:
            raise CmdError(334, "MechanismUnavailable", "no users are configured")
        if cmd.get("mechanism") != "SCRAM-SHA-256":
            raise CmdError(334, "MechanismUnavailable", "Received authentication for mechanism %s which is not enabled" % cmd.get("mechanism"))
        conn.scram, out = SCRAM.first(cmd["payload"].data)
        return {"conversationId": 1, "done": False, "payload": Binary(0, out), "ok": 1.0}
    if lname == "saslcontinue":
        if not getattr(conn, "scram", None):
            if conn.authed:
                return {"conversationId": 1, "done": True, "payload": Binary(0, b""), "ok": 1.0}
            raise CmdError(17, "ProtocolError", "no SASL conversation")
        out = SCRAM.final(conn.scram, cmd["payload"].data)
        conn.scram = None
        if out is None:
            raise CmdError(18, "AuthenticationFailed", "Authentication failed.")
        conn.authed = True
        return {"conversationId": 1, "done": True, "payload": Binary(0, out), "ok": 1.0}
    if lname == "endsessions":
        return {"ok": 1.0}
    if SCRAM is not None and not conn.authed:
        raise CmdError(13, "Unauthorized", "command %s requires authentication" % name)
    with LOCK:
        return data_command(db, name, cmd)


def data_command(db, name, cmd):
    coll = cmd[name]
    if name == "find":
        check_query(cmd.get("filter"))
        docs = [d for d in coll_docs(db, coll) if matches(d, cmd.get("filter"))]
        if cmd.get("sort"):
            docs = sort_docs(docs, cmd["sort"])
        skip = int(cmd.get("skip", 0) or 0)
        limit = int(cmd.get("limit", 0) or 0)
        docs = docs[skip:]
        if limit:
            docs = docs[:abs(limit)]
        docs = [project(copy_doc(d), cmd.get("projection")) for d in docs]
        return cursor_reply(db, coll, docs, int(cmd.get("batchSize", 101) or 101), single=bool(cmd.get("singleBatch")))
    if name == "getMore":
        cid = int(coll)
        if cid not in CURSORS:
            raise CmdError(43, "CursorNotFound", "cursor id %d not found" % cid)
        ns, rest = CURSORS.pop(cid)
        batch = int(cmd.get("batchSize", 0) or 0) or len(rest)
        first, rest = rest[:batch], rest[batch:]
        if rest:
            CURSORS[cid] = (ns, rest)
        return {"cursor": {"nextBatch": first, "id": Int64(cid if rest else 0), "ns": ns}, "ok": 1.0}
    if name == "killCursors":
        killed = []
        for cid in cmd.get("cursors", []):
            if CURSORS.pop(int(cid), None) is not None:
                killed.append(Int64(cid))
        return {"cursorsKilled": killed, "cursorsNotFound": [], "cursorsAlive": [],
                "cursorsUnknown": [], "ok": 1.0}
    if name == "insert":
        docs = coll_docs(db, coll, create=True)
        n = 0
        errors = []
        for i, d in enumerate(cmd.get("documents", [])):
            if "_id" not in d:
                d = dict([("_id", ObjectId())] + list(d.items()))
            if any(equal(x.get("_id"), d["_id"]) for x in docs):
                errors.append({"index": i, "code": 11000,
                               "errmsg": "E11000 duplicate key error collection: %s.%s index: _id_ dup key" % (db, coll)})
                if cmd.get("ordered", True):
                    break
                continue
            docs.append(d)
            n += 1
        r = {"n": n, "ok": 1.0}
        if errors:
            r["writeErrors"] = errors
        return r
    if name == "update":
        docs = coll_docs(db, coll, create=True)
        n = nmod = 0
        upserted = []
        for i, u in enumerate(cmd.get("updates", [])):
            q, upd = u.get("q", {}), u.get("u", {})
            hit = False
            for j, d in enumerate(docs):
                if matches(d, q):
                    hit = True
                    n += 1
                    new = apply_update(d, upd)
                    if not equal(new, d):
                        docs[j] = new
                        nmod += 1
                    if not u.get("multi"):
                        break
            if not hit and u.get("upsert"):
                base = {k: v for k, v in q.items() if not k.startswith("$") and not isinstance(v, dict)}
                new = apply_update(base, upd, inserting=True)
                if "_id" not in new:
                    new = dict([("_id", ObjectId())] + list(new.items()))
                docs.append(new)
                upserted.append({"index": i, "_id": new["_id"]})
        r = {"n": n + len(upserted), "nModified": nmod, "ok": 1.0}
        if upserted:
            r["upserted"] = upserted
        return r
    if name == "delete":
        docs = coll_docs(db, coll, create=True)
        n = 0
        for dl in cmd.get("deletes", []):
            q, limit = dl.get("q", {}), int(dl.get("limit", 0) or 0)
            keep = []
            removed = 0
            for d in docs:
                if (limit == 0 or removed < limit) and matches(d, q):
                    removed += 1
                    continue
                keep.append(d)
            n += removed
            docs[:] = keep
        return {"n": n, "ok": 1.0}
    if name == "aggregate":
        docs = aggregate(coll_docs(db, coll), cmd.get("pipeline", []))
        batch = cmd.get("cursor", {}).get("batchSize", 101)
        return cursor_reply(db, coll, docs, int(batch) if batch else None)
    if name == "count":
        docs = [d for d in coll_docs(db, coll) if matches(d, cmd.get("query"))]
        skip = int(cmd.get("skip", 0) or 0)
        docs = docs[skip:]
        limit = int(cmd.get("limit", 0) or 0)
        if limit:
            docs = docs[:limit]
        return {"n": len(docs), "ok": 1.0}
    if name == "drop":
        if coll not in DBS.get(db, {}):
            raise CmdError(26, "NamespaceNotFound", "ns not found")
        del DBS[db][coll]
        return {"ns": "%s.%s" % (db, coll), "nIndexesWas": 1, "ok": 1.0}
    if name == "listCollections":
        docs = [{"name": c, "type": "collection", "options": {}, "info": {"readOnly": False}}
                for c in DBS.get(db, {})]
        return cursor_reply(db, "$cmd.listCollections", docs, None)
    raise CmdError(59, "CommandNotFound", "no such command: '%s'" % name)


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        with LOCK:
            CONN_IDS[0] += 1
            self.conn_id = CONN_IDS[0]
        self.authed = False
        self.scram = None

    def recv_exact(self, n):
        b = bytearray()
        while len(b) < n:
            chunk = self.request.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return bytes(b)

    def handle(self):
        try:
            while True:
                hdr = self.recv_exact(16)
                length, req_id, _, op = struct.unpack("<iiii", hdr)
                if length < 16 or length > 48000000:
                    return
                body = self.recv_exact(length - 16)
                if op == OP_MSG:
                    self.on_msg(req_id, body)
                elif op == OP_QUERY:
                    self.on_query(req_id, body)
                else:
                    return
        except (EOFError, ConnectionError):
            return

    def answer(self, db, cmd):
        try:
            r = run_command(db, cmd, self)
        except CmdError as e:
            r = {"ok": 0.0, "errmsg": e.msg, "code": e.code, "codeName": e.name}
        except (QueryError, KeyError, TypeError, ValueError) as e:
            r = {"ok": 0.0, "errmsg": str(e), "code": 2, "codeName": "BadValue"}
        return r

    def on_msg(self, req_id, body):
        (flags,) = struct.unpack_from("<I", body, 0)
        end = len(body) - (4 if flags & 1 else 0)
        i = 4
        cmd = None
        seqs = {}
        while i < end:
            kind = body[i]
            i += 1
            if kind == 0:
                (n,) = struct.unpack_from("<i", body, i)
                cmd = decode_doc(body, i)
                i += n
            elif kind == 1:
                (n,) = struct.unpack_from("<i", body, i)
                sec_end = i + n
                ident, j = _cstring(body, i + 4)
                docs = []
                while j < sec_end:
                    (dn,) = struct.unpack_from("<i", body, j)
                    docs.append(decode_doc(body, j))
                    j += dn
                seqs[ident] = docs
                i = sec_end
            else:
                return
        if cmd is None:
            return
        cmd.update(seqs)
        db = cmd.pop("$db", "admin")
        r = self.answer(db, cmd)
        if flags & 2:  # moreToCome: no answer
            return
        doc = encode_doc(r)
        payload = struct.pack("<I", 0) + b"\x00" + doc
        self.request.sendall(struct.pack("<iiii", 16 + len(payload), req_id + 1, req_id, OP_MSG) + payload)

    def on_query(self, req_id, body):
        ns, i = _cstring(body, 4)
        i += 8
        cmd = decode_doc(body, i)
        if "$query" in cmd:
            cmd = cmd["$query"]
        db = ns.split(".", 1)[0]
        if not ns.endswith(".$cmd"):
            r = {"$err": "OP_QUERY is only for commands", "code": 352, "ok": 0.0}
        else:
            r = self.answer(db, cmd)
        doc = encode_doc(r)
        payload = struct.pack("<iqii", 0, 0, 0, 1) + doc
        self.request.sendall(struct.pack("<iiii", 16 + len(payload), req_id + 1, req_id, OP_REPLY) + payload)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global SCRAM
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    a = ap.parse_args()
    if a.user:
        SCRAM = Scram(a.user, a.password or "")
    srv = Server(("127.0.0.1", a.port), Handler)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
