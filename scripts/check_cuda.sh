#!/usr/bin/env bash
# Compile every cuda/*.cu kernel source, failing on any error or warning:
#   * nvcc -cubin for sm_80 and sm_90 (-Werror all-warnings), when nvcc is on the PATH
#     (no GPU needed); set REQUIRE_NVCC=1 to fail instead of skipping when it is not;
#   * g++ with cuda/host_emulation.h (-Wall -Wextra -Werror), the CPU test build.
# Usage: scripts/check_cuda.sh   (from anywhere; outputs go to a temporary folder)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
shopt -s nullglob
sources=("$root"/cuda/*.cu)
[ "${#sources[@]}" -gt 0 ] || { echo "check_cuda: no .cu files in $root/cuda" >&2; exit 1; }

if command -v nvcc >/dev/null 2>&1; then
    for src in "${sources[@]}"; do
        for arch in sm_80 sm_90; do
            name="$(basename "$src" .cu)"
            log="$out/$name.$arch.log"
            if nvcc -cubin -arch="$arch" -Werror all-warnings -I"$root/cuda" "$src" \
                    -o "$out/$name.$arch.cubin" >"$log" 2>&1 && [ ! -s "$log" ]; then
                echo "check_cuda: nvcc $arch $name.cu ok"
            else
                echo "check_cuda: nvcc $arch $name.cu FAILED" >&2; cat "$log" >&2; status=1
            fi
        done
    done
elif [ "${REQUIRE_NVCC:-0}" = "1" ]; then
    echo "check_cuda: nvcc not found and REQUIRE_NVCC=1" >&2; exit 1
else
    echo "check_cuda: nvcc not found, skipping the CUDA compile (host build still checked)" >&2
fi

cxx="${CXX:-g++}"
for src in "${sources[@]}"; do
    name="$(basename "$src" .cu)"
    if "$cxx" -std=c++17 -O2 -shared -fPIC -Wall -Wextra -Werror -x c++ -I"$root/cuda" \
            "$src" -o "$out/$name.so" 2>"$out/$name.host.log"; then
        echo "check_cuda: $cxx host $name.cu ok"
    else
        echo "check_cuda: $cxx host $name.cu FAILED" >&2; cat "$out/$name.host.log" >&2; status=1
    fi
done
exit "$status"
