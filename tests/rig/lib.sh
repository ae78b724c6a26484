# shellcheck shell=bash disable=SC2034
# idpkit test rig: shared definitions and helpers.
#
# Other test suites source this file and call `rig_require [peer...]`:
#   . tests/rig/lib.sh
#   rig_require gitea kube-apiserver     # or no argument: every peer
# It loads $IDPKIT_RIG_DIR/rig.env (IDPKIT_RIG_* variables) and fails loudly,
# naming the peer, when the rig file is missing or a peer is not up.
# This file sets no shell options of its own.

RIG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_REPO=$(cd "$RIG_LIB_DIR/../.." && pwd)
RIG_DIR=${IDPKIT_RIG_DIR:-$RIG_REPO/.rig}
RIG_CACHE=${IDPKIT_RIG_CACHE:-$HOME/.cache/idpkit-rig}
RIG_BIN=$RIG_CACHE/bin
RIG_RUN=$RIG_DIR/run
RIG_LOGS=$RIG_DIR/logs
# shellcheck source=pins.sh
. "$RIG_LIB_DIR/pins.sh"

# Fixed loopback ports (documented in docs/rig.md).
RIG_PORT_GITEA_HTTP=38400      # Gitea itself (plain HTTP, behind nginx)
RIG_PORT_SSH=38422             # sshd, git over SSH, key-only
RIG_PORT_GITEA_TLS=38443       # nginx TLS -> Gitea (gitea.cnoe.localtest.me)
RIG_PORT_TLS_EXPIRED=38444     # nginx, expired certificate
RIG_PORT_TLS_WRONGHOST=38445   # nginx, certificate for another host name
RIG_PORT_GIT_HTTPS=38446       # nginx TLS: git http-backend (/git/) + artifacts (/artifacts/)
RIG_PORT_REGISTRY_TLS=38450    # docker-registry, TLS + htpasswd
RIG_PORT_REGISTRY_PLAIN=38451  # docker-registry, plain HTTP, no auth
RIG_PORT_REGISTRY_MTLS=38452   # nginx TLS requiring a client certificate -> registry-plain
RIG_PORT_KUBE=38464            # kube-apiserver (TLS)
RIG_PORT_ETCD=38479            # etcd client
RIG_PORT_ETCD_PEER=38480       # etcd peer
RIG_GITEA_HOST=gitea.cnoe.localtest.me

# Peers in start order (fcgiwrap before nginx, etcd before kube-apiserver).
RIG_PEERS=(etcd kube-apiserver gitea registry-tls registry-plain fcgiwrap nginx sshd)

rig_peer_ports() { # peer -> ports it listens on
  case $1 in
    etcd) echo "$RIG_PORT_ETCD $RIG_PORT_ETCD_PEER" ;;
    kube-apiserver) echo "$RIG_PORT_KUBE" ;;
    gitea) echo "$RIG_PORT_GITEA_HTTP" ;;
    registry-tls) echo "$RIG_PORT_REGISTRY_TLS" ;;
    registry-plain) echo "$RIG_PORT_REGISTRY_PLAIN" ;;
    fcgiwrap) echo "" ;;
    nginx) echo "$RIG_PORT_GITEA_TLS $RIG_PORT_TLS_EXPIRED $RIG_PORT_TLS_WRONGHOST $RIG_PORT_GIT_HTTPS $RIG_PORT_REGISTRY_MTLS" ;;
    sshd) echo "$RIG_PORT_SSH" ;;
  esac
}

rig_peer_exe() { # peer -> substring expected in /proc/PID/exe (guards against PID reuse)
  case $1 in
    etcd) echo etcd ;;
    kube-apiserver) echo "kube-apiserver" ;;
    gitea) echo gitea ;;
    registry-*) echo docker-registry ;;
    fcgiwrap) echo fcgiwrap ;;
    nginx) echo nginx ;;
    sshd) echo sshd ;;
  esac
}

# true when PID is a live (non-zombie) process
rig_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $st != Z && $st != X ]]
}

rig_log() { printf '[rig] %s\n' "$*" >&2; }
rig_die() { printf '[rig] ERROR: %s\n' "$*" >&2; return 1; }

# PID of a running peer started by the rig, or nothing (exit 1).
rig_peer_pid() {
  local f=$RIG_RUN/$1.pid pid exe
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  rig_alive "$pid" || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  [[ $exe == *"$(rig_peer_exe "$1")"* ]] || return 1
  echo "$pid"
}

# Who listens on a loopback/any TCP port: prints "pid=N (cmd)" or nothing.
rig_port_owner() {
  local line
  line=$(ss -ltnpH "sport = :$1" 2>/dev/null | head -1) || true
  [[ -n $line ]] || return 1
  if [[ $line =~ pid=([0-9]+) ]]; then
    local p=${BASH_REMATCH[1]}
    echo "pid=$p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80))"
  else
    echo "unknown process: $line"
  fi
}

rig_tcp_open() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Health probe of one peer (needs rig.env loaded for credentials). Prints a
# reason and returns 1 when unhealthy.
rig_peer_health() {
  local peer=$1 pid p out
  if ! pid=$(rig_peer_pid "$peer"); then
    echo "$peer: not running (no live process from $RIG_RUN/$peer.pid)"
    return 1
  fi
  for p in $(rig_peer_ports "$peer"); do
    rig_tcp_open "$p" || { echo "$peer: pid $pid alive but port 127.0.0.1:$p not accepting"; return 1; }
  done
  case $peer in
    etcd)
      out=$(curl -fsS -m 5 "http://127.0.0.1:$RIG_PORT_ETCD/health" 2>&1) && [[ $out == *'"health":"true"'* ]] ||
        { echo "etcd: /health failed: $out"; return 1; } ;;
    kube-apiserver)
      out=$(curl -fsS -m 5 --cacert "$IDPKIT_RIG_CA" -H "Authorization: Bearer $IDPKIT_RIG_KUBE_TOKEN" \
        "$IDPKIT_RIG_KUBE_URL/readyz" 2>&1) && [[ $out == ok ]] ||
        { echo "kube-apiserver: /readyz failed: $out"; return 1; } ;;
    gitea)
      out=$(curl -fsS -m 5 "http://127.0.0.1:$RIG_PORT_GITEA_HTTP/api/healthz" 2>&1) ||
        { echo "gitea: /api/healthz failed: $out"; return 1; } ;;
    registry-tls)
      out=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' --cacert "$IDPKIT_RIG_CA" \
        -u "$IDPKIT_RIG_REGISTRY_USER:$IDPKIT_RIG_REGISTRY_PASSWORD" "https://$IDPKIT_RIG_REGISTRY_TLS/v2/" 2>&1) &&
        [[ $out == 200 ]] || { echo "registry-tls: GET /v2/ gave $out"; return 1; } ;;
    registry-plain)
      out=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://$IDPKIT_RIG_REGISTRY_PLAIN/v2/" 2>&1) &&
        [[ $out == 200 ]] || { echo "registry-plain: GET /v2/ gave $out"; return 1; } ;;
    fcgiwrap)
      [[ -S $RIG_RUN/fcgiwrap.sock ]] || { echo "fcgiwrap: socket $RIG_RUN/fcgiwrap.sock missing"; return 1; } ;;
    nginx)
      out=$(curl -fsS -m 5 --cacert "$IDPKIT_RIG_CA" "$IDPKIT_RIG_ARTIFACT_URL.sha256" 2>&1) ||
        { echo "nginx: artifact GET failed: $out"; return 1; } ;;
    sshd)
      out=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RIG_PORT_SSH; head -c 8 <&3" 2>&1) && [[ $out == SSH-2.0* ]] ||
        { echo "sshd: no SSH banner on 127.0.0.1:$RIG_PORT_SSH ($out)"; return 1; } ;;
  esac
  return 0
}

rig_load_env() {
  local f=$RIG_DIR/rig.env
  [[ -r $f ]] || { rig_die "rig: $f not found: start the rig with tests/rig/up"; return 1; }
  # shellcheck disable=SC1090
  . "$f"
}

# rig_require [peer...]: load rig.env and make sure the named peers (default:
# all) are healthy. Fails loudly naming the peer.
rig_require() {
  rig_load_env || return 1
  local peers=("$@") peer why bad=0
  [[ ${#peers[@]} -gt 0 ]] || peers=("${RIG_PEERS[@]}")
  for peer in "${peers[@]}"; do
    case $peer in
      etcd | kube-apiserver | gitea | registry-tls | registry-plain | fcgiwrap | nginx | sshd) ;;
      git-https) peer=nginx ;;
      *) rig_die "rig_require: unknown peer '$peer' (known: ${RIG_PEERS[*]})"; return 1 ;;
    esac
    if ! why=$(rig_peer_health "$peer"); then
      printf '[rig] REQUIRED PEER DOWN: %s\n' "$why" >&2
      bad=1
    fi
  done
  [[ $bad == 0 ]] || { rig_die "rig_require failed (start it with tests/rig/up)"; return 1; }
}

# rig_git_repo NAME: create (if missing) an empty bare repo NAME.git served over
# HTTPS and SSH like the fixtures, and print its HTTPS and SSH URLs (one a line).
# Use it for tests that push, so the shared fixtures stay untouched.
rig_git_repo() {
  rig_load_env || return 1
  local name=$1 dir=$IDPKIT_RIG_GIT_REPOS/$1.git
  [[ $name =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ ]] || { rig_die "rig_git_repo: bad name '$name'"; return 1; }
  if [[ ! -d $dir ]]; then
    git init -q --bare -b main "$dir" && git -C "$dir" config http.receivepack true || return 1
  fi
  echo "$IDPKIT_RIG_GIT_URL/$name.git"
  echo "ssh://root@127.0.0.1:$IDPKIT_RIG_SSH_PORT$dir"
}
