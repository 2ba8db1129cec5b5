// subm_conv.cu: neighbour map of a submanifold sparse convolution over voxel keys.
//
// Python side: pointwm/ops/subm_conv.py. ukey (V,) holds the sorted, unique packed keys of
// the occupied voxels (pointwm.ops.voxel key layout, with one voxel of padding on every
// side so that key(coord + offset) == key(coord) + delta[offset]). For every voxel v and
// kernel offset k, nbr[v, k] is the index of the voxel at coord(v) + offset(k), or -1 if
// that voxel is empty: a binary search (lower bound) in ukey. Deterministic, no atomics.
// The gather -> per-offset matmul -> scatter-add that uses the map runs on cuBLAS through
// torch (a hand-written GEMM would not beat it).
#include "common.cuh"

extern "C" __global__ void subm_neighbor_map_i64(const long long* ukey, const long long* delta,
                                                 long long* nbr, long long v, long long k) {
    PWM_GRID_STRIDE(i, v * k) {
        const long long row = i / k;
        const long long target = ukey[row] + delta[i - row * k];
        long long lo = 0;
        long long hi = v;
        while (lo < hi) {
            const long long mid = lo + (hi - lo) / 2;
            if (ukey[mid] < target) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        nbr[i] = (lo < v && ukey[lo] == target) ? lo : -1;
    }
}
