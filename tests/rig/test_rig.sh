#!/usr/bin/env bash
# Tests of the rig itself. Starts the rig if needed (cold start builds peers).
# Closes with "N passed, N failed"; exit 1 on any failure.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

pass=0
fail=0
t_ok() { pass=$((pass + 1)); printf 'ok   %s\n' "$1"; }
t_fail() { fail=$((fail + 1)); printf 'FAIL %s\n' "$1"; [[ -z ${2:-} ]] || printf '%s\n' "$2" | tail -15 | sed 's/^/     | /'; }

"$HERE/up" >/dev/null 2>"$RIG_LOGS/test-up.log" || { cat "$RIG_LOGS/test-up.log"; t_fail "rig: up"; echo "$pass passed, $fail failed"; exit 1; }
rig_load_env

# 1. warm up is fast and idempotent
t0=$(date +%s%N)
if out=$("$HERE/up" 2>&1); then
  ms=$((($(date +%s%N) - t0) / 1000000))
  if ((ms < 30000)); then t_ok "warm up takes ${ms} ms (< 30 s)"; else t_fail "warm up took ${ms} ms (>= 30 s)"; fi
else
  t_fail "warm up failed" "$out"
fi

# 2. status and check pass
if out=$("$HERE/status" 2>&1); then t_ok "status: all peers up"; else t_fail "status reports a peer down" "$out"; fi
if out=$("$HERE/check" -q 2>&1); then t_ok "check: all smoke tests pass"; else t_fail "check failed" "$out"; fi

# 3. every socket a rig process listens on is loopback-only
rig_sids=()
for peer in "${RIG_PEERS[@]}"; do
  pid=$(rig_peer_pid "$peer") && rig_sids+=("$pid")
done
declare -A sid_of=()
while read -r p s; do sid_of[$p]=$s; done < <(ps -eo pid=,sid=)
ours=0 offenders=
while read -r line; do
  local_addr=$(awk '{print $4}' <<<"$line")
  [[ $line =~ pid=([0-9]+) ]] || continue
  owner=${BASH_REMATCH[1]}
  mine=0
  for s in "${rig_sids[@]}"; do [[ ${sid_of[$owner]:-} == "$s" ]] && mine=1; done
  port=${local_addr##*:}
  for peer in "${RIG_PEERS[@]}"; do
    for p in $(rig_peer_ports "$peer"); do [[ $p == "$port" ]] && mine=1; done
  done
  [[ $mine == 1 ]] || continue
  ours=$((ours + 1))
  [[ $local_addr == 127.0.0.1:* ]] || offenders+="$line"$'\n'
done < <(ss -ltnpH)
want=0
for peer in "${RIG_PEERS[@]}"; do for p in $(rig_peer_ports "$peer"); do want=$((want + 1)); done; done
if [[ -z $offenders && $ours -ge $want ]]; then
  t_ok "all $ours rig listening sockets are on 127.0.0.1"
else
  t_fail "rig sockets on non-loopback addresses (or fewer than $want found: $ours)" "$offenders"
fi
# rig ports on UDP/IPv6 wildcard? none expected
if ss -lunpH | grep -E "pid=($(IFS='|'; echo "${rig_sids[*]}"))," >/dev/null; then
  t_fail "a rig process listens on UDP" "$(ss -lunpH)"
else
  t_ok "no rig process listens on UDP"
fi

# 4. a stopped peer is detected by status, check and rig_require, naming it
victim=registry-plain
"$HERE/down" "$victim" 2>/dev/null
if out=$("$HERE/status" 2>&1); then
  t_fail "status exit 0 with $victim stopped" "$out"
elif grep -q "^$victim .*DOWN" <<<"$out"; then
  t_ok "status names the stopped peer ($victim)"
else
  t_fail "status output does not name $victim" "$out"
fi
if out=$("$HERE/check" -q 2>&1); then
  t_fail "check exit 0 with $victim stopped" "$out"
elif grep -q "^FAIL $victim:" <<<"$out"; then
  t_ok "check names the stopped peer ($victim)"
else
  t_fail "check output does not name $victim" "$out"
fi
if out=$(bash -c ". '$HERE/lib.sh' && rig_require gitea $victim" 2>&1); then
  t_fail "rig_require succeeded with $victim stopped" "$out"
elif grep -q "$victim" <<<"$out"; then
  t_ok "rig_require names the stopped peer ($victim)"
else
  t_fail "rig_require message does not name $victim" "$out"
fi

# 5. a port taken by a foreign process makes up fail clearly, naming port and peer
python3 -m http.server --bind 127.0.0.1 "$RIG_PORT_REGISTRY_PLAIN" >/dev/null 2>&1 &
squatter=$!
for _ in $(seq 50); do rig_tcp_open "$RIG_PORT_REGISTRY_PLAIN" && break; sleep 0.1; done
if out=$("$HERE/up" 2>&1); then
  t_fail "up succeeded although port $RIG_PORT_REGISTRY_PLAIN is taken" "$out"
elif grep -q "port $RIG_PORT_REGISTRY_PLAIN needed by $victim is taken" <<<"$out"; then
  t_ok "up refuses a taken port, naming port and peer"
else
  t_fail "up failed without a clear port message" "$out"
fi
kill "$squatter" 2>/dev/null || true
wait "$squatter" 2>/dev/null || true

# 6. up brings the stopped peer back
if out=$("$HERE/up" 2>&1) && "$HERE/status" "$victim" >/dev/null 2>&1; then
  t_ok "up restarts the stopped peer ($victim)"
else
  t_fail "up did not restart $victim" "$out"
fi

# 7. rig_require without a rig file fails loudly
if out=$(IDPKIT_RIG_DIR=/nonexistent/rig bash -c ". '$HERE/lib.sh' && rig_require" 2>&1); then
  t_fail "rig_require succeeded without rig.env" "$out"
elif grep -q "rig.env not found" <<<"$out"; then
  t_ok "rig_require fails loudly without rig.env"
else
  t_fail "rig_require message unclear without rig.env" "$out"
fi

# 8. rig.json and rig.env agree and carry the main endpoints
if jq -e --arg u "$IDPKIT_RIG_GITEA_URL" --arg k "$IDPKIT_RIG_KUBECONFIG" \
  '.gitea.url == $u and .kube.kubeconfig == $k and (.gitea.token|length) > 0 and .git.ssh_port > 0' \
  "$RIG_DIR/rig.json" >/dev/null; then
  t_ok "rig.json matches rig.env"
else
  t_fail "rig.json does not match rig.env"
fi

# 9. Gitea serves idpbuilder's shape: the self-signed CA certificate of both idpbuilder-cert
#    Secrets as its leaf, which git (GnuTLS) and curl trust as themselves
served=$(openssl s_client -connect "127.0.0.1:$RIG_PORT_GITEA_TLS" -servername "$RIG_GITEA_HOST" </dev/null 2>/dev/null |
  openssl x509 -outform PEM 2>/dev/null || true)
secret_of() { # namespace key
  printf 'header = "Authorization: Bearer %s"\n' "$IDPKIT_RIG_KUBE_TOKEN" |
    curl -fsS -m 10 -K - --cacert "$IDPKIT_RIG_CA" "$IDPKIT_RIG_KUBE_URL/api/v1/namespaces/$1/secrets/idpbuilder-cert" |
    jq -r --arg k "$2" '.data[$k]' | base64 -d
}
want=$(openssl x509 -in "$IDPKIT_RIG_GITEA_CA" -outform PEM)
if [[ -n $served && $served == "$want" && $(secret_of default ca.crt) == "$(<"$IDPKIT_RIG_GITEA_CA")" &&
  $(secret_of ingress-nginx tls.crt) == "$(<"$IDPKIT_RIG_GITEA_CA")" ]] &&
  openssl x509 -in "$IDPKIT_RIG_GITEA_CA" -noout -text | grep -q 'CA:TRUE' &&
  [[ $(openssl x509 -in "$IDPKIT_RIG_GITEA_CA" -noout -subject -issuer | sed 's/^[a-z]*=//' | sort -u | wc -l) == 1 ]]; then
  t_ok "Gitea serves the self-signed CA certificate of both idpbuilder-cert Secrets as its leaf"
else
  t_fail "Gitea's certificate is not idpbuilder's shape or not the Secrets' bytes"
fi
if out=$(GIT_SSL_CAINFO=$IDPKIT_RIG_GITEA_CA GIT_TERMINAL_PROMPT=0 git ls-remote "$IDPKIT_RIG_GITEA_GIT_URL" 2>&1) &&
  grep -q refs/heads/main <<<"$out"; then
  t_ok "git ls-remote to Gitea over HTTPS trusting that certificate"
else
  t_fail "git ls-remote to Gitea failed" "$out"
fi

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
