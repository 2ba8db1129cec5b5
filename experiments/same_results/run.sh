#!/usr/bin/env bash
# Fixed-seed eval-plan and generate runs with the code of a source tree, to check that a
# refactor changes no result (README of this folder):
#   bash experiments/same_results/run.sh SRC_ROOT OUT_DIR
# SRC_ROOT: a checkout of the code to run (e.g. `git worktree add /tmp/before REV`); the
# dependencies come from this checkout's .venv (or $PYTHON). About 3.5 min on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
src="$(cd "$1" && pwd)"; out=$2
py="${PYTHON:-$repo/.venv/bin/python}"
ck="$repo/assets/checkpoints/tiny_sim.safetensors"
mkdir -p "$out"
cd "$out"
export PYTHONPATH=$src MUJOCO_GL=egl
run() { "$py" -m pointwm.cli -q "$@"; }
# eval-plan: seeds 0-2, four planners, no move; seeds 3-4 with the move (round and over);
# seeds 10-11 started beside the object with the move round it
run eval-plan --checkpoint "$ck" --tasks 3 --first-seed 0 --config closed_loop_progress --out ep_plain --no-progress --max-replans 4 > /dev/null
run eval-plan --checkpoint "$ck" --tasks 2 --first-seed 3 --config closed_loop_progress --reposition --reposition-over --out ep_move --no-progress > /dev/null
run eval-plan --checkpoint "$ck" --tasks 2 --first-seed 10 --start-angle 90 --reposition --out ep_side --no-progress --planners mppi_model,mppi_zero --max-replans 5 > /dev/null
# generate: default clips; a probe/retreat/off-centre mix with prisms and rocks; task-state
# clips; a task episode; task states driven by a checkpoint
run generate gen_default --clips 4 --seed 3 --workers 1 --clips-per-shard 2 --no-progress
run generate gen_mix --clips 4 --seed 4 --workers 1 --probe-prob 0.5 --retreat-prob 0.5 --push-offset 0.03 --shapes box,cylinder,prism,rock --no-progress
run generate gen_task --clips 2 --seed 5 --workers 1 --task-prob 1 --no-progress
run generate gen_episode --clips 2 --seed 6 --workers 1 --task-prob 1 --task-episode 2 --no-progress
run generate gen_driver --clips 1 --seed 7 --workers 1 --task-prob 1 --task-driver "$ck" --no-progress
echo finished
