// segment_reduce.cu: reduce rows of src (N, C) over sorted CSR segments indptr (S + 1,).
//
// Python side: pointwm/ops/segment.py. One work item per (segment, column): a thread walks
// its segment's rows in order, so every reduction here is deterministic (no atomics) and
// max/min pick the smallest row on ties. Empty segments give 0 and arg N.
// REDUCE: 0 sum, 1 mean, 2 max, 3 min. indptr is validated on the Python side.
#include "common.cuh"

template <typename T>
__device__ void segment_reduce_impl(const T* src, const long long* indptr, T* out,
                                    long long* arg, long long n, long long s, long long c,
                                    long long reduce) {
    PWM_GRID_STRIDE(i, s * c) {
        const long long seg = i / c;
        const long long col = i - seg * c;
        const long long lo = indptr[seg];
        const long long hi = indptr[seg + 1];
        if (reduce <= 1) {
            T acc = (T)0;
            for (long long r = lo; r < hi; ++r) acc += src[r * c + col];
            if (reduce == 1 && hi > lo) acc = acc / (T)(hi - lo);
            out[i] = acc;
        } else {
            long long best_r = n;
            T best = (T)0;
            for (long long r = lo; r < hi; ++r) {
                const T v = src[r * c + col];
                const bool better = (reduce == 2) ? (v > best) : (v < best);
                if (best_r == n || better) {
                    best = v;
                    best_r = r;
                }
            }
            out[i] = best;
            arg[i] = best_r;
        }
    }
}

extern "C" __global__ void segment_reduce_f32(const float* src, const long long* indptr,
                                              float* out, long long* arg, long long n,
                                              long long s, long long c, long long reduce) {
    segment_reduce_impl<float>(src, indptr, out, arg, n, s, c, reduce);
}

extern "C" __global__ void segment_reduce_f64(const double* src, const long long* indptr,
                                              double* out, long long* arg, long long n,
                                              long long s, long long c, long long reduce) {
    segment_reduce_impl<double>(src, indptr, out, arg, n, s, c, reduce);
}
