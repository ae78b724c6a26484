#!/usr/bin/env bash
# Build benchmark: idpkit vs `umoci insert` vs `tar | gzip -1` on the same ~1 GiB mixed
# context, cold and unchanged rebuild, with layer sizes and peak RSS. Prints medians.
#
# Usage: bench/build.sh [CONTEXT_DIR] (default: a generated context cached under
# ~/.cache/idpkit-bench). RUNS=3 by default; SIZE_MIB=1024.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
size=${SIZE_MIB:-1024}
work=${BENCH_WORK:-$HOME/.cache/idpkit-bench}
ctx=${1:-$work/context-$size}
idpkit=$repo/target/release/idpkit
mkdir -p "$work"
[ -x "$idpkit" ] || cargo build --release --locked -p idpkit-cli --quiet
for tool in umoci gzip tar python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing; run scripts/setup-system.sh" >&2; exit 1; }
done
[ $# -ge 1 ] || python3 "$repo/bench/gen-context.py" "$ctx" "$size"
m() { python3 "$repo/bench/measure.py" "$runs" "$1" "$2"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

store=$work/store
layout=$work/umoci
echo "context: $ctx ($(du -sh "$ctx" | cut -f1), $(find "$ctx" -type f | wc -l) files), runs: $runs, cores: $(nproc)"

idp_cold=$(m "rm -rf $store" "$idpkit --store $store build $ctx -t localhost/bench:cold")
idp_layer=$("$idpkit" --store "$store" --json inspect localhost/bench:cold | python3 -c "import json,sys; print(json.load(sys.stdin)['manifest']['layers'][0]['size'])")
idp_warm=$(m "" "$idpkit --store $store build $ctx -t localhost/bench:cold")
umoci_cold=$(m "rm -rf $layout && umoci init --layout $layout && umoci new --image $layout:b" \
  "umoci insert --rootless --image $layout:b $ctx /")
umoci_layer=$(python3 - "$layout" <<'PY'
import json, sys, os
root = sys.argv[1]
idx = json.load(open(os.path.join(root, "index.json")))
d = idx["manifests"][0]["digest"].split(":")[1]
m = json.load(open(os.path.join(root, "blobs/sha256", d)))
print(m["layers"][-1]["size"])
PY
)
targz=$(m "" "tar --sort=name -C $ctx -cf - . | gzip -1 > $work/ctx.tar.gz")
targz_size=$(stat -c %s "$work/ctx.tar.gz")

python3 - "$idp_cold" "$idp_warm" "$umoci_cold" "$targz" "$idp_layer" "$umoci_layer" "$targz_size" <<'PY'
import json, sys
cold, warm, umoci, targz = (json.loads(a) for a in sys.argv[1:5])
il, ul, tl = (int(a) for a in sys.argv[5:8])
mib = 1 << 20
print(f"{'':28}{'median s':>10}{'peak RSS MiB':>14}{'layer MiB':>11}")
print(f"{'idpkit build (cold)':28}{cold['median_s']:10.2f}{cold['max_rss_mib']:14.1f}{il/mib:11.1f}")
print(f"{'idpkit build (unchanged)':28}{warm['median_s']:10.3f}{warm['max_rss_mib']:14.1f}")
print(f"{'umoci insert':28}{umoci['median_s']:10.2f}{umoci['max_rss_mib']:14.1f}{ul/mib:11.1f}")
print(f"{'tar | gzip -1':28}{targz['median_s']:10.2f}{'':14}{tl/mib:11.1f}")
print()
print(f"ratio umoci insert / idpkit cold:      {umoci['median_s']/cold['median_s']:.2f}x  (goal >= 2)")
print(f"ratio tar|gzip -1 / idpkit cold:       {targz['median_s']/cold['median_s']:.2f}x")
print(f"ratio idpkit cold / unchanged rebuild: {cold['median_s']/warm['median_s']:.1f}x  (goal >= 20)")
print(f"layer size idpkit / umoci:             {il/ul:.3f}  (goal <= 1.05)")
print(f"layer size idpkit / tar|gzip -1:       {il/tl:.3f}")
print(f"peak RSS idpkit cold:                  {cold['max_rss_mib']:.1f} MiB  (goal < 100)")
PY
