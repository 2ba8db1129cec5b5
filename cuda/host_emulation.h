// host_emulation.h: compile the CUDA C kernels in this folder with a host C++ compiler.
//
// Included by common.cuh only when __CUDACC__ is not defined (g++/clang++). It turns
// the execution-space qualifiers into nothing, emulates blockIdx/threadIdx/blockDim/
// gridDim with globals that the harness sets before each sequential "thread" call
// (pwm_set_thread), and implements the atomics the kernels use as plain host operations:
// the harness runs one emulated thread at a time, so read-modify-write is trivially
// atomic. Kernels must therefore not rely on __syncthreads, shared memory or warp
// intrinsics (none here do): each must be a grid-stride loop over independent work items.
//
// Build (one shared library per .cu):
//   g++ -std=c++17 -O2 -shared -fPIC -Wall -Wextra -Werror -x c++ -Icuda cuda/scatter.cu -o scatter.so
#pragma once
#ifdef __CUDACC__
#error "host_emulation.h is for host compilers only"
#endif

#include <cstring>
#include <cmath>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct pwm_dim3 {
    unsigned int x, y, z;
};

static pwm_dim3 threadIdx = {0, 1, 1};
static pwm_dim3 blockIdx = {0, 1, 1};
static pwm_dim3 blockDim = {1, 1, 1};
static pwm_dim3 gridDim = {1, 1, 1};

// Set the emulated thread (block b of grid_size blocks, thread t of block_size threads).
extern "C" void pwm_set_thread(long long b, long long t, long long grid_size, long long block_size) {
    blockIdx.x = (unsigned int)b;
    threadIdx.x = (unsigned int)t;
    gridDim.x = (unsigned int)grid_size;
    blockDim.x = (unsigned int)block_size;
}

// Bit casts (device intrinsics).
static inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, sizeof f); return f; }
static inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, sizeof v); return v; }
static inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, sizeof d); return d; }
static inline long long __double_as_longlong(double d) { long long v; std::memcpy(&v, &d, sizeof v); return v; }

// Atomics: sequential execution makes these plain read-modify-writes returning the old value.
template <typename T>
static inline T atomicAdd(T* addr, T v) { T old = *addr; *addr = old + v; return old; }
template <typename T>
static inline T atomicMax(T* addr, T v) { T old = *addr; if (v > old) *addr = v; return old; }
template <typename T>
static inline T atomicMin(T* addr, T v) { T old = *addr; if (v < old) *addr = v; return old; }
template <typename T>
static inline T atomicCAS(T* addr, T compare, T v) { T old = *addr; if (old == compare) *addr = v; return old; }
