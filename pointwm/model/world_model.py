"""``WorldModel``: scene at t0 + robot point flow → per-point scene flow (PointWorld).

One point set per sample: the N scene tokens at t0 and the M robot tokens of every step
t = 0..T ((T+1)·M tokens), packed with the other samples into a
:class:`~pointwm.model.structure.PointBatch` and run through a PTv3-style U-Net. The head
reads the scene tokens: a displacement from t0 for t = 1..T (normalised per step by
``flow_std``) and a log-variance per step.

Translation invariance: every sample is re-centred on the mean of its t0 scene points and
t0 robot points (in float64), and its voxel grid is laid in that centred frame, so
translating scene and robot together changes nothing but float rounding.

Candidates sharing a scene (planning): the scene's re-centring, voxel coordinates,
serialisation codes and token embedding do not depend on the action; ``predict`` builds
them once (:meth:`WorldModel.encode_scene`) and reuses them for all K candidates whose
t0 robot points agree, then runs the candidates through the backbone in chunks
(``candidate_chunk`` on a GPU, ``cpu_candidate_chunk`` on a CPU). Everything after the
token embedding sees scene and robot tokens together, so it depends on the action: on a
CPU, K candidates cost about K single predictions minus the shared scene work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from capture import voxel_downsample
from pointwm import ops
from pointwm.errors import InputError
from pointwm.geometry import PointCloud
from pointwm.model.backbone import PointTransformerV3
from pointwm.model.checkpoint import CheckpointError, read_checkpoint_with_robots, write_checkpoint
from pointwm.model.config import ModelConfig
from pointwm.model.features import (
    ContactEmbedding,
    RobotEmbedding,
    SceneEmbedding,
    contact_features,
    robot_features,
    scene_features,
)
from pointwm.model.serialization import encode, serialize
from pointwm.model.structure import PointBatch

__all__ = [
    "ModelConfig",
    "RobotInput",
    "SceneContext",
    "WorldModel",
    "WorldModelOutput",
    "count_parameters",
    "lift_to_full",
    "prepare_scene",
]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class RobotInput:
    """One robot motion: the same M surface points at each step t = 0..T.

    flow:       (T+1, M, 3) float, metres, world frame.
    normals:    (M, 3) or (T+1, M, 3) float unit normals, or None.
    gripper:    (T+1,) float opening per step in [0, 1], or None.
    robot_type: robot-type id in [0, num_robot_types).
    """

    flow: Tensor
    normals: Tensor | None = None
    gripper: Tensor | None = None
    robot_type: int = 0

    def __post_init__(self) -> None:
        f = self.flow
        if not isinstance(f, Tensor) or f.ndim != 3 or f.shape[-1] != 3 or f.shape[0] < 2 or f.shape[1] < 1:
            shape = tuple(f.shape) if isinstance(f, Tensor) else type(f).__name__
            raise InputError(f"robot_flow: expected (T+1, M, 3) with T >= 1, M >= 1, got {shape}")
        if not f.is_floating_point():
            raise TypeError(f"robot_flow: expected a floating-point tensor (metres), got {f.dtype}")
        if not bool(torch.isfinite(f).all()):
            raise InputError("robot_flow: contains NaN or infinite values")
        if self.normals is not None:
            n = self.normals
            if n.shape not in (f.shape, f.shape[1:]):
                raise InputError(
                    f"robot_normals: expected {tuple(f.shape[1:])} or {tuple(f.shape)}, got {tuple(n.shape)}"
                )
        if self.gripper is not None and self.gripper.shape != f.shape[:1]:
            raise InputError(f"gripper: expected ({f.shape[0]},), got {tuple(self.gripper.shape)}")


@dataclass
class SceneContext:
    """The action-independent part of one sample (computed once per scene and centre).

    centre:     (3,) float64, metres, the re-centring point (world frame).
    coord:      (N, 3) float32, metres, scene points in the centred frame.
    grid_coord: (N, 3) int64 voxel coordinates (offset to be >= 0).
    codes:      (O, N) int64 serialisation codes per order (no sample bits).
    tokens:     (N, C0) float scene token embeddings.
    """

    centre: Tensor
    coord: Tensor
    grid_coord: Tensor
    codes: Tensor
    tokens: Tensor

    @property
    def num_points(self) -> int:
        return self.coord.shape[0]


@dataclass
class WorldModelOutput:
    """Packed predictions for the scene points of B samples (ΣN rows).

    flow:    (ΣN, T, 3) displacement from t0, normalised (divide-by-``flow_std`` units).
    log_var: (ΣN, T) log-variance of that displacement, normalised units.
    offset:  (B,) int64 cumulative scene-point counts.
    """

    flow: Tensor
    log_var: Tensor
    offset: Tensor

    def split(self) -> list[tuple[Tensor, Tensor]]:
        """Per sample: (flow (T, N_b, 3), log_var (T, N_b)), still normalised."""
        bounds = [0] + self.offset.tolist()
        return [(self.flow[a:b].transpose(0, 1), self.log_var[a:b].transpose(0, 1))
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


# ---------------------------------------------------------------------- scene helpers


def prepare_scene(
    scene: PointCloud, voxel_size: float = 0.015, max_points: int = 12000
) -> tuple[PointCloud, Tensor | None]:
    """Cap a scene at ``max_points``: ``(reduced, inverse (N,) int64 or None)``.

    Scenes with at most ``max_points`` points are returned as they are (inverse None).
    Larger ones are voxelised on the world-fixed grid (``capture.voxel_downsample``: mean
    position and colour, renormalised normal), growing the voxel by 1.25x until they fit,
    so every input point keeps a voxel; ``inverse`` maps each input point to its voxel
    (lift predictions back with :func:`lift_to_full`).
    """
    if len(scene) <= max_points:
        return scene, None

    size = float(voxel_size)
    reduced, inverse = voxel_downsample(scene, size)
    while len(reduced) > max_points:
        size *= 1.25
        reduced, inverse = voxel_downsample(scene, size)
    log.debug("scene %d points -> %d voxels of %.4f m", len(scene), len(reduced), size)
    return reduced, inverse


def lift_to_full(flow: Tensor, inverse: Tensor) -> Tensor:
    """Per-voxel predictions (…, T, V, C) → per-point (…, T, N, C) through ``inverse`` (N,)."""
    return flow.index_select(-2, inverse.to(flow.device))


def count_parameters(config: ModelConfig) -> int:
    """Number of parameters of a model with ``config``, built on the meta device (no memory)."""
    with torch.device("meta"):
        model = WorldModel(config)
    return sum(p.numel() for p in model.parameters())


# -------------------------------------------------------------------------------- model


class WorldModel(nn.Module):
    """Point-flow world model. See the module docstring for the token layout.

    ``WorldModel(config)`` builds the architecture ``config.architecture`` names: this
    class (``joint``) or :class:`pointwm.model.factored.FactoredWorldModel` (``factored``);
    ``WorldModel.load(path)``; ``model.save(path)``;
    ``model.predict(scene, robot_flow)`` → (T, N, 3) or (K, T, N, 3) metres;
    ``model(scenes, robots)`` → :class:`WorldModelOutput` (training).
    ``trained_robots``: robot name → the ``point_sampling`` of the robot points it was trained
    with (saved in checkpoints; :meth:`check_robot` compares a robot against it).
    """

    _architectures: dict[str, type] = {}

    def __init_subclass__(cls, architecture: str | None = None, **kw) -> None:
        super().__init_subclass__(**kw)
        if architecture is not None:
            WorldModel._architectures[architecture] = cls

    def __new__(cls, config: ModelConfig, *args, **kwargs):
        # ``WorldModel(config)`` builds the class of ``config.architecture``.
        if cls is WorldModel and getattr(config, "architecture", "joint") != "joint":
            cls = WorldModel._architectures[config.architecture]
        return super().__new__(cls)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.trained_robots: dict[str, dict] = {}
        self._build(config)
        self.register_buffer("flow_std", torch.tensor(config.resolved_flow_std, dtype=torch.float32))

    def _build(self, c: ModelConfig) -> None:
        """The layers of the joint architecture (scene and robot tokens through one backbone)."""
        ch = c.backbone.enc_channels[0]
        self.scene_embed = SceneEmbedding(ch)
        self.robot_embed = RobotEmbedding(ch, c.time_dim, c.num_robot_types)
        self.contact_embed = ContactEmbedding(ch, c.num_steps) if c.contact_features else None
        self.backbone = PointTransformerV3(c.backbone)
        out = c.backbone.out_channels
        self.head = nn.Sequential(nn.Linear(out, out), nn.GELU(), nn.Linear(out, 4 * c.num_steps))
        with torch.no_grad():  # start near zero flow and unit variance, but not exactly (gradients)
            self.head[-1].weight.mul_(0.1)
            self.head[-1].bias.zero_()

    # -- normalisation ------------------------------------------------------------------
    def set_normalization(self, flow_std: Tensor | Sequence[float]) -> None:
        """Set the per-step displacement std (T,) metres (stored in checkpoints)."""
        std = torch.as_tensor(flow_std, dtype=torch.float32)
        if std.shape != (self.config.num_steps,) or not bool((std > 0).all()):
            raise InputError(f"flow_std: expected {self.config.num_steps} positive values, got {std.tolist()}")
        self.flow_std.copy_(std.to(self.flow_std.device))

    # -- checkpoints ----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write weights, normalisation stats and config to ``path`` (.safetensors), atomically."""
        return write_checkpoint(path, self.state_dict(), self.config.to_dict(), self.trained_robots)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> WorldModel:
        """A model from :meth:`save`'s file, in eval mode. Raises :class:`CheckpointError`."""
        config_dict, tensors, robots = read_checkpoint_with_robots(path)
        try:
            config = ModelConfig.from_dict(config_dict, source=f"checkpoint {path}")
        except ValueError as e:
            raise CheckpointError(str(e)) from None
        model = cls(config)
        expected = model.state_dict()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        wrong = [f"{k}: {tuple(tensors[k].shape)} vs {tuple(v.shape)}"
                 for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
        if missing or unexpected or wrong:
            raise CheckpointError(
                f"checkpoint {path} does not match its config {config.name!r}: "
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, "
                f"wrong shapes {wrong[:5]}"
            )
        model.load_state_dict(tensors)
        model.trained_robots = robots
        if device is not None:
            model.to(device)
        return model.eval()

    def check_robot(self, robot) -> str | None:
        """None if ``robot``'s points are drawn as in training, else a message saying how not.

        Robot points are part of the input: a model trained with half of them on the gripper
        sees a different robot when given area-sampled points. Checkpoints from before this
        was recorded (no ``trained_robots``) and robots it never saw pass.
        """
        trained = self.trained_robots.get(robot.name)
        here = dict(getattr(robot, "point_sampling", {}) or {})
        if trained is None or not here:
            return None
        keys = ("dense_links", "dense_fraction", "geometry")
        diff = {k: (trained.get(k), here.get(k)) for k in keys if trained.get(k) != here.get(k)}
        if not diff:
            return None
        return (f"robot {robot.name!r}: its points are drawn differently from training: "
                + ", ".join(f"{k} {a!r} in training, {b!r} here" for k, (a, b) in diff.items())
                + "; predictions degrade (set them in the robot YAML)")

    # -- building blocks --------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.flow_std.device

    def _grid(self, coord: Tensor) -> Tensor:
        """(P, 3) float64 centred metres → (P, 3) int64 grid coords in [0, 2 ** depth)."""
        c = self.config
        g = ops.grid_coords(coord, c.grid_size) + (1 << (c.serialization_depth - 1))
        if g.numel() and (int(g.min()) < 0 or int(g.max()) >= 1 << c.serialization_depth):
            half = (1 << (c.serialization_depth - 1)) * c.grid_size
            raise InputError(
                f"scene/robot points extend beyond ±{half:.1f} m of their centre; raise "
                "serialization_depth in the model config"
            )
        return g

    @staticmethod
    def centre_of(scene_xyz: Tensor, robot_t0: Tensor) -> Tensor:
        """(3,) float64 mean of the t0 scene points (N, 3) and t0 robot points (M, 3)."""
        pts = torch.cat([scene_xyz.double(), robot_t0.double()])
        return pts.mean(0)

    def encode_scene(self, scene: PointCloud, centre: Tensor) -> SceneContext:
        """The action-independent scene work for one centre (3,) float64."""
        xyz = scene.xyz.to(self.device)
        centred = xyz.double() - centre.to(self.device, torch.float64)
        grid = self._grid(centred)
        d = self.config.serialization_depth
        codes = torch.stack([encode(grid, None, d, o) for o in self.config.backbone.orders])
        color = None if scene.color is None else scene.color.to(self.device)
        normals = None if scene.normals is None else scene.normals.to(self.device)
        tokens = self.scene_embed(scene_features(centred.float(), color, normals))
        return SceneContext(centre.to(self.device, torch.float64), centred.float(), grid, codes, tokens)

    def _robot_tokens(self, robot: RobotInput, centre: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(coord ((T+1)·M, 3) float32, grid ((T+1)·M, 3), tokens ((T+1)·M, C0), centred
        flow (T+1, M, 3) float32) of one robot."""
        c = self.config
        if robot.flow.shape[0] != c.num_steps + 1:
            raise InputError(
                f"robot_flow: model predicts T = {c.num_steps} steps, so robot_flow needs "
                f"{c.num_steps + 1} steps, got {robot.flow.shape[0]}"
            )
        if not 0 <= robot.robot_type < c.num_robot_types:
            raise InputError(f"robot_type: must be in [0, {c.num_robot_types}), got {robot.robot_type}")
        centred = robot.flow.to(self.device, torch.float64) - centre  # (T+1, M, 3)
        flat = centred.reshape(-1, 3)
        centred32 = centred.float()
        grid = self._grid(flat)
        normals = None if robot.normals is None else robot.normals.to(self.device)
        gripper = None if robot.gripper is None else robot.gripper.to(self.device)
        feat = robot_features(centred32, normals, gripper, c.time_dim, c.velocity_scale,
                              c.acceleration_scale)
        kind = torch.full(feat.shape[:-1], robot.robot_type, dtype=torch.long, device=self.device)
        tokens = self.robot_embed(feat, kind).reshape(flat.shape[0], -1)
        return flat.float(), grid, tokens, centred32

    def forward_contexts(
        self, contexts: Sequence[SceneContext], robots: Sequence[RobotInput]
    ) -> WorldModelOutput:
        """Predictions for B samples given their scene contexts (may repeat one object)."""
        if len(contexts) != len(robots) or not contexts:
            raise InputError(f"forward: need as many scenes as robots (>= 1), got {len(contexts)} and {len(robots)}")
        d = self.config.serialization_depth
        feats, coords, grids, codes, batch, scene_rows = [], [], [], [], [], []
        start = 0
        for b, (ctx, robot) in enumerate(zip(contexts, robots, strict=True)):
            r_coord, r_grid, r_tok, r_flow = self._robot_tokens(robot, ctx.centre)
            r_codes = torch.stack([encode(r_grid, None, d, o) for o in self.config.backbone.orders])
            n = ctx.num_points + r_coord.shape[0]
            s_tok = ctx.tokens
            if self.contact_embed is not None:  # action-dependent: per candidate
                s_tok = s_tok + self.contact_embed(
                    contact_features(ctx.coord, r_flow, self.config.velocity_scale))
            feats += [s_tok, r_tok]
            coords += [ctx.coord, r_coord]
            grids += [ctx.grid_coord, r_grid]
            codes += [ctx.codes, r_codes]
            batch.append(torch.full((n,), b, dtype=torch.long, device=self.device))
            scene_rows.append(torch.arange(start, start + ctx.num_points, device=self.device))
            start += n
        if (len(contexts) - 1).bit_length() + 3 * d > 63:
            raise InputError(f"forward: {len(contexts)} samples exceed the serialisation bit budget")
        batch_t = torch.cat(batch)
        coord = torch.cat(coords)
        grid = torch.cat(grids)
        code = torch.cat(codes, dim=1) | (batch_t << (3 * d))  # (O, ΣN)
        order, inverse = serialize(code, coord)
        counts = torch.tensor([t.shape[0] for t in batch], device=self.device)
        points = PointBatch(
            feat=torch.cat(feats), coord=coord, grid_coord=grid, batch=batch_t,
            offset=counts.cumsum(0), depth=d, order=order, inverse=inverse,
            rulebook=ops.subm_rulebook(grid, batch_t, kernel_size=3),
        )
        out = self.backbone(points)
        rows = torch.cat(scene_rows)
        head = self.head(out.feat.index_select(0, rows))  # (ΣN_scene, 4T)
        t = self.config.num_steps
        flow = head[:, : 3 * t].reshape(-1, t, 3)
        log_var = head[:, 3 * t :].clamp(self.config.log_var_min, self.config.log_var_max)
        n_scene = torch.tensor([ctx.num_points for ctx in contexts], device=self.device)
        return WorldModelOutput(flow, log_var, n_scene.cumsum(0))

    def forward(self, scenes: Sequence[PointCloud], robots: Sequence[RobotInput]) -> WorldModelOutput:
        """Training entry: B (scene, robot) pairs → packed normalised predictions."""
        if len(scenes) != len(robots) or not scenes:
            raise InputError(f"forward: need as many scenes as robots (>= 1), got {len(scenes)} and {len(robots)}")
        contexts = []
        for scene, robot in zip(scenes, robots, strict=True):
            _check_scene(scene)
            centre = self.centre_of(scene.xyz.to(self.device), robot.flow[0].to(self.device))
            contexts.append(self.encode_scene(scene, centre))
        return self.forward_contexts(contexts, robots)

    # -- inference ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict(
        self,
        scene: PointCloud,
        robot_flow: Tensor,
        robot_normals: Tensor | None = None,
        gripper: Tensor | None = None,
        robot_type: int = 0,
        return_log_var: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Scene flow for one robot flow or K candidates, in metres.

        Args:
            scene: N points at t0, world frame (xyz; colour and normals if known).
            robot_flow: (T+1, M, 3) or (K, T+1, M, 3) float, metres, world frame.
            robot_normals: (M, 3), (T+1, M, 3) or (K, T+1, M, 3) unit normals, or None.
            gripper: (T+1,) or (K, T+1) opening in [0, 1], or None.
            robot_type: robot-type id of the checkpoint's table.
            return_log_var: also return the log-variance (normalised units).

        Returns (T, N, 3) or (K, T, N, 3) displacement of every input scene point from t0
        (and (T, N) or (K, T, N) log-variances). Scenes over ``max_scene_points`` are
        voxelised first (:func:`prepare_scene`) and the result lifted back. The model is
        used in eval mode and restored to its previous mode afterwards.
        """
        _check_scene(scene)
        if not isinstance(robot_flow, Tensor) or robot_flow.ndim not in (3, 4):
            shape = tuple(robot_flow.shape) if isinstance(robot_flow, Tensor) else type(robot_flow).__name__
            raise InputError(f"robot_flow: expected (T+1, M, 3) or (K, T+1, M, 3), got {shape}")
        single = robot_flow.ndim == 3
        flows = robot_flow[None] if single else robot_flow
        k = flows.shape[0]
        normals = _per_candidate(robot_normals, k, flows.ndim, "robot_normals")
        grips = _per_candidate(gripper, k, 2, "gripper")
        robots = [RobotInput(flows[i], None if normals is None else normals[i],
                             None if grips is None else grips[i], robot_type) for i in range(k)]
        reduced, inverse = prepare_scene(scene, self.config.scene_voxel_size, self.config.max_scene_points)
        was_training = self.training
        self.eval()
        try:
            flow, log_var = self._predict_candidates(reduced, robots)  # (K, T, V, 3), (K, T, V)
        finally:
            self.train(was_training)
        if inverse is not None:
            flow, log_var = lift_to_full(flow, inverse), lift_to_full(log_var[..., None], inverse)[..., 0]
        if single:
            flow, log_var = flow[0], log_var[0]
        return (flow, log_var) if return_log_var else flow

    def _predict_candidates(self, scene: PointCloud, robots: list[RobotInput]) -> tuple[Tensor, Tensor]:
        t0 = robots[0].flow[0]
        shared = all(torch.equal(r.flow[0], t0) for r in robots[1:])
        ctx = None
        if shared:  # the action-independent work, once for all candidates
            ctx = self.encode_scene(scene, self.centre_of(scene.xyz.to(self.device), t0.to(self.device)))
        flows, log_vars = [], []
        c = self.config
        chunk = c.cpu_candidate_chunk if self.device.type == "cpu" else c.candidate_chunk
        for i in range(0, len(robots), chunk):
            part = robots[i : i + chunk]
            if ctx is not None:
                out = self.forward_contexts([ctx] * len(part), part)
            else:
                out = self(([scene] * len(part)), part)
            n = scene.num_points
            flows.append(out.flow.reshape(len(part), n, -1, 3).transpose(1, 2))
            log_vars.append(out.log_var.reshape(len(part), n, -1).transpose(1, 2))
        flow = torch.cat(flows) * self.flow_std[:, None, None]
        return flow, torch.cat(log_vars)


def _check_scene(scene: PointCloud) -> None:
    if not isinstance(scene, PointCloud):
        raise TypeError(f"scene: expected a pointwm.PointCloud, got {type(scene).__name__}")
    if len(scene) == 0:
        raise InputError("scene: the point cloud is empty")
    if not bool(torch.isfinite(scene.xyz).all()):
        raise InputError("scene: xyz contains NaN or infinite values")


def _per_candidate(x: Tensor | None, k: int, full_ndim: int, name: str) -> Tensor | None:
    """Broadcast an optional per-robot tensor to a leading K axis."""
    if x is None:
        return None
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(x).__name__}")
    if x.ndim == full_ndim:
        if x.shape[0] != k:
            raise InputError(f"{name}: {x.shape[0]} candidates but robot_flow has {k}")
        return x
    return x[None].expand((k,) + tuple(x.shape))
