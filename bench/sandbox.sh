#!/usr/bin/env bash
# Sandbox benchmark: `idpkit sandbox clone` + `idpkit sandbox plan` of the bundled Rails
# project (examples/rails-shop, pushed to the rig's git http-backend as rails-shop.git) against
# what a user does without idpkit: `git clone --depth 1` plus claude-sandbox's grep detection
# (bin/detect-services.sh: grep the Gemfile and package.json for pg/redis/sidekiq/bull), and
# against `git clone --depth 1` alone. The tools take turns (bench/alternate.py), each run into
# a fresh directory, all removed at the end. Prints medians, the ratio and idpkit's time over
# the clone alone.
#
# Usage: bench/sandbox.sh   (RUNS=7; BENCH_WORK=~/.cache/idpkit-bench; IDPKIT=path/to/idpkit)
# Goal (issue 17): clone + plan no slower than the clone alone plus 50 ms.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-7}
work=${BENCH_WORK:-$HOME/.cache/idpkit-bench}/sandbox
target=${CARGO_TARGET_DIR:-$repo/target}
idpkit=${IDPKIT:-$target/release/idpkit}
# shellcheck source=/dev/null
. "$repo/tests/rig/lib.sh"
rig_require nginx fcgiwrap sshd
if [[ -z ${IDPKIT:-} ]]; then
  (cd "$repo" && cargo build --release --locked -p idpkit-cli --quiet)
fi
bash "$repo/tests/docs/fixtures/rails-shop-repo.sh"
url=$IDPKIT_RIG_GIT_URL/rails-shop.git
rm -rf "$work" && mkdir -p "$work/out"
# Both tools read the password from a file or the environment, never from an argument.
printf '%s\n' "$IDPKIT_RIG_GIT_PASSWORD" > "$work/pw" && chmod 600 "$work/pw"
export GIT_PASSWORD=$IDPKIT_RIG_GIT_PASSWORD IDPKIT_RIG_GIT_USER
helper='!f() { echo username=$IDPKIT_RIG_GIT_USER; echo password=$GIT_PASSWORD; }; f'

# claude-sandbox's detection, as bin/detect-services.sh does it on a checkout.
cat > "$work/grep-detect.sh" <<'SH'
cd "$1"
profiles="claude"
if [ -f Gemfile ]; then
  grep -q "gem ['\"]pg['\"]" Gemfile && profiles="$profiles with-postgres"
  { grep -q "gem ['\"]redis['\"]" Gemfile || grep -q "gem ['\"]sidekiq['\"]" Gemfile; } && profiles="$profiles with-redis"
fi
if [ -f package.json ]; then
  grep -q '"pg"' package.json && profiles="$profiles with-postgres"
  { grep -q '"redis"' package.json || grep -q '"bull"' package.json || grep -q '"bullmq"' package.json; } && profiles="$profiles with-redis"
fi
echo "$profiles" | tr ' ' '\n' | sort -u | tr '\n' ' '
SH

idp="d=\$(IDPKIT_SANDBOX_HOME=$work/out/idp-{run} $idpkit -q --json sandbox clone $url --rev main --username $IDPKIT_RIG_GIT_USER --password-stdin --ca-file $IDPKIT_RIG_CA < $work/pw | jq -r .dir) && $idpkit sandbox plan \"\$d\" >/dev/null"
grep_detect="GIT_SSL_CAINFO=$IDPKIT_RIG_CA git -c credential.helper='$helper' clone -q --depth 1 --branch main $url $work/out/grep-{run} && sh $work/grep-detect.sh $work/out/grep-{run} >/dev/null"
clone_only="GIT_SSL_CAINFO=$IDPKIT_RIG_CA git -c credential.helper='$helper' clone -q --depth 1 --branch main $url $work/out/git-{run}"

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
echo "runs: $runs, cores: $(nproc), git $(git --version | cut -d' ' -f3)"
all=$(python3 "$repo/bench/alternate.py" "$runs" "$idp" "$grep_detect" "$clone_only")
i=$(field "$(sed -n 1p <<<"$all")" median_s)
g=$(field "$(sed -n 2p <<<"$all")" median_s)
c=$(field "$(sed -n 3p <<<"$all")" median_s)
python3 - "$i" "$g" "$c" <<'PY'
import sys
i, g, c = map(float, sys.argv[1:])
print(f"{'idpkit sandbox clone + plan':<36} {i * 1000:8.1f} ms")
print(f"{'git clone --depth 1 + grep detection':<36} {g * 1000:8.1f} ms   ratio idpkit/this {i / g:5.2f}x")
print(f"{'git clone --depth 1 alone':<36} {c * 1000:8.1f} ms   idpkit - this {(i - c) * 1000:+7.1f} ms")
print("goal: idpkit <= the clone alone + 50 ms:", "met" if i - c <= 0.050 else "NOT met")
PY
rm -rf "$work"
