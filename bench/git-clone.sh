#!/usr/bin/env bash
# Git clone benchmark: idpkit's fetcher (git2 + idpkit's HTTPS transport, the example binary
# core/examples/git_clone.rs) against `git clone --depth 1` of the same URL, over the rig's
# git http-backend (HTTPS, basic auth) and its sshd. Two repositories: the rig's fixture
# (120 small commits) and a generated one (4,000 files, 88 MiB of text, a 30 MiB pack; made once, kept in
# the rig as bench-clone.git). The two tools take turns (bench/alternate.py), each run cloning
# into a fresh directory of its own, all removed at the end: removing the previous clone just
# before a run charges the next tool for the kernel's scan of freed inodes (see
# bench/source.sh). Prints medians and the ratio.
#
# Usage: bench/git-clone.sh   (RUNS=5; BENCH_WORK=~/.cache/idpkit-bench;
#        GIT_CLONE_BIN=path/to/git_clone to measure another build)
# Goal (issue 15): idpkit <= 1.2x git's time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
work=${BENCH_WORK:-$HOME/.cache/idpkit-bench}/git-clone
target=${CARGO_TARGET_DIR:-$repo/target}
bin=${GIT_CLONE_BIN:-$target/release/examples/git_clone}
# shellcheck source=/dev/null
. "$repo/tests/rig/lib.sh"
rig_require nginx fcgiwrap sshd
if [[ -z ${GIT_CLONE_BIN:-} ]]; then
  (cd "$repo" && cargo build --release --locked -p idpkit --example git_clone --quiet)
fi
mkdir -p "$work"

# The generated repository: made once (deterministic content and dates), pushed to the rig.
urls=$(rig_git_repo bench-clone)
big_https=$(sed -n 1p <<<"$urls")
big_ssh=$(sed -n 2p <<<"$urls")
big_dir=$IDPKIT_RIG_GIT_REPOS/bench-clone.git
if ! git --git-dir "$big_dir" rev-parse -q --verify main >/dev/null; then
  src=$(mktemp -d)
  python3 - "$src" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(15)
words = ["apiVersion", "kind", "metadata", "name", "spec", "replicas", "image", "port",
         "container", "service", "deployment", "value", "env", "label", "selector"]
for i in range(4000):
    d = os.path.join(root, f"dir{i % 40:02d}", f"sub{i % 7}")
    os.makedirs(d, exist_ok=True)
    lines = [" ".join(rng.choice(words) + str(rng.randrange(10**6)) for _ in range(12))
             for _ in range(rng.randrange(60, 200))]
    with open(os.path.join(d, f"file{i:05d}.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
PY
  export GIT_AUTHOR_DATE="1700000000 +0000" GIT_COMMITTER_DATE="1700000000 +0000"
  git -C "$src" init -q -b main
  git -C "$src" add -A
  git -C "$src" -c user.name=bench -c user.email=bench@idpkit.invalid commit -q -m "bench tree"
  git -C "$src" push -q "$big_dir" main:main
  rm -rf "$src"
fi

# git reads the password from this helper (from the environment), never from an argument.
export GIT_PASSWORD=$IDPKIT_RIG_GIT_PASSWORD
helper='!f() { echo username=$IDPKIT_RIG_GIT_USER; echo password=$GIT_PASSWORD; }; f'
export IDPKIT_RIG_GIT_USER
export GIT_SSH_KEY=$IDPKIT_RIG_SSH_KEY GIT_KNOWN_HOSTS=$IDPKIT_RIG_SSH_KNOWN_HOSTS
export GIT_SSH_COMMAND=$IDPKIT_RIG_GIT_SSH_COMMAND

pair() { python3 "$repo/bench/alternate.py" "$runs" "$1" "$2"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
idp_https() { echo "$bin '$1' $work/out/idp-$2-{run} --user $IDPKIT_RIG_GIT_USER --ca-file $IDPKIT_RIG_CA >/dev/null"; }
git_https() { echo "GIT_SSL_CAINFO=$IDPKIT_RIG_CA git -c credential.helper='$helper' clone -q --depth 1 '$1' $work/out/git-$2-{run}"; }
idp_ssh() { echo "$bin '$1' $work/out/idp-$2-{run} >/dev/null"; }
git_ssh() { echo "git clone -q --depth 1 '$1' $work/out/git-$2-{run}"; }

echo "runs: $runs, cores: $(nproc), git $(git --version | cut -d' ' -f3)"
printf '%-34s %10s %10s %8s\n' "" "idpkit" "git" "ratio"
row() {
  local name=$1 both idp git i g
  both=$(pair "$2" "$3")
  idp=$(sed -n 1p <<<"$both"); git=$(sed -n 2p <<<"$both")
  i=$(field "$idp" median_s); g=$(field "$git" median_s)
  python3 -c "import sys; i,g=float(sys.argv[2]),float(sys.argv[3]); print(f'{sys.argv[1]:<34} {i:9.3f}s {g:9.3f}s {i/g:7.2f}x')" "$name" "$i" "$g"
}
rm -rf "$work/out"
mkdir -p "$work/out"
row "fixture, HTTPS (median)" "$(idp_https "$IDPKIT_RIG_GIT_FIXTURE_HTTPS" fh)" "$(git_https "$IDPKIT_RIG_GIT_FIXTURE_HTTPS" fh)"
row "bench-clone 88 MiB, HTTPS" "$(idp_https "$big_https" bh)" "$(git_https "$big_https" bh)"
row "fixture, SSH (median)" "$(idp_ssh "$IDPKIT_RIG_GIT_FIXTURE_SSH" fs)" "$(git_ssh "$IDPKIT_RIG_GIT_FIXTURE_SSH" fs)"
row "bench-clone 88 MiB, SSH" "$(idp_ssh "$big_ssh" bs)" "$(git_ssh "$big_ssh" bs)"
echo "goal: idpkit <= 1.2x git clone --depth 1"
rm -rf "$work/out"
