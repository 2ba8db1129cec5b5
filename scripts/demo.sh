#!/usr/bin/env bash
# The README's first command: set up (idempotent) and run the main job on the embedded default.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/pointwm demo "$@"
