// scatter.cu: reduce rows of src (N, C) into out (dim_size, C) bins named by index (N,).
//
// Python side: pointwm/ops/scatter.py. One work item per element of src (N * C), so the
// atomics spread over columns. Sum and the max/min values use atomics: the float sum is
// NOT deterministic (the order of additions varies run to run); max/min values and the arg
// index (smallest winning row, found in a second pass with an integer atomicMin) are.
// Index values are validated on the Python side before launch.
#include "common.cuh"

// out[index[r], c] += src[r, c]; out pre-zeroed.
template <typename T>
__device__ void scatter_sum_impl(const T* src, const long long* index, T* out, long long n,
                                 long long c) {
    PWM_GRID_STRIDE(i, n * c) {
        const long long r = i / c;
        const long long col = i - r * c;
        atomicAdd(out + index[r] * c + col, src[i]);
    }
}

// count[index[r]] += 1; count pre-zeroed (int64).
extern "C" __global__ void scatter_count_i64(const long long* index, long long* count, long long n) {
    PWM_GRID_STRIDE(i, n) {
        atomicAdd((unsigned long long*)(count + index[i]), 1ULL);
    }
}

// Pass 1 of max/min: out[index[r], c] = max/min over the bin; out pre-filled with -inf/+inf.
template <typename T, bool IS_MAX>
__device__ void scatter_best_impl(const T* src, const long long* index, T* out, long long n,
                                  long long c) {
    PWM_GRID_STRIDE(i, n * c) {
        const long long r = i / c;
        const long long col = i - r * c;
        if (IS_MAX) {
            pwm_atomic_max(out + index[r] * c + col, src[i]);
        } else {
            pwm_atomic_min(out + index[r] * c + col, src[i]);
        }
    }
}

// Pass 2 of max/min: arg[b, c] = smallest row r in bin b with src[r, c] == best[b, c];
// arg pre-filled with N (the value left in empty bins).
template <typename T>
__device__ void scatter_arg_impl(const T* src, const long long* index, const T* best,
                                 long long* arg, long long n, long long c) {
    PWM_GRID_STRIDE(i, n * c) {
        const long long r = i / c;
        const long long col = i - r * c;
        const long long o = index[r] * c + col;
        if (src[i] == best[o]) {
            atomicMin(arg + o, r);
        }
    }
}

#define PWM_SCATTER_KERNELS(T, SUFFIX)                                                        \
    extern "C" __global__ void scatter_sum_##SUFFIX(const T* src, const long long* index,   \
                                                    T* out, long long n, long long c) {     \
        scatter_sum_impl<T>(src, index, out, n, c);                                          \
    }                                                                                        \
    extern "C" __global__ void scatter_max_##SUFFIX(const T* src, const long long* index,   \
                                                    T* out, long long n, long long c) {     \
        scatter_best_impl<T, true>(src, index, out, n, c);                                   \
    }                                                                                        \
    extern "C" __global__ void scatter_min_##SUFFIX(const T* src, const long long* index,   \
                                                    T* out, long long n, long long c) {     \
        scatter_best_impl<T, false>(src, index, out, n, c);                                  \
    }                                                                                        \
    extern "C" __global__ void scatter_arg_##SUFFIX(const T* src, const long long* index,   \
                                                    const T* best, long long* arg,           \
                                                    long long n, long long c) {              \
        scatter_arg_impl<T>(src, index, best, arg, n, c);                                    \
    }

PWM_SCATTER_KERNELS(float, f32)
PWM_SCATTER_KERNELS(double, f64)
