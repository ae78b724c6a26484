#!/usr/bin/env bash
# The same build through the CLI, the C ABI (tests/c/bench_build.c), the Go module
# (bindings/go/examples/build) and the JVM (the jar of bindings/kotlin driven by its Java
# example, reported as the whole process and as the build call inside it), several rounds
# with the layer cache disabled (no_cache), the four paths interleaved in every round so that
# machine load hits them alike. Prints the median wall time of each path and its ratio to
# the CLI (goal: within 5%; for the JVM, the call: a JVM's start is not the library's).
#
#   bench/ffi.sh [SIZE_MB] [ROUNDS]      defaults: 256 MB, 5 rounds
#   IDPKIT_BENCH_DIR=/path bench/ffi.sh  where the context and stores go (default /tmp)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
size_mb=${1:-256}
rounds=${2:-5}
work=${IDPKIT_BENCH_DIR:-/tmp}/idpkit-bench-ffi
mkdir -p "$work"

echo "== building the four drivers"
cargo build --release --locked -p idpkit-cli -p idpkit-ffi -p idpkit-uniffi --quiet
gcc -std=gnu11 -O2 -Iinclude tests/c/bench_build.c -o "$work/bench_build" \
  target/release/libidpkit_ffi.a -lpthread -ldl -lm
lib_hash=$(sha256sum target/release/libidpkit_ffi.a | cut -c1-16)
(cd bindings/go && CGO_CFLAGS="-O2 -g -DIDPKIT_LIB_HASH_${lib_hash}" \
  go build -o "$work/go_build" ./examples/build)
# The jar (with libidpkit_uniffi.so inside) and its run-time class path; the Java example
# compiled against them as a user would.
(cd bindings/kotlin && mvn -B -q -o -DskipTests package)
jvm_cp="$repo/bindings/kotlin/target/idpkit-0.1.0.jar:$repo/bindings/kotlin/target/lib/*"
rm -rf "$work/jvm" && mkdir -p "$work/jvm"
javac -d "$work/jvm" -cp "$jvm_cp" bindings/kotlin/examples/java/dev/idpkit/examples/BuildAndPush.java

ctx="$work/context-${size_mb}mb"
if [ ! -d "$ctx" ]; then
  echo "== writing a ${size_mb} MB context to $ctx"
  mkdir -p "$ctx.tmp"
  # Half incompressible (random), half text-like (base64 of random: compresses ~25%), in
  # 4 MiB files spread over a few directories, plus many small files.
  n=$(( size_mb / 4 ))
  for i in $(seq 1 "$n"); do
    d="$ctx.tmp/dir$(( i % 8 ))"
    mkdir -p "$d"
    if [ $(( i % 2 )) -eq 0 ]; then
      head -c 4194304 /dev/urandom > "$d/blob$i.bin"
    else
      head -c 3145728 /dev/urandom | base64 -w 100 > "$d/text$i.txt"
    fi
  done
  mkdir -p "$ctx.tmp/small"
  for i in $(seq 1 2000); do echo "small file $i" > "$ctx.tmp/small/f$i.txt"; done
  mv "$ctx.tmp" "$ctx"
fi
echo "context: $(du -sm "$ctx" | cut -f1) MB, $(find "$ctx" -type f | wc -l) files"

now() { date +%s.%N; }
declare -A times
run() { # name command...
  local name=$1; shift
  local t0 t1
  t0=$(now)
  "$@" >/dev/null
  t1=$(now)
  times[$name]+="$(echo "$t1 - $t0" | bc -l) "
}

# The JVM twice: `jvm` is the whole process (JVM start, class loading, JNA unpacking the
# library from the jar: about half a second here), `jvm-call` the build call inside it, as a
# long-running JVM program (a server, a build tool's daemon) pays it.
run_jvm() {
  local t0 t1
  t0=$(now)
  java -cp "$work/jvm:$jvm_cp" dev.idpkit.examples.BuildAndPush -q --no-cache --time \
    --store "$work/store-jvm" --tag bench:jvm "$ctx" >/dev/null 2>"$work/jvm-time.txt"
  t1=$(now)
  times[jvm]+="$(echo "$t1 - $t0" | bc -l) "
  times[jvm-call]+="$(sed -n 's/^build: \([0-9.]*\) s$/\1/p' "$work/jvm-time.txt") "
}

rm -rf "$work"/store-*
for r in $(seq 1 "$rounds"); do
  echo "== round $r/$rounds"
  run cli target/release/idpkit --quiet --store "$work/store-cli" build --no-cache -t bench:cli "$ctx"
  run c "$work/bench_build" "$work/store-c" "$ctx" bench:c
  run go "$work/go_build" -q -no-cache -store "$work/store-go" -tag bench:go "$ctx"
  run_jvm
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
cli_med=$(echo "${times[cli]}" | median)
echo
printf "%-8s %10s %8s   runs (s)\n" path median ratio
for p in cli c go jvm jvm-call; do
  m=$(echo "${times[$p]}" | median)
  ratio=$(echo "$m / $cli_med" | bc -l)
  printf "%-8s %9.3fs %8.3f   %s\n" "$p" "$m" "$ratio" "$(for t in ${times[$p]}; do printf '%.2f ' "$t"; done)"
done
# The digests must agree: the four paths build the very same image.
distinct=$(for p in cli c go jvm; do
  target/release/idpkit --store "$work/store-$p" images --json 2>/dev/null | grep -o 'sha256:[0-9a-f]*' | head -1
done | sort -u | grep -c . || true)
if [ "$distinct" -ne 1 ]; then
  echo "digests: DIFFER ($distinct distinct digests across cli, c, go and jvm)" >&2
  exit 1
fi
echo "digests: identical"
