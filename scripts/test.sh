#!/usr/bin/env bash
# The README's second command: set up (idempotent) and run the whole test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/capture -x`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
export MPLBACKEND=Agg
exec .venv/bin/python -m pytest "$@"
