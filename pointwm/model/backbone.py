"""Point Transformer V3-style U-Net over a packed point set (Wu et al., CVPR 2024).

Encoder: stage 0 runs blocks on the input tokens; each later stage pools by 2 on the
voxel grid, then runs its blocks. Decoder: from the coarsest stage back up, unpool (gather
through the pooling inverse + skip connection) and run blocks. Each stage's serialisation
orders, patch layout and sparse-conv rulebook are built once and shared by its blocks;
block i of a stage attends along order ``i mod len(orders)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from pointwm.errors import InputError
from pointwm.model.modules import Block, GridPooling, GridUnpooling, patch_layout, prepare_stage
from pointwm.model.serialization import ORDERS
from pointwm.model.structure import PointBatch

__all__ = ["BackboneConfig", "PointTransformerV3"]


@dataclass(frozen=True)
class BackboneConfig:
    """Depths and widths of the U-Net. Encoder lists have S entries, decoder lists S - 1.

    enc_depths / enc_channels / enc_num_heads: blocks, width and heads per encoder stage.
    dec_depths / dec_channels / dec_num_heads: the same per decoder stage (index s is the
        stage that unpools into encoder stage s).
    patch_size: tokens per attention patch. mlp_ratio: MLP hidden width / channels.
    drop_path: the largest drop-path rate (linear over encoder and decoder blocks).
    orders: serialisation orders cycled through by the blocks of a stage.
    stride: grid pooling stride per stage (a power of two).
    """

    enc_depths: tuple[int, ...] = (2, 2, 2, 6, 2)
    enc_channels: tuple[int, ...] = (32, 64, 128, 256, 512)
    enc_num_heads: tuple[int, ...] = (2, 4, 8, 16, 32)
    dec_depths: tuple[int, ...] = (2, 2, 2, 2)
    dec_channels: tuple[int, ...] = (64, 64, 128, 256)
    dec_num_heads: tuple[int, ...] = (4, 4, 8, 16)
    patch_size: int = 256
    mlp_ratio: float = 4.0
    drop_path: float = 0.3
    orders: tuple[str, ...] = ORDERS
    stride: int = 2

    def __post_init__(self) -> None:
        s = len(self.enc_depths)
        if s < 1 or len(self.enc_channels) != s or len(self.enc_num_heads) != s:
            raise InputError(
                f"BackboneConfig: enc_depths, enc_channels and enc_num_heads must have equal "
                f"length >= 1, got {self.enc_depths}, {self.enc_channels}, {self.enc_num_heads}"
            )
        for name in ("dec_depths", "dec_channels", "dec_num_heads"):
            if len(getattr(self, name)) != s - 1:
                raise InputError(f"BackboneConfig: {name} must have {s - 1} entries, got {getattr(self, name)}")
        for name, ch, hd in (("enc", self.enc_channels, self.enc_num_heads),
                             ("dec", self.dec_channels, self.dec_num_heads)):
            for c, h in zip(ch, hd, strict=True):
                if c % h:
                    raise InputError(f"BackboneConfig: {name} channels {c} not divisible by {h} heads")
        bad = [o for o in self.orders if o not in ORDERS]
        if not self.orders or bad:
            raise InputError(f"BackboneConfig: orders must be a non-empty subset of {ORDERS}, got {self.orders}")
        if self.patch_size < 1:
            raise InputError(f"BackboneConfig: patch_size must be >= 1, got {self.patch_size}")

    @property
    def out_channels(self) -> int:
        return self.dec_channels[0] if self.dec_channels else self.enc_channels[0]


class PointTransformerV3(nn.Module):
    """U-Net of PTv3 blocks: ``forward(points)`` → the same rows with ``out_channels`` features.

    The input :class:`PointBatch` has ``enc_channels[0]`` features. Its finest-stage order
    breaks ties between tokens of one voxel by their coordinates, so the output does not
    depend on row order except through exact duplicates.
    """

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = c = config
        n_blocks = sum(c.enc_depths) + sum(c.dec_depths)
        rates = [c.drop_path * i / max(n_blocks - 1, 1) for i in range(n_blocks)]
        it = iter(rates)
        self.enc = nn.ModuleList()
        self.pool = nn.ModuleList()
        for s, (d, ch, h) in enumerate(zip(c.enc_depths, c.enc_channels, c.enc_num_heads, strict=True)):
            if s > 0:
                self.pool.append(GridPooling(c.enc_channels[s - 1], ch, c.stride))
            self.enc.append(nn.ModuleList(
                Block(ch, h, c.patch_size, c.mlp_ratio, next(it)) for _ in range(d)
            ))
        self.unpool = nn.ModuleList()
        self.dec = nn.ModuleList()
        for s in range(len(c.dec_depths)):
            coarse_ch = c.enc_channels[-1] if s == len(c.dec_depths) - 1 else c.dec_channels[s + 1]
            self.unpool.append(GridUnpooling(coarse_ch, c.enc_channels[s], c.dec_channels[s]))
            self.dec.append(nn.ModuleList(
                Block(c.dec_channels[s], c.dec_num_heads[s], c.patch_size, c.mlp_ratio, next(it))
                for _ in range(c.dec_depths[s])
            ))

    def _run(self, blocks: nn.ModuleList, points: PointBatch) -> PointBatch:
        if len(blocks) == 0:
            return points
        layout = patch_layout(points.offset, self.config.patch_size)
        n_orders = len(self.config.orders)
        for i, block in enumerate(blocks):
            points = block(points, i % n_orders, layout)
        return points

    def forward(self, points: PointBatch) -> PointBatch:
        """points: (ΣN rows) with ``enc_channels[0]`` features → (ΣN rows, out_channels).

        Orders and rulebook already attached to ``points`` are used as given (the world
        model builds the finest stage's itself, from precomputed scene codes).
        """
        c = self.config
        if points.order is None or points.rulebook is None:
            points = prepare_stage(points, c.orders, tie_break=True)
        skips, inverses = [], []
        for s, blocks in enumerate(self.enc):
            if s > 0:
                skips.append(points)
                points, inverse = self.pool[s - 1](points)
                inverses.append(inverse)
                points = prepare_stage(points, c.orders)
            points = self._run(blocks, points)
        for s in reversed(range(len(self.dec))):
            points = self.unpool[s](points, skips[s], inverses[s])
            points = self._run(self.dec[s], points)
        return points
