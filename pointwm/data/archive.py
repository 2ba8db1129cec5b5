"""Sharded clip archives: WebDataset-style tar shards plus a JSON manifest.

Layout (``docs/archive.md`` is the full specification)::

    ARCHIVE/
      manifest.json          format, schema version, shards with clip counts and sha256
      shard-000000.tar       clips; each clip's fields are members "<key>.<field>.<ext>"
      shard-000001.tar
      ...

Writing is atomic (a shard goes to a temporary file, is fsynced and renamed; the manifest
is rewritten the same way after every finished shard), so an interrupted writer leaves only
complete shards and ``ArchiveWriter.completed`` tells a resumed writer which to skip.
Reading streams whole shards sequentially. Each shard's sha256 is checked (lazily, when the
shard is reached) against the manifest before any clip is used; a shard that is missing,
truncated or corrupt is logged and skipped, never fatal and never silently used.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pointwm import __version__
from pointwm.atomic import write_bytes
from pointwm.data.clip import CameraView, Clip, ClipError
from pointwm.errors import InputError, PointwmError

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "ArchiveError",
    "ArchiveWriter",
    "Manifest",
    "ShardError",
    "ShardInfo",
    "decode_clip",
    "encode_clip",
    "iter_shard",
    "read_manifest",
    "shard_name",
    "write_archive",
]

log = logging.getLogger(__name__)

FORMAT = "pointwm-archive"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
DEPTH_SCALE = 1000.0  # depth members are uint16 millimetres
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# Per-clip members (besides meta.json): name -> (dtype, required)
_CLIP_ARRAYS = {
    "points": (np.float32, True),
    "colors": (np.uint8, True),
    "normals": (np.float32, True),
    "valid": (np.bool_, True),
    "visible": (np.bool_, True),
    "point_camera": (np.int16, True),
    "q": (np.float32, True),
    "gripper": (np.float32, True),
    "segment": (np.int16, False),
}
_CAMERA_ARRAYS = {"depth": np.uint16, "K": np.float64, "T_world_cam": np.float64, "seg": np.int32}


class ArchiveError(PointwmError, ValueError):
    """An archive that cannot be used at all (no manifest, wrong format or schema)."""


class ShardError(PointwmError, ValueError):
    """A shard that is missing, truncated, corrupt or does not match the manifest."""


def shard_name(index: int) -> str:
    """File name of shard ``index``: ``shard-000042.tar``."""
    return f"shard-{index:06d}.tar"


# --------------------------------------------------------------------------- manifest
@dataclass(frozen=True)
class ShardInfo:
    """One manifest entry: file name, index, clip count, size in bytes and sha256 (hex).

    span: how many source items (e.g. generator clip indices) the shard covers; it can
    exceed ``clips`` when some failed. 0 = not recorded.
    """

    name: str
    index: int
    clips: int
    bytes: int
    sha256: str
    span: int = 0


@dataclass(frozen=True)
class Manifest:
    """The parsed ``manifest.json`` of an archive rooted at ``root``."""

    root: Path
    schema: int
    shards: tuple[ShardInfo, ...]
    config: Mapping = field(default_factory=dict)
    created_by: str = ""

    @property
    def num_clips(self) -> int:
        return sum(s.clips for s in self.shards)

    def path(self, shard: ShardInfo) -> Path:
        return self.root / shard.name

    @property
    def content_sha256(self) -> str:
        """sha256 (hex) over the shard checksums in index order: one id for the archive's clips."""
        h = hashlib.sha256()
        for s in sorted(self.shards, key=lambda s: s.index):
            h.update(s.sha256.encode())
        return h.hexdigest()

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "schema": self.schema,
            "created_by": self.created_by,
            "num_clips": self.num_clips,
            "config": dict(self.config),
            "shards": [vars(s) for s in sorted(self.shards, key=lambda s: s.index)],
        }


def read_manifest(root: str | os.PathLike) -> Manifest:
    """Read and validate ``root/manifest.json``; ``ArchiveError`` names what is wrong."""
    root = Path(root)
    path = root / MANIFEST
    if not root.is_dir():
        raise ArchiveError(f"archive {str(root)!r}: not a directory")
    if not path.is_file():
        raise ArchiveError(f"archive {str(root)!r}: no {MANIFEST} (not a pointwm archive?)")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ArchiveError(f"{path}: unreadable manifest: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ArchiveError(f"{path}: format is {data.get('format') if isinstance(data, dict) else None!r}, expected {FORMAT!r}")
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        raise ArchiveError(f"{path}: schema version {schema!r} is not supported (this pointwm reads {SCHEMA_VERSION})")
    shards = []
    for i, s in enumerate(data.get("shards", [])):
        try:
            info = ShardInfo(str(s["name"]), int(s["index"]), int(s["clips"]), int(s["bytes"]),
                             str(s["sha256"]), int(s.get("span", 0)))
        except (KeyError, TypeError, ValueError) as e:
            raise ArchiveError(f"{path}: shard entry {i} is malformed ({e!r}); expected name, index, clips, bytes, sha256") from None
        if "/" in info.name or info.name.startswith("."):
            raise ArchiveError(f"{path}: shard entry {i} has an unsafe name {info.name!r}")
        shards.append(info)
    return Manifest(root, schema, tuple(sorted(shards, key=lambda s: s.index)),
                    data.get("config") or {}, str(data.get("created_by", "")))


# --------------------------------------------------------------------------- encoding
def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode_clip(clip: Clip) -> dict[str, bytes]:
    """A clip as tar members ``{"<field>.<ext>": bytes}`` (without the key prefix).

    Raises ``ClipError`` when the clip is malformed (checked first).
    """
    clip.check()
    if not _KEY_RE.match(clip.key):
        raise ClipError(f"clip {clip.key!r}: key must use only letters, digits, '_' and '-'")
    meta = {
        "schema": SCHEMA_VERSION,
        "key": clip.key,
        "robot": clip.robot,
        "joint_names": list(clip.joint_names),
        "dt": float(clip.dt),
        "num_steps": clip.num_steps,
        "num_points": clip.num_points,
        "cameras": [c.name for c in clip.cameras],
        "provenance": dict(clip.provenance),
    }
    out = {"meta.json": json.dumps(meta, sort_keys=True).encode()}
    for name, (dtype, _) in _CLIP_ARRAYS.items():
        arr = getattr(clip, name)
        if arr is not None:
            out[f"{name}.npy"] = _npy(np.asarray(arr).astype(dtype, copy=False))
    for i, cam in enumerate(clip.cameras):
        p = f"cam{i}_"
        if cam.jpeg is not None:  # keep a source JPEG byte-exact (PointWorld H5)
            out[p + "rgb.jpg"] = cam.jpeg
        else:
            out[p + "rgb.png"] = _png(cam.rgb)
        depth_mm = np.clip(np.nan_to_num(cam.depth, nan=0.0, posinf=0.0) * DEPTH_SCALE + 0.5, 0, 65535)
        out[p + "depth.npy"] = _npy(depth_mm.astype(np.uint16))
        out[p + "K.npy"] = _npy(cam.K.astype(np.float64))
        out[p + "T_world_cam.npy"] = _npy(cam.T_world_cam.astype(np.float64))
        if cam.segmentation is not None:
            out[p + "seg.npy"] = _npy(cam.segmentation.astype(np.int32))
    return out


def _load_npy(data: bytes, where: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ClipError(f"{where}: not a readable .npy array ({e})") from None


def _load_image(data: bytes, where: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ClipError(f"{where}: not a readable image ({e})") from None


def decode_clip(key: str, members: Mapping[str, bytes], source: str = "") -> Clip:
    """The inverse of ``encode_clip``: tar members (without key prefix) -> checked Clip.

    Raises ``ClipError`` naming the clip (and ``source``, e.g. the shard) for a missing
    field, a wrong dtype, shapes that disagree or an unsupported schema.
    """
    where = f"clip {key!r}" + (f" in {source}" if source else "")
    if "meta.json" not in members:
        raise ClipError(f"{where}: missing field 'meta.json'")
    try:
        meta = json.loads(members["meta.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ClipError(f"{where}: meta.json is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ClipError(f"{where}: meta.json must be an object")
    if meta.get("schema") != SCHEMA_VERSION:
        raise ClipError(f"{where}: schema version {meta.get('schema')!r} is not supported (expected {SCHEMA_VERSION})")
    for k in ("robot", "joint_names", "dt", "cameras"):
        if k not in meta:
            raise ClipError(f"{where}: meta.json lacks {k!r}")
    arrays = {}
    for name, (dtype, required) in _CLIP_ARRAYS.items():
        m = f"{name}.npy"
        if m not in members:
            if required:
                raise ClipError(f"{where}: missing field {m!r}")
            arrays[name] = None
            continue
        arr = _load_npy(members[m], f"{where}: {m}")
        if arr.dtype != dtype:
            raise ClipError(f"{where}: {m} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
        arrays[name] = arr
    cams = []
    for i, cam_name in enumerate(meta["cameras"]):
        p = f"cam{i}_"
        rgb_member = next((p + f"rgb.{e}" for e in ("png", "jpg") if p + f"rgb.{e}" in members), None)
        if rgb_member is None:
            raise ClipError(f"{where}: missing field {p + 'rgb.png'!r} (or .jpg) of camera {cam_name!r}")
        rgb = _load_image(members[rgb_member], f"{where}: {rgb_member}")
        cam_arrays = {}
        for name, dtype in _CAMERA_ARRAYS.items():
            m = p + f"{name}.npy"
            if m not in members:
                if name == "seg":
                    cam_arrays[name] = None
                    continue
                raise ClipError(f"{where}: missing field {m!r}")
            arr = _load_npy(members[m], f"{where}: {m}")
            if arr.dtype != dtype:
                raise ClipError(f"{where}: {m} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
            cam_arrays[name] = arr
        cams.append(CameraView(
            str(cam_name), rgb, cam_arrays["depth"].astype(np.float32) / DEPTH_SCALE,
            cam_arrays["K"], cam_arrays["T_world_cam"], cam_arrays["seg"],
            jpeg=members[rgb_member] if rgb_member.endswith(".jpg") else None,
        ))
    clip = Clip(
        key=key, robot=str(meta["robot"]), joint_names=tuple(meta["joint_names"]),
        cameras=tuple(cams), dt=float(meta["dt"]), provenance=meta.get("provenance") or {},
        **arrays,
    )
    try:
        return clip.check()
    except ClipError as e:
        raise ClipError(f"{e}" + (f" (in {source})" if source else "")) from None


# --------------------------------------------------------------------------- writing
def _tar_bytes(clips: Sequence[Clip]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for clip in clips:
            for member, data in encode_clip(clip).items():
                info = tarfile.TarInfo(f"{clip.key}.{member}")
                info.size = len(data)
                info.mtime = 0  # byte-identical shards for identical clips
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class ArchiveWriter:
    """Writes shards into ``root`` and keeps its manifest; resumable.

    config: JSON-able description of what the archive holds (e.g. the generator config);
    when the archive already exists with a different config, ``ArchiveError`` is raised so
    a resumed run never mixes data of two configurations.
    """

    def __init__(self, root: str | os.PathLike, config: Mapping | None = None, created_by: str = "") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.config = json.loads(json.dumps(dict(config or {})))  # normalise (tuples -> lists)
        self.created_by = created_by or f"pointwm {__version__}"
        if (self.root / MANIFEST).exists():
            m = read_manifest(self.root)
            if m.config != self.config:
                diff = _config_diff(dict(m.config), self.config)
                raise ArchiveError(
                    f"archive {str(self.root)!r} was written with another config ({diff}); "
                    "use a new directory or the same options"
                )
            self._shards = {s.index: s for s in m.shards}
        else:
            self._shards = {}
            self._write_manifest()

    def completed(self) -> set[int]:
        """Indices of shards that are listed in the manifest and present with the right size."""
        done = set()
        for i, s in self._shards.items():
            p = self.root / s.name
            if p.is_file() and p.stat().st_size == s.bytes:
                done.add(i)
        return done

    def write_shard(self, index: int, clips: Sequence[Clip], span: int | None = None) -> ShardInfo:
        """Write ``clips`` as shard ``index`` (atomically) and record it in the manifest.

        span: source items the shard covers (default: the number of clips).
        """
        if not clips:
            raise InputError(f"shard {index}: expected at least one clip")
        data = _tar_bytes(clips)
        info = ShardInfo(shard_name(index), int(index), len(clips), len(data),
                         hashlib.sha256(data).hexdigest(), int(span if span is not None else len(clips)))
        write_bytes(self.root / info.name, data)
        self._shards[index] = info
        self._write_manifest()
        log.debug("wrote %s: %d clips, %d bytes", info.name, info.clips, info.bytes)
        return info

    def manifest(self) -> Manifest:
        return Manifest(self.root, SCHEMA_VERSION, tuple(sorted(self._shards.values(), key=lambda s: s.index)),
                        self.config, self.created_by)

    def _write_manifest(self) -> None:
        data = self.manifest().to_json()
        data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        write_bytes(self.root / MANIFEST, (json.dumps(data, indent=1) + "\n").encode())


def _config_diff(old: Mapping, new: Mapping, prefix: str = "") -> str:
    """'key: old -> new' for the keys whose values differ (nested dicts flattened)."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            sub = _config_diff(a, b, f"{prefix}{k}.")
            if sub:
                out.append(sub)
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return ", ".join(out)


def write_archive(root: str | os.PathLike, clips: Iterable[Clip], clips_per_shard: int = 64,
                  config: Mapping | None = None) -> Manifest:
    """Write ``clips`` into a new archive at ``root`` (convenience for converters and tests)."""
    writer = ArchiveWriter(root, config)
    batch: list[Clip] = []
    index = 0
    for clip in clips:
        batch.append(clip)
        if len(batch) == clips_per_shard:
            writer.write_shard(index, batch)
            index, batch = index + 1, []
    if batch:
        writer.write_shard(index, batch)
    return writer.manifest()


# --------------------------------------------------------------------------- reading
def read_shard_bytes(path: Path, info: ShardInfo | None = None) -> bytes:
    """The bytes of a shard, verified against its manifest entry; ``ShardError`` if not."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ShardError(f"shard {str(path)!r}: cannot be read ({e.strerror or e})") from None
    if info is not None:
        if len(data) != info.bytes:
            raise ShardError(
                f"shard {str(path)!r}: {len(data)} bytes, the manifest says {info.bytes} (truncated or rewritten)"
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != info.sha256:
            raise ShardError(f"shard {str(path)!r}: sha256 {digest[:12]}... does not match the manifest ({info.sha256[:12]}...)")
    return data


def _group_members(data: bytes, source: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {field.ext: bytes}) per clip, in tar order (members of one clip are contiguous)."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError as e:
        raise ShardError(f"shard {source}: not a readable tar file ({e})") from None
    key, group = None, {}
    try:
        with tar:
            for m in tar:
                if not m.isfile():
                    continue
                base = m.name.rsplit("/", 1)[-1]
                k, dot, member = base.partition(".")
                if not dot:
                    raise ShardError(f"shard {source}: member {m.name!r} has no '<key>.<field>' name")
                if k != key:
                    if key is not None:
                        yield key, group
                    key, group = k, {}
                f = tar.extractfile(m)
                group[member] = f.read() if f is not None else b""
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ShardError(f"shard {source}: truncated or corrupt tar ({e})") from None
    if key is not None:
        yield key, group


def iter_shard(path: str | os.PathLike, info: ShardInfo | None = None,
               on_bad_clip: Callable[[str, ClipError], None] | None = None) -> Iterator[Clip]:
    """Clips of one shard. The whole shard is read and verified first (``ShardError``).

    A malformed clip raises ``ClipError``, unless ``on_bad_clip(key, error)`` is given: then
    it is reported there and skipped.
    """
    path = Path(path)
    data = read_shard_bytes(path, info)
    for key, members in _group_members(data, str(path)):
        try:
            clip = decode_clip(key, members, source=path.name)
        except ClipError as e:
            if on_bad_clip is None:
                raise
            on_bad_clip(key, e)
            continue
        yield clip
