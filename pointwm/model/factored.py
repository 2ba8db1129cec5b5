"""``FactoredWorldModel``: the scene encoded once, each candidate motion decoded lightly.

PointWorld's (``joint``) model runs one backbone over the scene tokens and every step's
robot tokens together, so each candidate motion costs a whole pass. A planner asks for K
candidates against one scene. This architecture (``ModelConfig.architecture: factored``)
splits the work:

1. **Scene encoder, once per scene** (:meth:`FactoredWorldModel.encode`): the scene is
   re-centred on the mean of its points, its tokens (xyz, colour, normal) run through the
   PTv3 U-Net alone, giving a feature per point; the scene is split into its support and
   objects (:mod:`pointwm.model.interaction`); the points are grouped into coarse cells
   (``decoder.coarse_stride`` voxels wide).
2. **Decoder, per candidate** (:meth:`FactoredWorldModel.decode`): the candidate's
   interaction set (the objects some robot point comes within ``decoder.reach`` of, and
   their neighbours) is decoded; every other point gets zero flow. For each point of the
   set: its cached scene feature plus an embedding of its contact features (offset to,
   closeness and velocity of the nearest robot point at every step,
   :func:`~pointwm.model.features.contact_features`); pooled into the candidate's coarse
   cells, mixed by ``decoder.depth`` PTv3 blocks among them (the motion of one part of an
   object reaches the rest), unpooled, an MLP, and the head: a normalised displacement per
   step and a log-variance per step, as the joint model's.

Candidates are packed along one axis with their own rows and cells: a candidate's
prediction does not depend on the others in its batch. Translation invariance: the scene
is centred on its own mean, and contact features are relative offsets and velocities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pointwm import ops
from pointwm.errors import InputError
from pointwm.geometry import PointCloud
from pointwm.model.backbone import PointTransformerV3
from pointwm.model.config import ModelConfig
from pointwm.model.features import (
    ContactEmbedding,
    SceneEmbedding,
    contact_features,
    scene_features,
)
from pointwm.model.interaction import SceneObjects, interaction_sets, scene_objects
from pointwm.model.modules import MLP, Block, patch_layout, prepare_stage
from pointwm.model.structure import PointBatch, batch_to_offset
from pointwm.model.world_model import RobotInput, WorldModel, WorldModelOutput, _check_scene

__all__ = ["FactoredWorldModel", "SceneCode"]


@dataclass
class SceneCode:
    """One scene, encoded (the action-independent part of every prediction).

    centre: (3,) float64 world-frame re-centring point (m). coord: (N, 3) float32 centred
    points (m). feat: (N, C) the encoder's point features. objects: the support / object
    split. cell: (N,) int64 each point's coarse cell; cell_coord (V, 3) float32 mean centred
    position and cell_grid (V, 3) int64 grid coordinates of the cells.
    """

    centre: Tensor
    coord: Tensor
    feat: Tensor
    objects: SceneObjects
    cell: Tensor
    cell_coord: Tensor
    cell_grid: Tensor

    @property
    def num_points(self) -> int:
        return self.coord.shape[0]


class FactoredWorldModel(WorldModel, architecture="factored"):
    """See the module docstring. Built by ``WorldModel(config)`` for a ``factored`` config;
    ``predict``, ``load``, ``save`` and ``forward`` (training) as :class:`WorldModel`'s."""

    def _build(self, c: ModelConfig) -> None:
        d = c.decoder
        ch = c.backbone.enc_channels[0]
        self.scene_embed = SceneEmbedding(ch)
        self.backbone = PointTransformerV3(c.backbone)
        C = d.channels
        self.scene_proj = nn.Linear(c.backbone.out_channels, C)
        self.contact_embed = ContactEmbedding(C, c.num_steps)
        with torch.no_grad():  # the decoder needs the contact signal from the start
            nn.init.normal_(self.contact_embed.net[-1].weight, std=0.02)
        self.pool_proj = nn.Linear(C, C)
        self.pool_norm = nn.LayerNorm(C)
        self.blocks = nn.ModuleList(Block(C, d.num_heads, d.patch_size, d.mlp_ratio) for _ in range(d.depth))
        self.unpool_proj = nn.Sequential(nn.Linear(C, C), nn.LayerNorm(C), nn.GELU())
        self.norm = nn.LayerNorm(C)
        self.mlp = MLP(C, int(C * d.mlp_ratio))
        self.head = nn.Sequential(nn.Linear(C, C), nn.GELU(), nn.Linear(C, 4 * c.num_steps))
        with torch.no_grad():
            self.head[-1].weight.mul_(0.1)
            self.head[-1].bias.zero_()

    # -- the scene, once ----------------------------------------------------------------
    def encode(self, scenes: Sequence[PointCloud]) -> list[SceneCode]:
        """Encode B scenes (one backbone pass over all of them)."""
        c, dev = self.config, self.device
        feats, coords, grids, batch, centres = [], [], [], [], []
        for b, scene in enumerate(scenes):
            _check_scene(scene)
            xyz = scene.xyz.to(dev).double()
            centre = xyz.mean(0)
            centred = xyz - centre
            color = None if scene.color is None else scene.color.to(dev)
            normals = None if scene.normals is None else scene.normals.to(dev)
            feats.append(self.scene_embed(scene_features(centred.float(), color, normals)))
            coords.append(centred.float())
            grids.append(self._grid(centred))
            batch.append(torch.full((xyz.shape[0],), b, dtype=torch.long, device=dev))
            centres.append(centre)
        batch_t = torch.cat(batch)
        points = PointBatch(feat=torch.cat(feats), coord=torch.cat(coords), grid_coord=torch.cat(grids),
                            batch=batch_t, offset=batch_to_offset(batch_t, len(scenes)),
                            depth=c.serialization_depth)
        out = self.backbone(points).feat
        shift = int(c.decoder.coarse_stride).bit_length() - 1
        codes, start = [], 0
        for b, scene in enumerate(scenes):
            n = scene.xyz.shape[0]
            coord, grid = coords[b], grids[b]
            cells = ops.voxel_unique(grid >> shift)
            d = c.decoder
            objects = scene_objects(coord, scene.normals, d.link, d.chain, d.support_band)
            codes.append(SceneCode(centres[b], coord, out[start : start + n], objects, cells.inverse,
                                   ops.voxel_pool(coord, cells, "mean"), cells.coord))
            start += n
        return codes

    # -- each candidate ------------------------------------------------------------------
    def decode(self, codes: Sequence[SceneCode], robot_flows: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Decode B (scene, motion) pairs: codes[b] (may repeat one scene) and
        robot_flows[b] (T+1, M, 3) world-frame metres.

        Returns packed normalised predictions for every scene point of every pair:
        flow (ΣN, T, 3), log_var (ΣN, T), and offset (B,) cumulative point counts. Points
        outside a pair's interaction set get zero flow and ``log_var_min``.
        """
        c, dev = self.config, self.device
        T, d = c.num_steps, c.decoder
        for flow in robot_flows:
            if flow.shape[0] != T + 1:
                raise InputError(f"robot_flow: model predicts T = {T} steps, so robot_flow needs {T + 1} steps, "
                                 f"got {flow.shape[0]}")
        centred_all = [(flow.to(dev, torch.float64) - code.centre).float() for code, flow in zip(codes, robot_flows, strict=True)]
        actives = self._interaction(codes, centred_all)
        rows, fine_feat, cell_key, cell_coords, cell_grids, starts = [], [], [], [], [], []
        start = 0
        for b, (code, centred) in enumerate(zip(codes, centred_all, strict=True)):
            active = actives[b]
            starts.append(start)
            if active.numel():
                cf = contact_features(code.coord[active], centred, c.velocity_scale)
                fine_feat.append(self.scene_proj(code.feat[active]) + self.contact_embed(cf))
                rows.append(active + start)
                cell = code.cell[active]
                cell_key.append(cell + b * (1 << 40))
                cell_coords.append(code.cell_coord)
                cell_grids.append(code.cell_grid)
            start += code.num_points
        total = start
        flow_out = torch.zeros(total, T, 3, device=dev)
        log_var = torch.full((total, T), c.log_var_min, device=dev)
        offset = torch.tensor([s + code.num_points for s, code in zip(starts, codes, strict=True)], device=dev)
        if not rows:
            return flow_out, log_var, offset
        x = torch.cat(fine_feat)  # (P, C) packed over the pairs
        key = torch.cat(cell_key)
        uniq, inv = torch.unique(key, return_inverse=True)  # coarse tokens, sorted by (pair, cell)
        pair = torch.div(uniq, 1 << 40, rounding_mode="floor")
        local = uniq - pair * (1 << 40)
        # gather each coarse token's cell coordinates from its pair's scene
        cc = torch.empty(len(uniq), 3, device=dev)
        cg = torch.empty(len(uniq), 3, dtype=torch.long, device=dev)
        present = sorted(set(pair.tolist()))
        for i, b in enumerate(present):
            sel = pair == b
            cc[sel] = cell_coords[i][local[sel]]
            cg[sel] = cell_grids[i][local[sel]]
        coarse_feat, _ = ops.scatter(self.pool_proj(x), inv, len(uniq), "max")
        batch = torch.searchsorted(torch.tensor(present, device=dev), pair)
        coarse = PointBatch(feat=F.gelu(self.pool_norm(coarse_feat)), coord=cc, grid_coord=cg, batch=batch,
                            offset=batch_to_offset(batch, len(present)),
                            depth=max(c.serialization_depth - (int(d.coarse_stride).bit_length() - 1), 1))
        if len(self.blocks):
            coarse = prepare_stage(coarse, c.backbone.orders)
            layout = patch_layout(coarse.offset, d.patch_size)
            n_orders = len(c.backbone.orders)
            for i, block in enumerate(self.blocks):
                coarse = block(coarse, i % n_orders, layout)
        h = x + self.unpool_proj(coarse.feat).index_select(0, inv)
        h = h + self.mlp(self.norm(h))
        out = self.head(h)  # (P, 4T)
        r = torch.cat(rows)
        flow_out[r] = out[:, : 3 * T].reshape(-1, T, 3)
        log_var[r] = out[:, 3 * T :].clamp(c.log_var_min, c.log_var_max)
        return flow_out, log_var, offset

    def _interaction(self, codes: Sequence[SceneCode], centred: Sequence[Tensor]) -> list[Tensor]:
        """Each pair's interaction set (rows of its scene, int64), one KD-tree query for all
        the pairs that share a scene."""
        out: list[Tensor | None] = [None] * len(codes)
        groups: dict[int, list[int]] = {}
        for b, code in enumerate(codes):
            groups.setdefault(id(code), []).append(b)
        for members in groups.values():
            sets = interaction_sets(codes[members[0]].objects, torch.stack([centred[b] for b in members]),
                                    self.config.decoder.reach)
            for b, mask in zip(members, sets, strict=True):
                out[b] = mask.nonzero().squeeze(1).to(self.device)
        return out

    # -- the WorldModel interface -----------------------------------------------------------
    def forward(self, scenes: Sequence[PointCloud], robots: Sequence[RobotInput]) -> WorldModelOutput:
        """Training entry: B (scene, robot) pairs -> packed normalised predictions."""
        if len(scenes) != len(robots) or not scenes:
            raise InputError(f"forward: need as many scenes as robots (>= 1), got {len(scenes)} and {len(robots)}")
        codes = self.encode(scenes)
        flow, log_var, offset = self.decode(codes, [r.flow for r in robots])
        return WorldModelOutput(flow, log_var, offset)

    def _predict_candidates(self, scene: PointCloud, robots: list[RobotInput]) -> tuple[Tensor, Tensor]:
        """(K, T, N, 3) metres and (K, T, N) log-variances: the scene encoded once, the
        candidates decoded in chunks of ``candidate_chunk``."""
        code = self.encode([scene])[0]
        n, chunk = code.num_points, self.config.candidate_chunk
        flows, log_vars = [], []
        for i in range(0, len(robots), chunk):
            part = robots[i : i + chunk]
            flow, log_var, _ = self.decode([code] * len(part), [r.flow for r in part])
            flows.append(flow.reshape(len(part), n, -1, 3).transpose(1, 2))
            log_vars.append(log_var.reshape(len(part), n, -1).transpose(1, 2))
        return torch.cat(flows) * self.flow_std[:, None, None], torch.cat(log_vars)
