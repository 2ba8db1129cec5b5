// common.cuh: shared helpers for the pointwm kernels (compiled by NVRTC, nvcc or, through
// host_emulation.h, a host C++ compiler). No standard headers: NVRTC ships none.
//
// Conventions for every kernel in this folder:
//   * extern "C" __global__ entry points named <op>_<dtype> (dtype f32 | f64 | i64);
//   * integer arguments are `long long`, floating-point scalars `double`;
//   * all indices are int64, tensors are contiguous row-major;
//   * one grid-stride loop over independent work items (no shared memory, no
//     __syncthreads), which is what lets host_emulation.h run them sequentially.
#pragma once
#ifndef __CUDACC__
#include "host_emulation.h"
#endif

#define PWM_GRID_STRIDE(i, n)                                                      \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// Floating-point atomic max/min by compare-and-swap on the bit pattern. The comparison is
// done on the decoded value, so it is correct for negative numbers and +-0. NaN inputs give
// an unspecified (but finite-time) result.
__device__ __forceinline__ void pwm_atomic_max(float* addr, float v) {
    int* a = (int*)addr;
    int old = *a;
    int assumed;
    do {
        assumed = old;
        if (__int_as_float(assumed) >= v) return;
        old = atomicCAS(a, assumed, __float_as_int(v));
    } while (assumed != old);
}

__device__ __forceinline__ void pwm_atomic_min(float* addr, float v) {
    int* a = (int*)addr;
    int old = *a;
    int assumed;
    do {
        assumed = old;
        if (__int_as_float(assumed) <= v) return;
        old = atomicCAS(a, assumed, __float_as_int(v));
    } while (assumed != old);
}

__device__ __forceinline__ void pwm_atomic_max(double* addr, double v) {
    unsigned long long* a = (unsigned long long*)addr;
    unsigned long long old = *a;
    unsigned long long assumed;
    do {
        assumed = old;
        if (__longlong_as_double((long long)assumed) >= v) return;
        old = atomicCAS(a, assumed, (unsigned long long)__double_as_longlong(v));
    } while (assumed != old);
}

__device__ __forceinline__ void pwm_atomic_min(double* addr, double v) {
    unsigned long long* a = (unsigned long long*)addr;
    unsigned long long old = *a;
    unsigned long long assumed;
    do {
        assumed = old;
        if (__longlong_as_double((long long)assumed) <= v) return;
        old = atomicCAS(a, assumed, (unsigned long long)__double_as_longlong(v));
    } while (assumed != old);
}
