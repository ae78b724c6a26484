#!/usr/bin/env bash
# Install the Debian packages the rig and the test suites need.
# Idempotent and a fast no-op when everything is present (dpkg-query first;
# apt-get update only when something is missing).
set -euo pipefail

# docker-compose: `docker-compose config` validates the generated sandbox compose files.
# postgresql, redis-server, mariadb-server-core + mariadb-client-core: the servers `sandbox up`
# supervises (tests start them for real); policy-rc.d below keeps their packages from
# starting system instances.
# libssl-dev: the OpenSSL libssh2 (git over SSH, core's git2) links statically
# (.cargo/config.toml); perl + make: building it from source instead (OPENSSL_NO_VENDOR=0).
PKGS=(skopeo umoci docker-registry nginx etcd-server age openssh-server
  apache2-utils fcgiwrap hyperfine pkg-config jq git openssl curl valgrind nix-bin
  libssl-dev perl make docker-compose postgresql redis-server mariadb-server-core mariadb-client-core)

missing=()
declare -A st=()
while read -r name abbrev; do st[${name%%:*}]=$abbrev; done < <(
  dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PKGS[@]}" 2>/dev/null || true)
for p in "${PKGS[@]}"; do
  [[ ${st[$p]:-} == ii* ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
echo "[setup-system] installing: ${missing[*]}" >&2
SUDO=
[[ $(id -u) -eq 0 ]] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d: do not let the packages start their own system daemons
# (nginx, docker-registry, etcd, ssh) on the default ports.
prc=/usr/sbin/policy-rc.d
added_prc=0
if [[ ! -e $prc ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee $prc >/dev/null && $SUDO chmod +x $prc && added_prc=1
fi
trap 'if [[ $added_prc == 1 ]]; then $SUDO rm -f $prc; fi' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
