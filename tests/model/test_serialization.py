"""Space-filling-curve codes, serialisation order and the patch layout."""

from __future__ import annotations

import pytest
import torch

from pointwm.model.modules import patch_layout
from pointwm.model.serialization import ORDERS, encode, serialize
from pointwm.model.structure import batch_to_offset, offset_to_batch


def _cube(n: int) -> torch.Tensor:
    return torch.stack(torch.meshgrid(*[torch.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)


@pytest.mark.parametrize("order", ORDERS)
def test_codes_are_a_bijection_of_the_cube(order):
    g = _cube(8)
    code = encode(g, None, 3, order)
    assert torch.equal(torch.sort(code).values, torch.arange(512))


@pytest.mark.parametrize("order", ["hilbert", "hilbert-trans"])
def test_hilbert_steps_to_a_face_neighbour(order):
    g = _cube(16)
    order_idx, _ = serialize(encode(g, None, 4, order))
    steps = (g[order_idx][1:] - g[order_idx][:-1]).abs().sum(1)
    assert torch.all(steps == 1)


def test_z_order_hand_computed():
    g = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 1, 1], [2, 0, 0]])
    assert encode(g, None, 2, "z").tolist() == [0, 1, 2, 4, 7, 32]
    assert encode(g, None, 2, "z-trans").tolist() == [0, 1, 4, 2, 7, 16]


def test_batch_bits_and_budget():
    g = torch.tensor([[1, 2, 3], [1, 2, 3]])
    code = encode(g, torch.tensor([0, 5]), 4, "hilbert")
    assert int(code[1] >> 12) == 5 and int(code[0] & 4095) == int(code[1] & 4095)
    with pytest.raises(ValueError, match="bit budget"):
        encode(g, torch.tensor([0, 1 << 10]), 18, "z")
    with pytest.raises(ValueError, match=r"\[0, 2\*\*4\)"):
        encode(torch.tensor([[16, 0, 0]]), None, 4, "z")
    with pytest.raises(ValueError, match="order"):
        encode(g, None, 4, "peano")


def test_serialize_breaks_ties_by_content():
    code = torch.tensor([[5, 3, 5, 3]])
    key = torch.tensor([[0.9, 0.0, 0.0], [0.5, 0.0, 0.0], [0.1, 0.0, 0.0], [0.2, 0.0, 0.0]])
    order, inverse = serialize(code, key)
    assert order[0].tolist() == [3, 1, 2, 0]
    assert torch.equal(inverse[0][order[0]], torch.arange(4))


def test_patch_layout_covers_every_row_once():
    counts = torch.tensor([10, 3, 8, 1])  # K = 4: long, short, exact multiple, single
    offset = counts.cumsum(0)
    gather, home, mask = patch_layout(offset, 4)
    assert gather.shape[0] % 4 == 0 and mask is not None and mask.shape == (gather.shape[0] // 4, 4)
    assert torch.equal(gather[home], torch.arange(int(offset[-1])))  # each row's home holds it
    batch = offset_to_batch(offset)
    patches = gather.reshape(-1, 4)
    for p, m in zip(patches, mask, strict=True):
        assert batch[p].unique().numel() == 1  # a patch never mixes samples
        assert p[m].unique().numel() == int(m.sum())  # attended slots are distinct rows
    assert torch.equal(batch_to_offset(batch, 4), offset)
    _, _, no_mask = patch_layout(torch.tensor([8, 20]), 4)
    assert no_mask is None


def test_z_order_matches_bit_loop_at_full_depth():
    g = torch.randint(0, 1 << 21, (1000, 3), generator=torch.Generator().manual_seed(0))
    naive = torch.zeros(1000, dtype=torch.long)
    for i in range(21):
        naive |= (((g[:, 0] >> i) & 1) << (3 * i + 2)) | (((g[:, 1] >> i) & 1) << (3 * i + 1)) | (((g[:, 2] >> i) & 1) << (3 * i))
    assert torch.equal(encode(g, None, 21, "z"), naive)
    assert int(encode(torch.tensor([[1 << 20, 0, 0]]), None, 21, "z")) == 1 << 62
