#!/usr/bin/env python3
"""public.py: how many public Kestra flows `kite validate` accepts, and why it rejects the rest.

    tests/compat/public.py [--kite BIN] [--list] [--json] CORPUS_DIR

CORPUS_DIR holds Kestra flow files (*.yml, *.yaml; one flow per file) gathered from public
repositories. The corpus is third-party text: it lives outside this repository
(docs/compat.md says how it was built). Without a corpus the script prints a SKIP line and
exits 0, so it never decides a CI run unless it is given one.

Optional files beside the flows, in CORPUS_DIR:
  known-invalid.tsv   file<TAB>why: flows that Kestra rejects too (a bad id, a duplicate
                      key, an unknown flow property...); they are reported apart and not
                      counted against kite.

It prints accepted / total, then the rejections grouped by cause, each cause with the
number of flows it rejects (a flow may have several causes): types kite does not have, by
Kestra package and by type; unknown and missing properties with the type they belong to;
template errors; YAML errors; the rest by message. --list adds each rejected flow with its
causes; --json prints the same as one JSON object.

Exit status: 0 (also when flows are rejected: this measures, it does not pass or fail),
2 on a usage error or when kite cannot be run.
"""
import collections
import json
import os
import re
import subprocess
import sys

try:
    import yaml  # only to name the type an error belongs to; optional
except ImportError:  # pragma: no cover
    yaml = None


def usage(msg=None):
    if msg:
        print("public.py: " + msg, file=sys.stderr)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    sys.exit(2)


def load_yaml(path):
    if yaml is None:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return yaml.safe_load(fh)
    except Exception:
        return None


def pointer_parts(ptr):
    if not ptr:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]


def owner_type(doc, ptr):
    """The `type` of the innermost mapping on the JSON pointer's way that has one (the task,
    trigger or condition an error sits in), or None."""
    node, found = doc, None
    for part in pointer_parts(ptr):
        if isinstance(node, dict) and isinstance(node.get("type"), str):
            found = node["type"]
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                node = None
        else:
            node = None
        if node is None:
            break
    # the node itself, when the pointer ends on a mapping (a missing property)
    if isinstance(node, dict) and isinstance(node.get("type"), str):
        found = node["type"]
    return found


def owner_of(err, doc, prefix):
    """What a property error is about: the task's or trigger's type, `input of type X`, or the
    message's own prefix (`flow`, `concurrency`)."""
    path = err.get("path") or ""
    t = owner_type(doc, path) if doc is not None else None
    if prefix in (None, "task", "trigger", "condition", "task runner") and t:
        return t
    if path.startswith("/inputs/") and t:
        return "input of type " + t
    return prefix or t or "?"


RE_UNKNOWN_TYPE = re.compile(r"^unknown (task|trigger|condition|task runner) type '([^']+)'")
RE_NOT_SUPPORTED = re.compile(r"^type '([^']+)' is not supported in kite")
RE_RENAMED = re.compile(r"^(task|trigger|condition|task runner) type '([^']+)' was renamed")
RE_UNKNOWN_PROP = re.compile(r"^(?:([a-zA-Z ]+)(?: '[^']*')?: )?unknown property '([^']+)'")
RE_MISSING_PROP = re.compile(r"^(?:([a-zA-Z ]+)(?: '[^']*')?: )?(?:missing required property|required property) '([^']+)'")
RE_TEMPLATE = re.compile(r"^template: \d+:\d+: (.*)$")
RE_FLOW = re.compile(r"^flow: (.*)$")
YAML_WORDS = ("while parsing", "while scanning", "did not find expected", "duplicate key",
              "found character", "mapping values are not allowed", "could not find expected",
              "invalid UTF-8", "more than one document", "found undefined")


def normalize(msg):
    """A message with its names taken out, so that one cause groups many flows."""
    msg = re.sub(r"\(did you mean [^)]*\)", "", msg)
    msg = re.sub(r"^(task|trigger|input|output|condition) '[^']*': ", r"\1: ", msg)
    msg = re.sub(r"at line \d+", "at line N", msg)
    msg = re.sub(r"'[^']*'", "'…'", msg)
    return " ".join(msg.split())


def cause_of(err, doc):
    """(group, key) for one error of `kite validate --json`."""
    msg = err.get("message", "")
    m = RE_UNKNOWN_TYPE.match(msg) or RE_RENAMED.match(msg)
    if m:
        return "type", m.group(2)
    m = RE_NOT_SUPPORTED.match(msg)
    if m:
        return "refused", m.group(1)
    for rx, what in ((RE_UNKNOWN_PROP, "unknown property"), (RE_MISSING_PROP, "missing required property")):
        m = rx.match(msg)
        if m:
            return "property", "%s '%s' of %s" % (what, m.group(2), owner_of(err, doc, m.group(1)))
    m = RE_TEMPLATE.match(msg)
    if m:
        return "template", normalize(m.group(1))
    if any(w in msg for w in YAML_WORDS) or not err.get("path"):
        if any(w in msg for w in YAML_WORDS):
            return "yaml", normalize(msg)
    m = RE_FLOW.match(msg)
    if m:
        return "other", "flow: " + normalize(m.group(1))
    return "other", normalize(msg)


def family(t):
    return t.rsplit(".", 1)[0] if "." in t else t


def main(argv):
    kite = os.environ.get("KITE") or "build/kite"
    list_flows = as_json = False
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--kite":
            i += 1
            if i == len(argv):
                usage("--kite needs a path")
            kite = argv[i]
        elif a == "--list":
            list_flows = True
        elif a == "--json":
            as_json = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif a.startswith("-"):
            usage("unknown option " + a)
        else:
            args.append(a)
        i += 1
    corpus = args[0] if args else os.environ.get("KITE_PUBLIC_CORPUS", "")
    if len(args) > 1:
        usage("one corpus folder")
    if not corpus:
        print("SKIP public: no corpus of public Kestra flows given "
              "(tests/compat/public.py DIR or KITE_PUBLIC_CORPUS=DIR; docs/compat.md)")
        return 0
    if not os.path.isdir(corpus):
        print("SKIP public: %s is not a folder" % corpus)
        return 0
    files = sorted(f for f in os.listdir(corpus) if f.endswith((".yml", ".yaml")))
    if not files:
        print("SKIP public: no *.yml or *.yaml in %s" % corpus)
        return 0

    known_invalid = {}
    ki = os.path.join(corpus, "known-invalid.tsv")
    if os.path.exists(ki):
        with open(ki, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("#") or not line.strip():
                    continue
                name, _, why = line.rstrip("\n").partition("\t")
                known_invalid[name] = why

    try:
        proc = subprocess.run([kite, "validate", "--json", "--quiet", "--no-color"]
                              + [os.path.join(corpus, f) for f in files],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as e:
        print("public.py: cannot run %s: %s" % (kite, e), file=sys.stderr)
        return 2
    if proc.returncode not in (0, 1):
        print("public.py: %s validate exited %d: %s" % (kite, proc.returncode,
                                                         proc.stderr.decode(errors="replace")[:500]),
              file=sys.stderr)
        return 2
    results = json.loads(proc.stdout.decode("utf-8", errors="replace"))

    total = len(results)
    accepted, warned = [], []
    rejected = {}  # file -> set of (group, key)
    messages = {}  # file -> first error, for --list
    for r in results:
        name = os.path.basename(r["file"])
        if r.get("valid"):
            accepted.append(name)
            if r.get("warnings"):
                warned.append(name)
            continue
        doc = load_yaml(r["file"])
        causes = set()
        for e in r.get("errors", []):
            causes.add(cause_of(e, doc))
        rejected[name] = causes
        errs = r.get("errors", [])
        messages[name] = errs[0] if errs else {}

    invalid_too = sorted(n for n in rejected if n in known_invalid)
    accepted_by_kestra_too = sorted(n for n in accepted if n in known_invalid)
    counted = {n: c for n, c in rejected.items() if n not in known_invalid}
    only_types = sorted(n for n, c in counted.items() if c and all(g in ("type", "refused") for g, _ in c))

    per_cause = collections.Counter()
    per_family = collections.Counter()
    type_flows = collections.defaultdict(set)
    for n, causes in counted.items():
        fams = set()
        for g, k in causes:
            per_cause[(g, k)] += 1
            if g == "type":
                type_flows[k].add(n)
                fams.add(family(k))
        for f in fams:
            per_family[f] += 1

    # what one more type would win: flows whose only cause is that one type
    alone = collections.Counter()
    for n, causes in counted.items():
        ts = {k for g, k in causes if g == "type"}
        if len(ts) == 1 and all(g == "type" for g, _ in causes):
            alone[ts.pop()] += 1

    base = total - len(invalid_too)
    summary = {
        "corpus": corpus,
        "total": total,
        "accepted": len(accepted),
        "accepted_with_warnings": len(warned),
        "rejected": len(rejected),
        "known_invalid_for_kestra": invalid_too,
        "known_invalid_but_accepted": accepted_by_kestra_too,
        "counted_total": base,
        "rejected_only_for_missing_types": len(only_types),
        "causes": [{"group": g, "cause": k, "flows": n}
                   for (g, k), n in sorted(per_cause.items(), key=lambda x: (-x[1], x[0]))],
        "families": [{"family": f, "flows": n}
                     for f, n in sorted(per_family.items(), key=lambda x: (-x[1], x[0]))],
        "blocked_by_one_type": [{"type": t, "flows": n}
                                for t, n in sorted(alone.items(), key=lambda x: (-x[1], x[0]))],
        "flows": {n: sorted("%s: %s" % c for c in cs) for n, cs in sorted(rejected.items())},
    }
    if as_json:
        json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0

    pct = lambda a, b: (100.0 * a / b) if b else 0.0
    print("public Kestra flows in %s" % corpus)
    print("accepted %d / %d (%.1f%%)%s" % (len(accepted), total, pct(len(accepted), total),
                                          ", %d of them with warnings" % len(warned) if warned else ""))
    if known_invalid:
        print("invalid for Kestra too (known-invalid.tsv): %d, not counted; accepted %d / %d (%.1f%%) of the rest"
              % (len(invalid_too), len(accepted), base, pct(len(accepted), base)))
        if accepted_by_kestra_too:
            print("  listed in known-invalid.tsv but accepted by kite: " + ", ".join(accepted_by_kestra_too))
    print("rejected %d: %d only for types kite does not have, %d for other causes too"
          % (len(counted), len(only_types), len(counted) - len(only_types)))

    def section(title, group):
        rows = [(k, n) for (g, k), n in per_cause.items() if g == group]
        if not rows:
            return
        print("\n%s (flows):" % title)
        for k, n in sorted(rows, key=lambda x: (-x[1], x[0])):
            print("  %4d  %s" % (n, k))

    if per_family:
        print("\ntypes kite does not have, by Kestra package (flows):")
        for f, n in sorted(per_family.items(), key=lambda x: (-x[1], x[0])):
            names = sorted((t for t in type_flows if family(t) == f), key=lambda t: (-len(type_flows[t]), t))
            print("  %4d  %s (%s)" % (n, f, ", ".join("%s %d" % (t.rsplit(".", 1)[-1], len(type_flows[t]))
                                                        for t in names)))
    if alone:
        print("\nflows that one more type would let in (the type, then the flows it alone rejects):")
        for t, n in sorted(alone.items(), key=lambda x: (-x[1], x[0])):
            print("  %4d  %s" % (n, t))
    section("types refused on purpose", "refused")
    section("properties", "property")
    section("templates", "template")
    section("YAML", "yaml")
    section("other causes", "other")
    if invalid_too:
        print("\ninvalid for Kestra too (flows):")
        for n in invalid_too:
            print("  %s: %s" % (n, known_invalid[n]))
    if list_flows:
        print("\nrejected flows:")
        for n, cs in sorted(rejected.items()):
            e = messages.get(n) or {}
            print("  %s:%s:%s: %s" % (n, e.get("line", 0), e.get("col", 0), e.get("message", "")))
            for g, k in sorted(cs):
                print("      %s: %s" % (g, k))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
