#!/usr/bin/env bash
# Push benchmark: `idpkit push` vs `skopeo copy oci:STORE:REF docker://…` of the build
# benchmark's ~1 GiB-context image to the rig's TLS registry, cold (a new repository each run,
# so every blob goes up) and unchanged re-push. Prints medians and the ratio.
#
# Usage: bench/push.sh   (RUNS=3, SIZE_MIB=1024; BENCH_WORK=~/.cache/idpkit-bench;
#        IDPKIT_BIN=path/to/idpkit to measure another build than target/release)
# Goal (issue 4): idpkit cold <= 0.8x skopeo, unchanged re-push < 150 ms.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
size=${SIZE_MIB:-1024}
work=${BENCH_WORK:-$HOME/.cache/idpkit-bench}
ctx=$work/context-$size
store=$work/push-store
image=localhost/bench:push
idpkit=${IDPKIT_BIN:-$repo/target/release/idpkit}
# shellcheck source=/dev/null
. "$repo/tests/rig/lib.sh"
rig_require registry-tls
command -v skopeo >/dev/null || { echo "bench: skopeo is missing; run scripts/setup-system.sh" >&2; exit 1; }
[ -x "$idpkit" ] || cargo build --release --locked -p idpkit-cli --quiet
mkdir -p "$work"
[ -d "$ctx" ] || python3 "$repo/bench/gen-context.py" "$ctx" "$size"
"$idpkit" --store "$store" build "$ctx" -t "$image" >/dev/null
reg=$IDPKIT_RIG_REGISTRY_TLS
export IDPKIT_REGISTRY_USERNAME=$IDPKIT_RIG_REGISTRY_USER
export IDPKIT_REGISTRY_PASSWORD=$IDPKIT_RIG_REGISTRY_PASSWORD
creds_file=$(mktemp)
trap 'rm -f "$creds_file"' EXIT
printf '%s:%s' "$IDPKIT_RIG_REGISTRY_USER" "$IDPKIT_RIG_REGISTRY_PASSWORD" >"$creds_file"
m() { python3 "$repo/bench/measure.py" "$runs" "$1" "$2"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
# skopeo remembers where blobs live (blob-info cache) and would mount instead of uploading.
nocache="rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb $HOME/.local/share/containers/cache/blob-info-cache-v1.boltdb"
idp="$idpkit --store $store push $image"
sk="skopeo copy --quiet --dest-cert-dir $IDPKIT_RIG_CERT_DIR --dest-creds \$(cat $creds_file) oci:$store:$image"

echo "image: $image from $ctx ($(du -sh "$ctx" | cut -f1)), registry: $reg, runs: $runs, cores: $(nproc)"
# Every cold run starts alike: the dirty pages of earlier writes (the context, the build, the
# registry's uploads) are flushed first, untimed, so neither tool pays for the other's
# writeback; one untimed push of each first brings the blob into the page cache for both.
settle="sync"
$idp "$reg/bench/idp-prime:v1" --ca-file "$IDPKIT_RIG_CA" >/dev/null
eval "$nocache"; eval "$sk docker://$reg/bench/sk-prime:v1"
idp_cold=$(m "$settle" "$idp $reg/bench/idp-\$(date +%s%N):v1 --ca-file $IDPKIT_RIG_CA")
sk_cold=$(m "$nocache; $settle" "$sk docker://$reg/bench/sk-\$(date +%s%N):v1")
$idp "$reg/bench/idp-warm:v1" --ca-file "$IDPKIT_RIG_CA" >/dev/null
idp_warm=$(m "" "$idp $reg/bench/idp-warm:v1 --ca-file $IDPKIT_RIG_CA")
eval "$sk docker://$reg/bench/sk-warm:v1"
sk_warm=$(m "" "$sk docker://$reg/bench/sk-warm:v1")

ic=$(field "$idp_cold" median_s); sc=$(field "$sk_cold" median_s)
iw=$(field "$idp_warm" median_s); sw=$(field "$sk_warm" median_s)
printf '%-28s %10s %10s\n' "" "idpkit" "skopeo"
printf '%-28s %9.2fs %9.2fs\n' "cold push (median)" "$ic" "$sc"
printf '%-28s %9.3fs %9.3fs\n' "unchanged re-push (median)" "$iw" "$sw"
printf '%-28s %6.0f MiB %6.0f MiB\n' "peak RSS cold" "$(field "$idp_cold" max_rss_mib)" "$(field "$sk_cold" max_rss_mib)"
python3 -c "import sys; c=float(sys.argv[1])/float(sys.argv[2]); w=float(sys.argv[3]); print(f'ratio cold idpkit/skopeo: {c:.2f}x (goal <= 0.8x); unchanged re-push {w*1000:.0f} ms (goal < 150 ms)')" "$ic" "$sc" "$iw"
