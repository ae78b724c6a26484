#!/usr/bin/env bash
# The rig itself: every peer answers, only loopback listens, a stopped peer is named.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests/rig/check
bash tests/rig/test_rig.sh
