// voxel.cu: point coordinates -> integer voxel coordinates -> packed (batch, x, y, z) keys.
//
// Python side: pointwm/ops/voxel.py. The unique/sort step between voxel_key and
// voxel_unpack is torch.unique (CUB radix sort on the GPU). Key layout, most significant
// first: batch | x - lo_x | y - lo_y | z - lo_z with per-field widths chosen on the Python
// side (shift_* arguments) so that the key fits in 63 bits and sorts by (batch, x, y, z).
// All kernels are elementwise and deterministic.
#include "common.cuh"

// out[i] = floor((xyz[i] - origin[i % 3]) / voxel_size) for the N * 3 coordinates.
// Division (not multiplication by the reciprocal) to match the reference bit for bit.
extern "C" __global__ void grid_coords_f32(const float* xyz, const float* origin,
                                           double voxel_size, long long* out, long long n) {
    const float vs = (float)voxel_size;
    PWM_GRID_STRIDE(i, n * 3) {
        out[i] = (long long)floorf((xyz[i] - origin[i % 3]) / vs);
    }
}

extern "C" __global__ void grid_coords_f64(const double* xyz, const double* origin,
                                           double voxel_size, long long* out, long long n) {
    PWM_GRID_STRIDE(i, n * 3) {
        out[i] = (long long)floor((xyz[i] - origin[i % 3]) / voxel_size);
    }
}

// key[i] = batch[i] << shift_b | (x - lo[0]) << shift_x | (y - lo[1]) << shift_y | (z - lo[2]).
extern "C" __global__ void voxel_key_i64(const long long* coord, const long long* batch,
                                         const long long* lo, long long* key, long long n,
                                         long long shift_b, long long shift_x, long long shift_y) {
    PWM_GRID_STRIDE(i, n) {
        key[i] = (batch[i] << shift_b) | ((coord[3 * i] - lo[0]) << shift_x) |
                 ((coord[3 * i + 1] - lo[1]) << shift_y) | (coord[3 * i + 2] - lo[2]);
    }
}

// Inverse of voxel_key_i64 for V keys: coord (V, 3) and batch (V,).
extern "C" __global__ void voxel_unpack_i64(const long long* key, const long long* lo,
                                            long long* coord, long long* batch, long long v,
                                            long long shift_b, long long shift_x,
                                            long long shift_y) {
    const long long mask_x = (1LL << (shift_b - shift_x)) - 1;
    const long long mask_y = (1LL << (shift_x - shift_y)) - 1;
    const long long mask_z = (1LL << shift_y) - 1;
    PWM_GRID_STRIDE(i, v) {
        const long long k = key[i];
        batch[i] = k >> shift_b;
        coord[3 * i] = ((k >> shift_x) & mask_x) + lo[0];
        coord[3 * i + 1] = ((k >> shift_y) & mask_y) + lo[1];
        coord[3 * i + 2] = (k & mask_z) + lo[2];
    }
}
