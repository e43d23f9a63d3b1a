#!/bin/bash
# io.kestra.plugin.compress.ArchiveDecompress and ArchiveCompress through
# `kite run`: archives
# made by the machine's own tools (tar with gzip, bzip2, xz, zstd, lz4; zip;
# ar; a newc cpio written here) unpack into internal storage byte for byte, output `files` mapping each
# path to its URI; a '..' or absolute entry fails the task; symlinks and
# hardlinks are skipped with a warning; past $KITE_ARCHIVE_MAX_BYTES or
# $KITE_ARCHIVE_MAX_ENTRIES the task fails naming the limit; a file that is
# not an archive, and an algorithm or compression libarchive cannot read,
# fail naming the property; what ArchiveCompress packs (tar with each
# compression, zip) the machine's tar and unzip unpack byte for byte, a '..'
# name is refused; with libarchive missing ($KITE_DL_ARCHIVE at a
# file that does not exist) validate warns and the run fails naming it.
set -u
cd "$(dirname "$0")/../.."
KITE=${KITE:-build/kite}
KITE=$(realpath "$KITE")
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); [ -n "${2:-}" ] && [ -f "$2" ] && tail -8 "$2" | sed 's/^/    /'; }

# flow: $1 algorithm, $2 compression ("" for none)
flow() {
    {
        echo "id: unpack"
        echo "namespace: e2e.archive"
        echo "inputs:"
        echo "  - id: arc"
        echo "    type: FILE"
        echo "tasks:"
        echo "  - id: x"
        echo "    type: io.kestra.plugin.compress.ArchiveDecompress"
        echo "    from: \"{{ inputs.arc }}\""
        echo "    algorithm: $1"
        [ -n "$2" ] && echo "    compression: $2"
    } >"$work/f.yaml"
}
# run: $1 archive file, rest: env; $state; stdout JSON in $work/o.json, stderr in $work/e
run() {
    local f=$1
    shift
    rm -rf "$work/d"
    env "$@" timeout 120 "$KITE" run "$work/f.yaml" --data "$work/d" --json --file arc="$f" >"$work/o.json" 2>"$work/e"
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/e" | tail -1)
    if grep -q "Sanitizer" "$work/e"; then ko "sanitizer_clean ($f)" "$work/e"; fi
}
# same: the task's `files` name exactly the regular files of $1, each byte for byte
same() {
    python3 - "$1" "$work/o.json" "$work/d/storage" <<'PY'
import json, os, sys, urllib.parse
src, out, store = sys.argv[1:]
d = json.load(open(out))
files = d["taskRunList"][0]["outputs"]["files"]
want = {}
for root, dirs, names in os.walk(src):
    for n in names:
        p = os.path.join(root, n)
        if os.path.isfile(p) and not os.path.islink(p):
            want[os.path.relpath(p, src)] = p
if set(files) != set(want):
    sys.exit("files %s, want %s" % (sorted(files), sorted(want)))
for k, uri in files.items():
    assert uri.startswith("kestra:///"), uri
    got = open(os.path.join(store, urllib.parse.unquote(uri[len("kestra:///"):])), "rb").read()
    if got != open(want[k], "rb").read():
        sys.exit("%s differs" % k)
PY
}

# a tree: text, binary, empty, nested, a name with a space, 3 MB of random bytes
src="$work/src"
mkdir -p "$src/sub/deeper"
printf 'hello\n' >"$src/a.txt"
: >"$src/empty"
head -c 3000000 /dev/urandom >"$src/sub/big.bin"
printf 'x%.0s' $(seq 1 5000) >"$src/sub/deeper/with space.txt"
cd "$src"
tar cf "$work/t.tar" .
tar czf "$work/t.tgz" .
tar cjf "$work/t.tbz" .
tar cJf "$work/t.txz" .
tar --zstd -cf "$work/t.tzst" .
tar cf - . | lz4 -q >"$work/t.tlz4"
tar cf - . | xz --format=lzma >"$work/t.tlzma"
command -v zip >/dev/null && zip -qr "$work/t.zip" .
cd - >/dev/null

check() { # name algorithm compression file
    flow "$2" "$3"
    run "$4"
    if [ "$state" = SUCCESS ] && err=$(same "$src" 2>&1); then ok "$1"; else echo "    $err"; ko "$1" "$work/e"; fi
}
check tar TAR "" "$work/t.tar"
check tar_gzip TAR GZIP "$work/t.tgz"
check tar_bzip2 TAR BZIP2 "$work/t.tbz"
check tar_xz TAR XZ "$work/t.txz"
check tar_zstd TAR ZSTD "$work/t.tzst"
check tar_lz4 TAR LZ4FRAME "$work/t.tlz4"
check tar_lzma TAR LZMA "$work/t.tlzma"
if [ -f "$work/t.zip" ]; then
    check zip ZIP "" "$work/t.zip"
    cp "$work/t.zip" "$work/t.jar"
    check jar JAR "" "$work/t.jar"
else
    echo "SKIP zip: zip is not installed (scripts/setup.sh installs it)"
fi
# ar keeps a flat list of files
mkdir -p "$work/flat"
cp "$src/a.txt" "$src/sub/big.bin" "$work/flat/"
(cd "$work/flat" && ar rc "$work/t.a" a.txt big.bin)
flow AR ""
run "$work/t.a"
if [ "$state" = SUCCESS ] && err=$(same "$work/flat" 2>&1); then ok ar; else echo "    $err"; ko ar "$work/e"; fi

# cpio (newc, as `find | cpio -o -H newc` writes it), made here: no cpio tool on the machine
python3 - "$work/flat" "$work/t.cpio" <<'PY'
import os, sys
src, out = sys.argv[1:]
def rec(name, data, mode, ino):
    n = name.encode() + b"\0"
    h = b"070701" + b"".join(b"%08X" % v for v in (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(n), 0))
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return pad(h + n) + pad(data)
with open(out, "wb") as f:
    for i, name in enumerate(sorted(os.listdir(src))):
        f.write(rec(name, open(os.path.join(src, name), "rb").read(), 0o100644, i + 1))
    f.write(rec("TRAILER!!!", b"", 0, 0))
PY
flow CPIO ""
run "$work/t.cpio"
if [ "$state" = SUCCESS ] && err=$(same "$work/flat" 2>&1); then ok cpio; else echo "    $err"; ko cpio "$work/e"; fi

# the compression must be the archive's: a tar.gz read as plain TAR fails
flow TAR ""
run "$work/t.tgz"
[ "$state" = FAILED ] && grep -q "property 'from': not a TAR archive" "$work/e" && ok wrong_compression || ko wrong_compression "$work/e"

# a file that is not an archive
head -c 5000 /dev/urandom >"$work/noise"
flow ZIP ""
run "$work/noise"
[ "$state" = FAILED ] && grep -q "property 'from': .*ZIP archive" "$work/e" && ok not_an_archive || ko not_an_archive "$work/e"
flow TAR GZIP
run "$work/noise"
[ "$state" = FAILED ] && grep -q "property 'from': not a TAR archive compressed with GZIP" "$work/e" && ok not_gzip || ko not_gzip "$work/e"

# what libarchive cannot read: the property is named
flow TAR SNAPPY
run "$work/t.tar"
[ "$state" = FAILED ] && grep -q "property 'compression': SNAPPY is not read by kite" "$work/e" && ok unsupported_compression || ko unsupported_compression "$work/e"
flow ARJ ""
run "$work/t.tar"
[ "$state" = FAILED ] && grep -q "property 'algorithm': ARJ archives are not read by kite" "$work/e" && ok unsupported_algorithm || ko unsupported_algorithm "$work/e"

# path traversal: '..' and absolute entries fail the task, nothing of them stored
python3 - "$work" <<'PY'
import io, sys, tarfile, zipfile
w = sys.argv[1]
for name, bad in (("dotdot.tar", "ok/../../evil.txt"), ("abs.tar", "/tmp/evil.txt")):
    with tarfile.open(w + "/" + name, "w") as t:
        i = tarfile.TarInfo(bad); i.size = 4
        t.addfile(i, io.BytesIO(b"evil"))
with zipfile.ZipFile(w + "/dotdot.zip", "w") as z:
    z.writestr("../evil.txt", "evil")
# links: a symlink and a hardlink next to a file
with tarfile.open(w + "/links.tar", "w") as t:
    i = tarfile.TarInfo("real.txt"); i.size = 4
    t.addfile(i, io.BytesIO(b"real"))
    i = tarfile.TarInfo("sym"); i.type = tarfile.SYMTYPE; i.linkname = "/etc/passwd"
    t.addfile(i)
    i = tarfile.TarInfo("hard"); i.type = tarfile.LNKTYPE; i.linkname = "real.txt"
    t.addfile(i)
    i = tarfile.TarInfo("dev"); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3
    t.addfile(i)
# a bomb: 20 MB of zeros gzipped to ~20 KB; and 50 empty entries
with tarfile.open(w + "/bomb.tgz", "w:gz") as t:
    i = tarfile.TarInfo("zeros"); i.size = 20 * 1024 * 1024
    t.addfile(i, io.BytesIO(bytes(i.size)))
with tarfile.open(w + "/many.tar", "w") as t:
    for n in range(50):
        t.addfile(tarfile.TarInfo("f%d" % n), io.BytesIO(b""))
PY
for a in dotdot.tar abs.tar; do
    flow TAR ""
    run "$work/$a"
    if [ "$state" = FAILED ] && grep -q "has an absolute path or a '..' part: refused" "$work/e" &&
        ! find "$work/d" -name 'evil.txt' | grep -q .; then ok "traversal_$a"; else ko "traversal_$a" "$work/e"; fi
done
flow ZIP ""
run "$work/dotdot.zip"
[ "$state" = FAILED ] && grep -q "entry '../evil.txt' has an absolute path or a '..' part" "$work/e" && ok traversal_zip || ko traversal_zip "$work/e"

flow TAR ""
run "$work/links.tar"
if [ "$state" = SUCCESS ] && grep -q "WARN.*entry 'sym' is a symlink: skipped" "$work/e" &&
    grep -q "WARN.*entry 'hard' is a hardlink to 'real.txt': skipped" "$work/e" &&
    grep -q "WARN.*entry 'dev' is a character device: skipped" "$work/e" &&
    python3 -c "import json,sys; f=json.load(open('$work/o.json'))['taskRunList'][0]['outputs']['files']; sys.exit(list(f) != ['real.txt'])"
then ok links_skipped; else ko links_skipped "$work/e"; fi

flow TAR GZIP
run "$work/bomb.tgz" KITE_ARCHIVE_MAX_BYTES=10000000
[ "$state" = FAILED ] && grep -q "the archive unpacks to more than 10000000 bytes (the limit" "$work/e" && ok bomb_bytes || ko bomb_bytes "$work/e"
run "$work/bomb.tgz"
[ "$state" = SUCCESS ] && ok bomb_under_default_limit || ko bomb_under_default_limit "$work/e"
flow TAR ""
run "$work/many.tar" KITE_ARCHIVE_MAX_ENTRIES=20
[ "$state" = FAILED ] && grep -q "the archive has more than 20 entries (the limit" "$work/e" && ok bomb_entries || ko bomb_entries "$work/e"

# ArchiveCompress: what kite packs, the machine's tools unpack byte for byte
pack_flow() { # $1 algorithm, $2 compression, $3 a name for the first file
    {
        echo "id: pack"
        echo "namespace: e2e.archive"
        echo "inputs:"
        echo "  - { id: a, type: FILE }"
        echo "  - { id: b, type: FILE }"
        echo "  - { id: c, type: FILE }"
        echo "tasks:"
        echo "  - id: pack"
        echo "    type: io.kestra.plugin.compress.ArchiveCompress"
        echo "    from:"
        echo "      \"$3\": \"{{ inputs.a }}\""
        echo "      sub/big.bin: \"{{ inputs.b }}\""
        echo "      \"sub/deeper/with space.txt\": \"{{ inputs.c }}\""
        echo "    algorithm: $1"
        [ -n "$2" ] && echo "    compression: $2"
    } >"$work/p.yaml"
}
pack() { # $1 algorithm, $2 compression, $3 first name; sets $state, $packed
    pack_flow "$@"
    rm -rf "$work/d"
    timeout 120 "$KITE" run "$work/p.yaml" --data "$work/d" --file a="$src/a.txt" --file b="$src/sub/big.bin" \
        --file "c=$src/sub/deeper/with space.txt" >"$work/o.json" 2>"$work/e"
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/e" | tail -1)
    if grep -q "Sanitizer" "$work/e"; then ko "sanitizer_clean (pack $1)" "$work/e"; fi
    packed=$(find "$work/d" -name 'archive.*' | head -1)
}
packcheck() { # name algorithm compression extension unpack-command (run in the target folder, $A the archive)
    pack "$2" "$3" a.txt
    rm -rf "$work/un" && mkdir "$work/un"
    mkdir -p "$work/want/sub/deeper" && cp "$src/a.txt" "$work/want/" && cp "$src/sub/big.bin" "$work/want/sub/" &&
        cp "$src/sub/deeper/with space.txt" "$work/want/sub/deeper/"
    if [ "$state" = SUCCESS ] && [ "${packed##*/}" = "archive$4" ] && (cd "$work/un" && A="$packed" eval "$5") >/dev/null 2>&1 &&
        diff -r "$work/want" "$work/un" >/dev/null; then ok "$1"; else ko "$1" "$work/e"; fi
}
packcheck compress_tar TAR "" .tar 'tar xf "$A"'
packcheck compress_tar_gzip TAR GZIP .tar.gz 'tar xzf "$A"'
packcheck compress_tar_bzip2 TAR BZIP2 .tar.bz2 'tar xjf "$A"'
packcheck compress_tar_xz TAR XZ .tar.xz 'tar xJf "$A"'
packcheck compress_tar_zstd TAR ZSTD .tar.zst 'tar --zstd -xf "$A"'
packcheck compress_tar_lz4 TAR LZ4FRAME .tar.lz4 'lz4 -dc "$A" | tar xf -'
command -v unzip >/dev/null && packcheck compress_zip ZIP "" .zip 'unzip -q "$A"'
pack TAR "" ../evil.txt
[ "$state" = FAILED ] && grep -q "property 'from': name '../evil.txt' is empty, absolute or has a '..' part" "$work/e" && ok compress_traversal_refused || ko compress_traversal_refused "$work/e"
pack TAR SNAPPY a.txt
[ "$state" = FAILED ] && grep -q "property 'compression': SNAPPY is not written by kite" "$work/e" && ok compress_unsupported || ko compress_unsupported "$work/e"

# libarchive missing: validate warns at the type, the run fails naming it
flow TAR ""
want="need libarchive.so.13 (Debian package libarchive13): $work/none.so"
KITE_DL_ARCHIVE="$work/none.so" "$KITE" validate "$work/f.yaml" >"$work/v" 2>&1
grep -q "f.yaml:[0-9]*:[0-9]*: .*cannot run on this host: .*$want" "$work/v" && ok validate_missing_lib || ko validate_missing_lib "$work/v"
run "$work/t.tar" KITE_DL_ARCHIVE="$work/none.so"
[ "$state" = FAILED ] && grep -q "$want" "$work/e" && ok run_missing_lib || ko run_missing_lib "$work/e"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
