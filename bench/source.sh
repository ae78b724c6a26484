#!/usr/bin/env bash
# Source cache benchmark (issue 15), in one run:
#  1. extraction of a ~300 MB artifact served by the rig's nginx: `idpkit source fetch
#     artifact` (download, sha256, gunzip, safe untar, publish) against `curl | tar -xz`
#     (download and extract, no verification at all) — goal: idpkit >= 1.5x faster;
#  2. a warm hit: in-process (goal < 10 ms) and through the CLI (goal < 50 ms);
#  3. a git clone of rig repositories against `git clone --depth 1` (bench/git-clone.sh) —
#     goal: <= 1.2x git's time.
# Medians of RUNS runs (default 5). The artifact is generated once (bench/gen-context.py,
# tar + gzip -6 as source-controller's Go gzip default) and kept under BENCH_WORK.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
work=${BENCH_WORK:-$HOME/.cache/idpkit-bench}
size=${SIZE_MIB:-300}
target=${CARGO_TARGET_DIR:-$repo/target}
idpkit=$target/release/idpkit
# shellcheck source=/dev/null
. "$repo/tests/rig/lib.sh"
rig_require nginx
(cd "$repo" && cargo build --release --locked -p idpkit-cli -p idpkit --example source_hit --quiet)
m() { python3 "$repo/bench/measure.py" "$runs" "$1" "$2"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

ctx=$work/context-$size
python3 "$repo/bench/gen-context.py" "$ctx" "$size"
art=$IDPKIT_RIG_DIR/artifacts/bench-$size.tar.gz
if [[ ! -s $art ]]; then
  tar -C "$ctx" --exclude ".complete-*" -cf - . | gzip -6 >"$art.tmp"
  mv "$art.tmp" "$art"
fi
url=${IDPKIT_RIG_ARTIFACT_URL%/*}/bench-$size.tar.gz
digest=sha256:$(sha256sum "$art" | cut -d' ' -f1)
out=$work/source-out
cache=$work/source-cache
echo "artifact: $(du -h "$art" | cut -f1) gzipped, $(du -sh "$ctx" | cut -f1) extracted, runs: $runs, cores: $(nproc)"

fetch="$idpkit --cache $cache source fetch artifact $url --digest $digest --ca-file $IDPKIT_RIG_CA --max-download-size 0 --max-untar-size 0"
idp=$(m "rm -rf $cache" "$fetch")
curl_tar=$(m "rm -rf $out && mkdir -p $out" "curl -fsS --cacert $IDPKIT_RIG_CA $url | tar -xzf - -C $out")
$fetch >/dev/null
hit_cli=$(m "" "$fetch")
hit_lib=$("$target/release/examples/source_hit" "$cache" "$url" "$digest" "$IDPKIT_RIG_CA" 50)
rm -rf "$out" "$cache"

python3 - "$idp" "$curl_tar" "$hit_cli" "$hit_lib" <<'PY'
import json, sys
idp, ct, hit_cli = (json.loads(a) for a in sys.argv[1:4])
hit_lib = float(sys.argv[4])
print(f"extract  idpkit {idp['median_s']:.2f} s (rss {idp['max_rss_mib']} MiB)   curl | tar -xz {ct['median_s']:.2f} s"
      f"   -> idpkit {ct['median_s'] / idp['median_s']:.2f}x faster (goal >= 1.5x)")
print(f"warm hit in-process {hit_lib:.2f} ms (goal < 10)   CLI {hit_cli['median_s'] * 1000:.1f} ms (goal < 50)")
PY
echo "git clone:"
RUNS=$runs "$repo/bench/git-clone.sh"
