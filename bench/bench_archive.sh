#!/bin/bash
# bench_archive.sh: ArchiveDecompress (libarchive) unpacking a tar.gz of
# 100 MB (20 files of 5 MB: half random bytes, half text) through `kite run`,
# next to `tar xzf` of the same file into a folder. kite's time includes its
# start, copying the archive in as a FILE input and storing each file; the
# median of 3 runs of each; then ArchiveCompress packing the same files into
# a tar.gz next to `tar czf`. Prints figures. Run by `make bench` (KITE=binary).
set -u
cd "$(dirname "$0")/.."
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

mkdir -p "$work/src"
for i in $(seq 1 10); do
    head -c 5242880 /dev/urandom >"$work/src/r$i.bin"
    yes "row $i,some text that compresses,12345" | head -c 5242880 >"$work/src/t$i.csv"
done
tar czf "$work/a.tgz" -C "$work/src" .
cat >"$work/f.yaml" <<'EOF'
id: unpack
namespace: bench.archive
inputs:
  - id: arc
    type: FILE
tasks:
  - id: x
    type: io.kestra.plugin.compress.ArchiveDecompress
    from: "{{ inputs.arc }}"
    algorithm: TAR
    compression: GZIP
EOF
k=() t=()
for r in 1 2 3; do
    rm -rf "$work/d" "$work/out"
    s=$(date +%s%N); "$KITE" run "$work/f.yaml" --data "$work/d" --quiet --file arc="$work/a.tgz" >/dev/null 2>&1; k+=("$(ms "$s")")
    mkdir "$work/out"
    s=$(date +%s%N); tar xzf "$work/a.tgz" -C "$work/out"; t+=("$(ms "$s")")
done
km=$(med "${k[@]}") tm=$(med "${t[@]}")
# ArchiveCompress of the same 20 files into a tar.gz, next to `tar czf`
{
    printf 'id: pack\nnamespace: bench.archive\ninputs:\n'
    for f in "$work"/src/*; do printf '  - { id: %s, type: FILE }\n' "$(basename "${f%.*}")"; done
    printf 'tasks:\n  - id: p\n    type: io.kestra.plugin.compress.ArchiveCompress\n    algorithm: TAR\n    compression: GZIP\n    from:\n'
    for f in "$work"/src/*; do printf '      %s: "{{ inputs.%s }}"\n' "$(basename "$f")" "$(basename "${f%.*}")"; done
} >"$work/p.yaml"
args=()
for f in "$work"/src/*; do args+=(--file "$(basename "${f%.*}")=$f"); done
kc=() tc=()
for r in 1 2 3; do
    rm -rf "$work/d"
    s=$(date +%s%N); "$KITE" run "$work/p.yaml" --data "$work/d" --quiet "${args[@]}" >/dev/null 2>&1; kc+=("$(ms "$s")")
    s=$(date +%s%N); tar czf "$work/b.tgz" -C "$work/src" .; tc+=("$(ms "$s")")
done
kcm=$(med "${kc[@]}") tcm=$(med "${tc[@]}")
echo "archive: 100 MB tar.gz ($(($(stat -c %s "$work/a.tgz") / 1048576)) MB packed): kite ArchiveDecompress ${km} ms ($((100000 / (km > 0 ? km : 1))) MB/s), tar xzf ${tm} ms ($((100000 / (tm > 0 ? tm : 1))) MB/s); load $(cut -d' ' -f1 /proc/loadavg)"
echo "archive: the same 100 MB into a tar.gz: kite ArchiveCompress ${kcm} ms ($((100000 / (kcm > 0 ? kcm : 1))) MB/s, with 20 FILE inputs copied in), tar czf ${tcm} ms ($((100000 / (tcm > 0 ? tcm : 1))) MB/s)"
