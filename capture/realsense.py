"""Intel RealSense: live capture, playback of recordings, and synthetic recordings.

Everything here goes through the real librealsense SDK (``pyrealsense2``), imported lazily
inside each function so that ``import capture`` stays cheap and works without it.

- ``capture_live``: one aligned RGB-D frame from a connected camera (``rs.pipeline``).
- ``read_recording`` / ``load_recording``: aligned RGB-D frames from a recording, ROS2
  ``.db3`` (what SDK >= 2.56 records) or ROS1 ``.bag`` (older SDKs, the RealSense Viewer).
- ``write_synthetic_recording``: write ``RGBDFrame`` s into a ``.db3`` recording through a
  ``rs.software_device`` and ``rs.recorder``, e.g. to make test recordings without a camera.

Conventions (DESIGN.md): depth is registered to the colour image with
``rs.align(rs.stream.color)`` and returned as float32 metres (raw z16 units times the depth
sensor's ``get_depth_scale()``); 0 means no reading. Intrinsics are the colour stream's, in
the OpenCV convention of ``Intrinsics`` (RealSense ``ppx, ppy`` -> ``cx, cy``; pixel centres
at integer coordinates, as librealsense's own projection uses). Timestamps are the colour
frame's, in seconds (RealSense gives milliseconds in the frame's timestamp domain).

Alignment is a reprojection, not a copy: even with identical depth and colour intrinsics and
an identity extrinsic, librealsense's ``align`` maps each depth pixel's corners to a block of
one or two colour pixels (the nearest depth wins), so a few percent of pixels come back
as 0 (holes) or with a neighbouring pixel's depth. Pass ``align=False`` to
``read_recording`` only for recordings whose depth is already registered to colour.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from capture.camera import CaptureError, Intrinsics
from capture.frame import RGBDFrame

log = logging.getLogger(__name__)

__all__ = [
    "capture_live",
    "intrinsics_from_rs",
    "list_devices",
    "load_recording",
    "read_recording",
    "write_synthetic_recording",
]

DEFAULT_TIMEOUT_MS = 5000
_POLL_MS = 50  # playback: how often to check whether the recording has ended
DEFAULT_DEPTH_UNITS = 0.001  # metres per z16 unit (1 mm), the D400 default
RECORDING_SUFFIXES = (".db3", ".bag")

# colour formats we can turn into RGB: format name -> (channels, channel order to take)
_COLOR_FORMATS = {"rgb8": (3, [0, 1, 2]), "bgr8": (3, [2, 1, 0]), "rgba8": (4, [0, 1, 2]), "bgra8": (4, [2, 1, 0])}


def _rs():
    """Import ``pyrealsense2`` on first use, with a clear error when it is missing."""
    try:
        import pyrealsense2 as rs
    except ImportError as e:
        raise CaptureError(
            "RealSense support needs the pyrealsense2 package (Intel RealSense SDK Python "
            f"bindings): pip install pyrealsense2 ({e})"
        ) from None
    return rs


def intrinsics_from_rs(intr) -> Intrinsics:
    """``Intrinsics`` from an ``rs.intrinsics`` (``profile.get_intrinsics()``).

    RealSense and OpenCV share the pixel-centre convention, so ``ppx, ppy`` are ``cx, cy``
    unchanged. Distortion coefficients are dropped (see ``Intrinsics``); callers keep them
    in ``meta`` where they matter.
    """
    return Intrinsics(
        fx=float(intr.fx), fy=float(intr.fy), cx=float(intr.ppx), cy=float(intr.ppy),
        width=int(intr.width), height=int(intr.height),
    )


def list_devices(context=None) -> list[dict]:
    """Connected RealSense devices as ``[{"serial": str, "name": str}, ...]`` (may be empty)."""
    rs = _rs()
    ctx = context if context is not None else rs.context()
    devices = []
    for dev in ctx.query_devices():
        devices.append({"serial": _info(rs, dev, "serial_number"), "name": _info(rs, dev, "name")})
    return devices


def _info(rs, dev, key: str) -> str | None:
    info = getattr(rs.camera_info, key)
    try:
        return dev.get_info(info) if dev.supports(info) else None
    except RuntimeError:
        return None


def _device_meta(rs, dev) -> dict:
    meta = {}
    for key, field_name in (("serial_number", "serial"), ("name", "device_name"),
                            ("firmware_version", "firmware_version")):
        value = _info(rs, dev, key)
        if value:
            meta[field_name] = value
    return meta


def _decimal_scale(scale: float) -> float:
    """The depth scale as the decimal it was set as.

    librealsense stores depth units as float32, so 0.001 comes back as
    0.0010000000474974513; the shortest decimal that rounds to the same float32 (0.001) is
    the value that was meant, and gives metres that agree with ``load_capture``'s mm / 1000.
    """
    return float(np.format_float_positional(np.float32(scale), unique=True, trim="-"))


def _color_rgb(rs, color_frame, source: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB copy of a colour frame in rgb8 / bgr8 / rgba8 / bgra8."""
    fmt = str(color_frame.get_profile().format()).split(".")[-1]
    if fmt not in _COLOR_FORMATS:
        raise CaptureError(
            f"{source}: colour stream format {fmt!r} is not supported "
            f"(expected one of {sorted(_COLOR_FORMATS)})"
        )
    channels, order = _COLOR_FORMATS[fmt]
    data = np.asanyarray(color_frame.get_data())
    h, w = color_frame.get_height(), color_frame.get_width()
    data = data.reshape(h, w, channels)
    return np.ascontiguousarray(data[:, :, order])


def _to_rgbd(rs, frameset, depth_scale: float, T_world_cam, name: str, meta: dict,
             source: str) -> RGBDFrame:
    """Build an ``RGBDFrame`` from a (possibly aligned) frameset with depth and colour."""
    depth_frame = frameset.get_depth_frame()
    color_frame = frameset.get_color_frame()
    profile = color_frame.get_profile().as_video_stream_profile()
    intr = profile.get_intrinsics()
    z16 = np.asanyarray(depth_frame.get_data())
    if z16.dtype != np.uint16:
        raise CaptureError(f"{source}: expected z16 depth, got {z16.dtype} data")
    # float64 product, one rounding to float32: metres = units * scale
    depth = (z16.astype(np.float64) * depth_scale).astype(np.float32)
    color = _color_rgb(rs, color_frame, source)
    meta = dict(meta)
    meta.update(
        depth_scale=float(depth_scale),
        color_frame_number=int(color_frame.get_frame_number()),
        depth_frame_number=int(depth_frame.get_frame_number()),
        depth_timestamp=float(depth_frame.get_timestamp()) / 1000.0,
        timestamp_domain=str(color_frame.get_frame_timestamp_domain()).split(".")[-1],
        distortion_model=str(intr.model).split(".")[-1],
        distortion_coeffs=[float(c) for c in intr.coeffs],
    )
    if any(c != 0 for c in intr.coeffs):
        log.debug("%s: colour stream reports distortion %s %s; Intrinsics ignores it",
                  source, meta["distortion_model"], meta["distortion_coeffs"])
    return RGBDFrame(
        color=color,
        depth=depth,
        intrinsics=intrinsics_from_rs(intr),
        T_world_cam=torch.eye(4, dtype=torch.float64) if T_world_cam is None else T_world_cam,
        name=name,
        timestamp=float(color_frame.get_timestamp()) / 1000.0,
        meta=meta,
    )


def capture_live(
    serial: str | None = None,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    warmup_frames: int = 15,
    T_world_cam=None,
    name: str = "cam0",
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    context=None,
) -> RGBDFrame:
    """One RGB-D frame from a connected RealSense camera, depth aligned to colour.

    Streams colour rgb8 and depth z16 at ``width`` x ``height`` (pixels) and ``fps``, drops
    ``warmup_frames`` framesets so auto-exposure settles, and returns the next one with
    depth registered to colour (``rs.align(rs.stream.color)``).

    serial:      the camera's serial number; None takes the first one found.
    T_world_cam: (4, 4) pose of the camera in the world frame (default identity).
    timeout_ms:  how long to wait for each frameset, milliseconds.
    context:     an ``rs.context`` to search (default a fresh one).

    Returns ``RGBDFrame`` with color (H, W, 3) float32 in [0, 1], depth (H, W) float32
    metres, the colour stream's intrinsics, timestamp in seconds, and ``meta`` holding the
    serial number, device name, depth scale and frame numbers.
    Raises ``CaptureError`` when no camera (or not the one asked for) is connected, when it
    cannot stream the requested mode, or when no frames arrive in time.
    """
    rs = _rs()
    for arg, value in (("width", width), ("height", height), ("fps", fps)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise CaptureError(f"capture_live: {arg} must be a positive integer, got {value!r}")
    if isinstance(warmup_frames, bool) or not isinstance(warmup_frames, int) or warmup_frames < 0:
        raise CaptureError(f"capture_live: warmup_frames must be an integer >= 0, got {warmup_frames!r}")
    ctx = context if context is not None else rs.context()
    devices = list_devices(ctx)
    if not devices:
        raise CaptureError(
            "no RealSense device found (is the camera plugged into a USB 3 port, and can this "
            "user access it? Check with `rs-enumerate-devices`)"
        )
    if serial is not None and serial not in [d["serial"] for d in devices]:
        found = ", ".join(f"{d['serial']} ({d['name']})" for d in devices)
        raise CaptureError(f"no RealSense device with serial {serial!r}; connected: {found}")
    serial = serial if serial is not None else devices[0]["serial"]
    source = f"RealSense {serial}"

    pipeline = rs.pipeline(ctx)
    config = rs.config()
    config.enable_device(serial)
    config.enable_stream(rs.stream.depth, width, height, rs.format.z16, fps)
    config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
    try:
        profile = pipeline.start(config)
    except RuntimeError as e:
        raise CaptureError(
            f"{source}: cannot stream depth z16 + colour rgb8 at {width}x{height} @ {fps} fps "
            f"({e}); list supported modes with `rs-enumerate-devices`"
        ) from None
    try:
        device = profile.get_device()
        depth_scale = _decimal_scale(device.first_depth_sensor().get_depth_scale())
        meta = _device_meta(rs, device)
        align = rs.align(rs.stream.color)
        for i in range(warmup_frames + 1):
            try:
                frameset = pipeline.wait_for_frames(timeout_ms)
            except RuntimeError as e:
                raise CaptureError(
                    f"{source}: no frames within {timeout_ms} ms (frameset {i}, after "
                    f"{warmup_frames} warm-up frames): {e}"
                ) from None
        frameset = align.process(frameset)
        if not frameset.get_depth_frame() or not frameset.get_color_frame():
            raise CaptureError(f"{source}: frameset lacks a depth or colour frame")
        frame = _to_rgbd(rs, frameset, depth_scale, T_world_cam, name, meta, source)
    finally:
        pipeline.stop()
    log.info("captured %dx%d RGB-D frame from %s", frame.width, frame.height, source)
    return frame


def _check_recording_path(path) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise CaptureError(f"recording path: expected a str or path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise CaptureError(f"{path}: recording not found")
    if not path.is_file():
        raise CaptureError(f"{path}: not a file (expected a RealSense .db3 or .bag recording)")
    return path


def read_recording(
    path: str | os.PathLike,
    max_frames: int | None = None,
    T_world_cam=None,
    name: str = "cam0",
    align: bool = True,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    sync_tolerance_ms: float | None = None,
) -> Iterator[RGBDFrame]:
    """Yield the RGB-D frames of a RealSense recording, depth aligned to colour.

    path:        a recording: ROS2 ``.db3`` (SDK >= 2.56) or ROS1 ``.bag`` (older SDKs and the
                 RealSense Viewer); the SDK tells them apart by the file.
    max_frames:  stop after this many frames (None: the whole recording).
    T_world_cam: (4, 4) pose of the camera in the world frame, for every frame.
    align:       register depth to colour with ``rs.align`` (default). False only for
                 recordings whose depth is already in the colour camera's pixel grid.
    timeout_ms:  how long to wait for the next frameset while playback has not ended,
                 milliseconds.
    sync_tolerance_ms: largest depth-colour timestamp difference of a yielded pair,
                 milliseconds (None: half the colour stream's frame period).

    Each frame is an ``RGBDFrame`` (color (H, W, 3), depth (H, W) metres, the colour
    stream's intrinsics, timestamp in seconds); ``meta`` holds the recorded serial number,
    depth scale and the colour / depth frame numbers. Playback is not real-time, so it runs
    as fast as it is consumed. The pipeline's syncer may pair a depth frame with the previous
    colour frame, or hand out a colour frame twice; framesets whose depth and colour
    timestamps differ by more than ``sync_tolerance_ms``, or that repeat the colour frame of
    the previous one, are skipped, so every frame yielded is a matched pair.

    Raises ``CaptureError`` naming ``path`` when it is missing, not a recording, or has no
    depth or colour stream.
    """
    rs = _rs()
    path = _check_recording_path(path)
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 0):
        raise CaptureError(f"read_recording: max_frames must be None or an integer >= 0, got {max_frames!r}")
    if sync_tolerance_ms is not None and not sync_tolerance_ms >= 0:
        raise CaptureError(f"read_recording: sync_tolerance_ms must be >= 0, got {sync_tolerance_ms!r}")
    _probe_recording(rs, path)  # fail here, not at the first next()
    return _iter_recording(rs, path, max_frames, T_world_cam, name, align, timeout_ms,
                           sync_tolerance_ms)


def _iter_recording(rs, path: Path, max_frames, T_world_cam, name: str, align: bool,
                    timeout_ms: int, sync_tolerance_ms: float | None) -> Iterator[RGBDFrame]:
    if max_frames == 0:
        return
    pipeline = rs.pipeline(rs.context())
    config = rs.config()
    try:
        config.enable_device_from_file(str(path), repeat_playback=False)
        config.enable_stream(rs.stream.depth)
        config.enable_stream(rs.stream.color)
        # Two SDK behaviours lose frames unless handled before the pipeline starts:
        # - real-time playback switched off only after pipeline.start() has already played
        #   frames in real time while the caller was busy (the first frame at least);
        # - playback begins as soon as the first sensor starts, so frames of a sensor that
        #   pipeline.start() starts later are dropped, and the syncer then pairs what is
        #   left wrongly (seen here on about 2% of runs: every depth frame but the last
        #   lost). Pausing the playback until all sensors run avoids both: 100 % of frames
        #   in hundreds of runs. resolve() returns the device that start() then uses.
        playback = config.resolve(rs.pipeline_wrapper(pipeline)).get_device().as_playback()
        playback.set_real_time(False)
        playback.pause()
        profile = pipeline.start(config)
    except RuntimeError as e:
        raise CaptureError(f"{path}: cannot play back this recording: {e}") from None
    try:
        device = profile.get_device()
        playback = device.as_playback()
        playback.set_real_time(False)  # no-ops on the device resolve() gave
        playback.resume()
        depth_scale = _decimal_scale(device.first_depth_sensor().get_depth_scale())
        color_profile = profile.get_stream(rs.stream.color).as_video_stream_profile()
        fps = color_profile.fps() or 30
        tolerance_ms = 0.5 * 1000.0 / fps if sync_tolerance_ms is None else sync_tolerance_ms
        meta = _device_meta(rs, device)
        meta["recording"] = str(path)
        aligner = rs.align(rs.stream.color) if align else None
        source = str(path)
        count, last_color, unmatched = 0, None, 0
        waited_ms = 0
        while max_frames is None or count < max_frames:
            ok, frameset = pipeline.try_wait_for_frames(_POLL_MS)
            if not ok:
                # The pipeline never says "end of file": playback stops, and the queue drains.
                waited_ms += _POLL_MS
                if playback.current_status() == rs.playback_status.stopped:
                    ok, frameset = pipeline.try_wait_for_frames(_POLL_MS)
                    if not ok:
                        break
                elif waited_ms >= timeout_ms:
                    log.warning("%s: no frameset within %d ms before the end of the recording; "
                                "stopping after %d frames", path, timeout_ms, count)
                    break
                else:
                    continue
            waited_ms = 0
            depth_frame, color_frame = frameset.get_depth_frame(), frameset.get_color_frame()
            if not depth_frame or not color_frame:
                log.debug("%s: skipping a frameset without both depth and colour", path)
                continue
            color_number = color_frame.get_frame_number()
            dt = abs(depth_frame.get_timestamp() - color_frame.get_timestamp())
            unmatched += dt > tolerance_ms
            if color_number == last_color or dt > tolerance_ms:
                log.debug("%s: skipping frameset depth #%d / colour #%d (dt %.1f ms)", path,
                          depth_frame.get_frame_number(), color_number, dt)
                continue
            last_color = color_number
            if aligner is not None:
                frameset = aligner.process(frameset)
            yield _to_rgbd(rs, frameset, depth_scale, T_world_cam, name, meta, source)
            count += 1
        if count == 0 and unmatched:
            log.warning("%s: all %d framesets had depth and colour timestamps more than %.1f ms "
                        "apart; pass a larger sync_tolerance_ms", path, unmatched, tolerance_ms)
    finally:
        pipeline.stop()


def _probe_recording(rs, path: Path) -> None:
    """Raise ``CaptureError`` unless ``path`` opens as a recording with depth and colour."""
    try:
        device = rs.context().load_device(str(path))
    except RuntimeError as e:
        raise CaptureError(
            f"{path}: not a RealSense recording (expected a .db3 or .bag file written by the "
            f"RealSense SDK or Viewer): {e}"
        ) from None
    streams = {p.stream_type() for s in device.query_sensors() for p in s.get_stream_profiles()}
    missing = [n for n, st in (("depth", rs.stream.depth), ("colour", rs.stream.color)) if st not in streams]
    if missing:
        found = sorted(str(st).split(".")[-1] for st in streams)
        raise CaptureError(f"{path}: recording has no {' or '.join(missing)} stream (it has {found})")


def load_recording(
    path: str | os.PathLike,
    max_frames: int | None = None,
    T_world_cam=None,
    name: str = "cam0",
    align: bool = True,
    sync_tolerance_ms: float | None = None,
) -> list[RGBDFrame]:
    """``list(read_recording(...))`` (same arguments); raises ``CaptureError`` if no frame
    comes back. Each 640x480 frame holds about 5 MB: use ``max_frames`` on long recordings."""
    frames = list(read_recording(path, max_frames=max_frames, T_world_cam=T_world_cam, name=name,
                                 align=align, sync_tolerance_ms=sync_tolerance_ms))
    if not frames and max_frames != 0:
        raise CaptureError(f"{path}: the recording played back no frameset with both depth and colour")
    return frames


def _rs_intrinsics(rs, intr: Intrinsics):
    out = rs.intrinsics()
    out.width, out.height = intr.width, intr.height
    out.fx, out.fy, out.ppx, out.ppy = intr.fx, intr.fy, intr.cx, intr.cy
    out.model = rs.distortion.none
    out.coeffs = [0.0] * 5
    return out


def write_synthetic_recording(
    path: str | os.PathLike,
    frames: Sequence[RGBDFrame],
    fps: int = 30,
    depth_units: float = DEFAULT_DEPTH_UNITS,
    serial: str = "pointwm-synthetic",
    overwrite: bool = False,
) -> Path:
    """Write frames into a RealSense ``.db3`` recording, without a camera.

    Builds an ``rs.software_device`` with a depth sensor (z16, ``depth_units`` metres per
    unit) and a colour sensor (rgb8), both with the frames' intrinsics and an identity
    extrinsic between them, records it with ``rs.recorder`` and pushes one depth and one
    colour frame per ``RGBDFrame``. The result plays back with ``read_recording``, the
    RealSense Viewer or any SDK >= 2.56 (this SDK records only ROS2 ``.db3``).

    frames:      RGBDFrames of one camera: same intrinsics for all; depth (H, W) metres is
                 stored as round(depth / depth_units) in uint16 (0 for no reading), colour
                 as round(255 * color) rgb8.
    fps:         the streams' nominal frame rate; frame i gets frame number i and, unless the
                 frames' timestamps are strictly increasing, timestamp i / fps seconds.
    depth_units: metres per z16 unit (0.001: millimetres).
    serial:      serial number recorded for the device.

    Returns the path. Raises ``CaptureError`` for an empty or inconsistent frame list, depth
    that does not fit in uint16, a path not ending in ``.db3``, or an existing file unless
    ``overwrite``.
    """
    rs = _rs()
    path = Path(path)
    if path.suffix != ".db3":
        raise CaptureError(
            f"{path}: the RealSense SDK {rs.__version__} records only ROS2 .db3 files; "
            "name the recording *.db3"
        )
    if path.exists() and not overwrite:
        raise CaptureError(f"{path}: already exists (pass overwrite=True to replace it)")
    frames = [frames] if isinstance(frames, RGBDFrame) else list(frames)
    if not frames or not all(isinstance(f, RGBDFrame) for f in frames):
        raise CaptureError("write_synthetic_recording: expected a non-empty sequence of RGBDFrame")
    intr = frames[0].intrinsics
    if any(f.intrinsics != intr for f in frames):
        raise CaptureError("write_synthetic_recording: all frames must share one camera's intrinsics")
    if isinstance(fps, bool) or not isinstance(fps, int) or fps <= 0:
        raise CaptureError(f"write_synthetic_recording: fps must be a positive integer, got {fps!r}")
    if not (isinstance(depth_units, int | float) and math.isfinite(depth_units) and depth_units > 0):
        raise CaptureError(f"write_synthetic_recording: depth_units must be > 0, got {depth_units!r}")

    # Raw pixel buffers first, so bad depth fails before anything is written.
    depths, colors = [], []
    for i, f in enumerate(frames):
        d = f.depth.double().cpu().numpy()
        d = np.where(np.isfinite(d) & (d > 0), d, 0.0) / depth_units
        if d.max(initial=0) > np.iinfo(np.uint16).max:
            raise CaptureError(
                f"frame {i}: depth {d.max() * depth_units:.3f} m does not fit in z16 at "
                f"depth_units {depth_units} m"
            )
        depths.append(np.ascontiguousarray(np.round(d).astype(np.uint16)))
        c = (f.color.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        colors.append(np.ascontiguousarray(c))
    stamps = [f.timestamp for f in frames]
    if len(stamps) > 1 and all(b > a for a, b in zip(stamps, stamps[1:], strict=False)):
        stamps_ms = [1000.0 * t for t in stamps]
    else:
        stamps_ms = [1000.0 * i / fps for i in range(len(frames))]

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    device = rs.software_device()
    for info, value in ((rs.camera_info.name, "pointwm synthetic RealSense"),
                        (rs.camera_info.serial_number, serial)):
        device.register_info(info, value)
    depth_sensor = device.add_sensor("Depth")
    color_sensor = device.add_sensor("Color")
    depth_sensor.add_read_only_option(rs.option.depth_units, float(depth_units))

    def stream(kind, uid, fmt, bpp):
        s = rs.video_stream()
        s.type, s.index, s.uid = kind, 0, uid
        s.width, s.height, s.fps, s.bpp, s.fmt = intr.width, intr.height, fps, bpp, fmt
        s.intrinsics = _rs_intrinsics(rs, intr)
        return s

    depth_profile = depth_sensor.add_video_stream(
        stream(rs.stream.depth, 0, rs.format.z16, 2), True).as_video_stream_profile()
    color_profile = color_sensor.add_video_stream(
        stream(rs.stream.color, 1, rs.format.rgb8, 3), True).as_video_stream_profile()
    identity = rs.extrinsics()
    identity.rotation = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    identity.translation = [0.0, 0.0, 0.0]
    depth_profile.register_extrinsics_to(color_profile, identity)
    device.create_matcher(rs.matchers.dlr_c)

    recorder = rs.recorder(str(path), device)
    sensors = ((depth_sensor, depth_profile), (color_sensor, color_profile))
    try:
        for sensor, profile in sensors:
            sensor.open(profile)
        for sensor, _ in sensors:
            # Frames are recorded as they leave the sensor; the callback only drops them.
            sensor.start(lambda frame: None)
        for i in range(len(frames)):
            for sensor, profile, pixels, bpp in ((depth_sensor, depth_profile, depths[i], 2),
                                                 (color_sensor, color_profile, colors[i], 3)):
                sw = rs.software_video_frame()
                sw.pixels = pixels
                sw.bpp = bpp
                sw.stride = intr.width * bpp
                sw.timestamp = stamps_ms[i]
                sw.domain = rs.timestamp_domain.hardware_clock
                sw.frame_number = i
                sw.profile = profile
                if bpp == 2:
                    sw.depth_units = float(depth_units)
                sensor.on_video_frame(sw)
        for sensor, _ in sensors:
            sensor.stop()
        for sensor, _ in sensors:
            sensor.close()
        recorder.pause()
    finally:
        # The recording is flushed and closed when the recorder is destroyed.
        del recorder, sensors, depth_sensor, color_sensor, device
    log.info("wrote %d synthetic frames (%dx%d) to %s", len(frames), intr.width, intr.height, path)
    return path
