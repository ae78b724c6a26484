#!/usr/bin/env bash
# Secrets benchmark (issue 16), in one run: decrypting a 500-key .env.sops (encrypted by the
# rig's real sops for the rig's age key) with `idpkit secrets decrypt` and with `sops -d`,
# both as processes started directly (no shell), taking turns, output to /dev/null.
# Goal: idpkit >= 5x faster.
# Medians of RUNS runs (default 9); KEYS keys (default 500). The files live under BENCH_WORK.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-9}
keys=${KEYS:-500}
work=${BENCH_WORK:-$HOME/.cache/idpkit-bench}/secrets
target=${CARGO_TARGET_DIR:-$repo/target}
idpkit=$target/release/idpkit
# shellcheck source=/dev/null
. "$repo/tests/rig/lib.sh"
rig_load_env
sops=$IDPKIT_RIG_SOPS
[[ -x $sops ]] || { echo "bench/secrets: the rig's sops ($sops) is missing; run tests/rig/up" >&2; exit 1; }
(cd "$repo" && cargo build --release --locked -p idpkit-cli --quiet)

mkdir -p "$work"
plain=$work/plain-$keys.env
enc=$work/bench-$keys.env.sops
python3 - "$plain" "$keys" <<'PY'
import random, string, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(16)
chars = string.ascii_letters + string.digits + "-_./+=:@"
with open(path, "w") as f:
    for i in range(n):
        f.write(f"SECRET_{i:04d}={''.join(rnd.choice(chars) for _ in range(rnd.randint(16, 64)))}\n")
PY
(cd "$work" && "$sops" encrypt --age "$IDPKIT_RIG_AGE_RECIPIENT" --input-type dotenv --output-type dotenv "$plain" >"$enc")
rm -f "$plain"
export SOPS_AGE_KEY_FILE=$IDPKIT_RIG_AGE_KEY_FILE
# Both must print the same values before they are timed.
cmp <("$idpkit" secrets decrypt --format json "$enc" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin).items()))') \
    <("$sops" decrypt --input-type dotenv --output-type json "$enc" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin).items()))')
echo "file: $keys keys, $(du -h "$enc" | cut -f1), runs: $runs, cores: $(nproc)"

# The two take turns, started directly (no bash in between: at a few ms a run, bash's own
# start would be a large equal share of both).
mapfile -t both < <(python3 "$repo/bench/alternate.py" --no-shell "$runs" \
  "$idpkit secrets decrypt $enc" "$sops decrypt --input-type dotenv --output-type dotenv $enc")
idp=${both[0]} sp=${both[1]}
python3 - "$idp" "$sp" <<'PY'
import json, sys
idp, sp = (json.loads(a) for a in sys.argv[1:3])
print(f"decrypt  idpkit {idp['median_s'] * 1000:.1f} ms (rss {idp['max_rss_mib']:.0f} MiB)"
      f"   sops -d {sp['median_s'] * 1000:.1f} ms (rss {sp['max_rss_mib']:.0f} MiB)"
      f"   -> idpkit {sp['median_s'] / idp['median_s']:.1f}x faster (goal >= 5x)")
PY
