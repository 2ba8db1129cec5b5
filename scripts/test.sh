#!/usr/bin/env bash
# The README's second command: set up (idempotent) and run the whole test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/capture -x`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
# The viewer test drives a real headless Chromium (Debian's package).
if ! command -v chromium >/dev/null 2>&1; then
    echo "[test] installing Debian's chromium for the viewer test" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >&2
fi
export MPLBACKEND=Agg
exec .venv/bin/python -m pytest "$@"
