#!/usr/bin/env bash
# Idempotent set-up shared by the README's commands: Debian packages the code needs,
# a virtual environment at .venv/ and the project installed into it (editable, with the
# dev extras). A second run checks a stamp and returns in well under a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Debian packages: libusb for Open3D/pyrealsense2, libgomp for Open3D's OpenMP, Mesa's
# EGL/GL for MuJoCo's headless renderer (MUJOCO_GL=egl).
apt_needed=()
for pkg in libusb-1.0-0 libgomp1 libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libgles2; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || apt_needed+=("$pkg")
done
if [ "${#apt_needed[@]}" -gt 0 ]; then
    echo "[setup] installing Debian packages: ${apt_needed[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_needed[@]}" >&2
fi

py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null 2>&1 || py=python3
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $($py --version)" >&2
    "$py" -m venv .venv
fi

# Reinstall only when the dependency or package declaration (pyproject.toml, setup.py) or the
# set of top-level packages changed
# (an editable install maps the packages it found at install time).
stamp=.venv/.pointwm-install-stamp
want="$( (cat pyproject.toml setup.py; ls -d -- */__init__.py 2>/dev/null) | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('pointwm') is None)" 2>/dev/null; then
    echo "[setup] installing pointwm and its dependencies into .venv (first run takes a few minutes)" >&2
    .venv/bin/python -m pip install -q --upgrade pip >&2
    # torch first and pinned exactly: a range would pull a multi-GB CUDA build.
    .venv/bin/python -m pip install -q "torch==2.13.0" >&2
    .venv/bin/python -m pip install -q -e ".[dev]" >&2
    echo "$want" > "$stamp"
fi
