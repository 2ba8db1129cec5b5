"""PLY files for point clouds with extra per-point attributes (binary little-endian).

Vertices carry ``x y z`` (float32), optional ``nx ny nz`` (float32), optional
``red green blue`` (uchar) and any number of extra float32 scalar properties (for example
per-point flow ``flow_1_x ...``). Open3D, MeshLab and CloudCompare read these files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from pointwm.atomic import write_bytes
from pointwm.errors import InputError
from pointwm.geometry import PointCloud

__all__ = ["read_ply", "write_ply"]

_PLY_TYPES = {"float": "<f4", "float32": "<f4", "double": "<f8", "float64": "<f8",
              "uchar": "u1", "uint8": "u1", "char": "i1", "int8": "i1", "short": "<i2",
              "ushort": "<u2", "int": "<i4", "int32": "<i4", "uint": "<u4", "uint32": "<u4"}


def write_ply(path: str | os.PathLike, cloud: PointCloud, attributes: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``cloud`` (and per-point scalar ``attributes``, each (N,)) to a binary PLY.

    The file is written to a temporary name and renamed, so readers never see half a file.
    """
    path = Path(path)
    arrays = cloud.numpy()
    n = len(cloud)
    fields: list[tuple[str, str, np.ndarray]] = []
    for i, axis in enumerate("xyz"):
        fields.append((axis, "<f4", arrays["xyz"][:, i]))
    if "normals" in arrays:
        for i, axis in enumerate(("nx", "ny", "nz")):
            fields.append((axis, "<f4", arrays["normals"][:, i]))
    if "color" in arrays:
        rgb = np.clip(np.round(arrays["color"] * 255), 0, 255).astype(np.uint8)
        for i, name in enumerate(("red", "green", "blue")):
            fields.append((name, "u1", rgb[:, i]))
    for name, values in (attributes or {}).items():
        values = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)
        if values.shape != (n,):
            raise InputError(f"write_ply: attribute {name!r} must have shape ({n},), got {values.shape}")
        if not name.isidentifier():
            raise InputError(f"write_ply: attribute name {name!r} must be an identifier")
        fields.append((name, "<f4", values.astype(np.float32)))
    data = np.empty(n, dtype=[(name, dt) for name, dt, _ in fields])
    for name, _, values in fields:
        data[name] = values
    ply_type = {"<f4": "float", "u1": "uchar"}
    header = ["ply", "format binary_little_endian 1.0", "comment written by pointwm", f"element vertex {n}"]
    header += [f"property {ply_type[dt]} {name}" for name, dt, _ in fields]
    header.append("end_header")
    write_bytes(path, ("\n".join(header) + "\n").encode("ascii") + data.tobytes())
    return path


def read_ply(path: str | os.PathLike) -> tuple[PointCloud, dict[str, np.ndarray]]:
    """Read a binary little-endian or ASCII vertex PLY: (cloud, extra attributes)."""
    path = Path(path)
    raw = path.read_bytes()
    end = raw.find(b"end_header\n")
    if not raw.startswith(b"ply") or end < 0:
        raise InputError(f"{path}: not a PLY file (no 'ply' magic or 'end_header')")
    lines = raw[:end].decode("ascii", "replace").splitlines()
    fmt, n, props, in_vertex = None, 0, [], False
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "format":
            fmt = parts[1]
        elif parts[0] == "element":
            in_vertex = parts[1] == "vertex"
            if in_vertex:
                n = int(parts[2])
        elif parts[0] == "property" and in_vertex:
            if parts[1] == "list":
                raise InputError(f"{path}: list properties on vertices are not supported")
            if parts[1] not in _PLY_TYPES:
                raise InputError(f"{path}: unknown PLY property type {parts[1]!r}")
            props.append((parts[2], _PLY_TYPES[parts[1]]))
    body = raw[end + len(b"end_header\n"):]
    if fmt == "binary_little_endian":
        dtype = np.dtype(props)
        if len(body) < n * dtype.itemsize:
            raise InputError(f"{path}: truncated ({len(body)} bytes of vertex data, expected {n * dtype.itemsize})")
        data = np.frombuffer(body, dtype=dtype, count=n)
    elif fmt == "ascii":
        table = np.loadtxt(body.decode().splitlines()[:n], ndmin=2)
        data = np.empty(n, dtype=[(name, dt) for name, dt in props])
        for i, (name, _) in enumerate(props):
            data[name] = table[:, i]
    else:
        raise InputError(f"{path}: unsupported PLY format {fmt!r}")
    names = set(data.dtype.names or ())
    if not {"x", "y", "z"} <= names:
        raise InputError(f"{path}: vertices have no x, y, z properties")
    xyz = np.stack([data["x"], data["y"], data["z"]], 1).astype(np.float32)
    used = {"x", "y", "z"}
    normals = color = None
    if {"nx", "ny", "nz"} <= names:
        normals = np.stack([data["nx"], data["ny"], data["nz"]], 1).astype(np.float32)
        used |= {"nx", "ny", "nz"}
    if {"red", "green", "blue"} <= names:
        color = np.stack([data["red"], data["green"], data["blue"]], 1).astype(np.float32) / 255.0
        used |= {"red", "green", "blue"}
    extra = {k: np.asarray(data[k]) for k in data.dtype.names if k not in used}
    cloud = PointCloud(
        torch.from_numpy(xyz),
        None if color is None else torch.from_numpy(color),
        None if normals is None else torch.from_numpy(normals),
    )
    return cloud, extra
