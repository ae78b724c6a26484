# shellcheck shell=bash disable=SC2034
# Pinned versions of the peers built from the Go module proxy (sourced by
# scripts/build-peers.sh and tests/rig/*). Changing a pin triggers a rebuild.
RIG_GITEA_VERSION=v1.26.0  # v1.27.x declares module path gitea.dev (not on the proxy)
RIG_KUBE_VERSION=v1.33.13
RIG_SOPS_VERSION=v3.13.3
