"""Scatter-family ops behind every point reduction in pointwm.

Each op has a PyTorch reference (the CPU path and the test oracle), CUDA kernels in the
repository's ``cuda/`` folder (compiled with NVRTC through cupy at first use on a GPU,
checked once against the reference, launched on PyTorch's current stream), and the
public function here. ``POINTWM_OPS_REFERENCE=1`` forces the reference everywhere.

- ``scatter(src (N, C), index (N,), dim_size, reduce)``: sum | mean | max | min (+ arg).
- ``segment_reduce(src (N, C), indptr (S + 1,), reduce)``: the same over CSR segments.
- ``grid_coords``, ``voxel_unique``, ``voxel_pool``: points → voxels (batched).
- ``subm_rulebook``, ``subm_conv3d``, ``SubMConv3d``: submanifold sparse 3D convolution.
"""

from pointwm.ops.scatter import scatter
from pointwm.ops.segment import segment_reduce
from pointwm.ops.subm_conv import Rulebook, SubMConv3d, kernel_offsets, subm_conv3d, subm_rulebook
from pointwm.ops.voxel import VoxelGrid, grid_coords, voxel_pool, voxel_unique

__all__ = [
    "Rulebook",
    "SubMConv3d",
    "VoxelGrid",
    "grid_coords",
    "kernel_offsets",
    "scatter",
    "segment_reduce",
    "subm_conv3d",
    "subm_rulebook",
    "voxel_pool",
    "voxel_unique",
]
