#!/usr/bin/env bash
# Build the rig's Go peers (Gitea, kube-apiserver, sops) from the Go module
# proxy into a cache outside the work tree, keyed by pinned version.
# Idempotent: a cached binary is reused until its pin changes.
#   usage: scripts/build-peers.sh [gitea|kube-apiserver|sops ...]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tests/rig/pins.sh
. "$REPO/tests/rig/pins.sh"
CACHE=${IDPKIT_RIG_CACHE:-$HOME/.cache/idpkit-rig}
BIN=$CACHE/bin
BUILD=$CACHE/build
mkdir -p "$BIN" "$BUILD"

log() { printf '[build-peers] %s\n' "$*" >&2; }
have() { [[ -x "$BIN/$1" ]]; }
timed() { # name cmd...
  local t0=$SECONDS
  "${@:2}"
  log "$1 built in $((SECONDS - t0)) s"
  echo "$1 $((SECONDS - t0))" >>"$CACHE/build-times.log"
}

export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
LDS='-s -w'

# The Go module and build caches a peer build fills (about 7 GB for Gitea and kube-apiserver)
# are of no use once the binaries are cached above, and a CI machine's disk is shared with
# the Rust target directory: each run that builds something gets its own caches and removes
# them when it ends, whether it succeeded or not (docs/decisions/0021).
throwaway_go_caches() {
  GO_SCRATCH=$(mktemp -d "$BUILD/go-scratch.XXXXXX")
  export GOCACHE=$GO_SCRATCH/build GOMODCACHE=$GO_SCRATCH/mod
  trap 'go clean -modcache 2>/dev/null || true; rm -rf "$GO_SCRATCH"' EXIT
}

build_gitea() {
  local v=$RIG_GITEA_VERSION name=gitea-$RIG_GITEA_VERSION
  local out=$BIN/$name share=$CACHE/share/$name
  if have "$name" && [[ -d $share/templates && -d $share/options ]]; then return 0; fi
  log "building Gitea $v (cold: many minutes)"
  local w=$BUILD/$name
  mkdir -p "$w"
  local modfile
  modfile=$(cd "$w" && go mod download -json "code.gitea.io/gitea@$v" | jq -r .GoMod)
  local srcdir
  srcdir=$(cd "$w" && go mod download -json "code.gitea.io/gitea@$v" | jq -r .Dir)
  {
    echo "module idpkit.rig/gitea"
    echo
    grep -E '^go ' "$modfile"
    echo
    echo "require code.gitea.io/gitea $v"
    echo
    # repeat the upstream replace directives (single-line and block form)
    awk '/^replace \(/{b=1;next} b&&/^\)/{b=0;next} b{print "replace " $0; next} /^replace /{print}' "$modfile"
  } >"$w/go.mod"
  (cd "$w" && go mod download code.gitea.io/gitea &&
    CGO_ENABLED=1 go build -tags 'sqlite sqlite_unlock_notify' -trimpath \
      -ldflags "$LDS -X 'main.Version=${v#v}' -X 'main.Tags=sqlite sqlite_unlock_notify'" \
      -o "$out.tmp" code.gitea.io/gitea)
  # Without the bindata tag Gitea reads templates/ and options/ from its
  # custom/work path: keep a copy of the module's source dirs next to the binary.
  rm -rf "$share.tmp" && mkdir -p "$share.tmp"
  cp -r "$srcdir/templates" "$srcdir/options" "$share.tmp/"
  [[ -d $srcdir/public ]] && cp -r "$srcdir/public" "$share.tmp/"
  chmod -R u+w "$share.tmp"
  rm -rf "$share" && mv "$share.tmp" "$share"
  mv "$out.tmp" "$out"
}

build_kube() {
  local v=$RIG_KUBE_VERSION name=kube-apiserver-$RIG_KUBE_VERSION
  local out=$BIN/$name
  have "$name" && return 0
  log "building kube-apiserver $v (cold: many minutes)"
  local w=$BUILD/$name staging=v0.${v#v1.}
  mkdir -p "$w"
  local modfile
  modfile=$(cd "$w" && go mod download -json "k8s.io/kubernetes@$v" | jq -r .GoMod)
  {
    echo "module idpkit.rig/kube"
    echo
    grep -E '^(go|godebug) ' "$modfile"
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    # every staging module (./staging/src/k8s.io/X) -> published k8s.io/X v0.N.M
    awk -v sv="$staging" '$2=="=>" && $3 ~ /^\.\/staging\// {print "replace " $1 " => " $1 " " sv}' "$modfile"
  } >"$w/go.mod"
  local vx="k8s.io/component-base/version"
  (cd "$w" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "$LDS -X $vx.gitVersion=$v -X $vx.gitMajor=1 -X $vx.gitMinor=$(cut -d. -f2 <<<"$v") -X $vx.gitTreeState=clean" \
    -o "$out.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$out.tmp" "$out"
}

build_sops() {
  local v=$RIG_SOPS_VERSION name=sops-$RIG_SOPS_VERSION
  have "$name" && return 0
  log "building sops $v"
  local gobin=$BUILD/$name
  mkdir -p "$gobin"
  (cd "$BUILD" && GOFLAGS='' GOBIN=$gobin CGO_ENABLED=0 go install -trimpath -ldflags "$LDS" \
    "github.com/getsops/sops/v3/cmd/sops@$v")
  mv "$gobin/sops" "$BIN/$name"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(sops gitea kube-apiserver)
# cached TARGET: whether TARGET's binary (and Gitea's templates) are in the cache already.
cached() {
  case $1 in
    gitea) have "gitea-$RIG_GITEA_VERSION" && [[ -d $CACHE/share/gitea-$RIG_GITEA_VERSION/templates ]] ;;
    kube-apiserver) have "kube-apiserver-$RIG_KUBE_VERSION" ;;
    sops) have "sops-$RIG_SOPS_VERSION" ;;
    *) echo "build-peers: unknown target $1" >&2; exit 2 ;;
  esac
}
for t in "${targets[@]}"; do
  cached "$t" || { throwaway_go_caches; break; }
done
for t in "${targets[@]}"; do
  cached "$t" && continue
  case $t in
    gitea) timed "gitea-$RIG_GITEA_VERSION" build_gitea ;;
    kube-apiserver) timed "kube-apiserver-$RIG_KUBE_VERSION" build_kube ;;
    sops) timed "sops-$RIG_SOPS_VERSION" build_sops ;;
  esac
done
# stable names for tools that want them
ln -sfn "gitea-$RIG_GITEA_VERSION" "$BIN/gitea" 2>/dev/null || true
ln -sfn "kube-apiserver-$RIG_KUBE_VERSION" "$BIN/kube-apiserver" 2>/dev/null || true
ln -sfn "sops-$RIG_SOPS_VERSION" "$BIN/sops" 2>/dev/null || true
log "ok: $(ls "$BIN" | tr '\n' ' ')"
