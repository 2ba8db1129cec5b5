"""Push calibration (``pointwm.eval.push_calibration``) on one push task with an untrained tiny
model: the simulator side is checked against physics (a centred push from the lined-up
start moves the object forward, a longer push farther; a push whose line passes 8 cm beside a
4.1 cm cylinder misses it; leaving the object does not move it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pointwm.eval.push_calibration import LENGTHS, RETREATS, calibrate, straight_path
from pointwm.model import ModelConfig, WorldModel

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny():
    return WorldModel(ModelConfig.from_yaml(REPO / "configs/model/tiny.yaml")).eval()


def test_straight_path_moves_the_tool_along_the_way(panda):
    from kinematics.ik import tool_link_index

    q0 = panda.default_q.numpy()
    path = straight_path(panda, q0, np.array([0.05, 0.0, 0.0]), 5, side=np.array([0.0, 0.03, 0.0]))
    tool = panda.link_poses(torch.from_numpy(np.concatenate([q0[None], path])))[:, tool_link_index(panda), :3, 3].numpy()
    np.testing.assert_allclose(tool[-1] - tool[0], [0.05, 0.03, 0.0], atol=2e-3)
    np.testing.assert_allclose(tool[3] - tool[0], [0.03, 0.03, 0.0], atol=2e-3)  # the side step done by step 3


def test_offsets_centred_push_moves_the_object_and_a_wide_one_misses(tiny, panda):
    res = calibrate(tiny, panda, 21, "offsets", offsets_cm=(0.0, 8.0))
    assert [r.label for r in res] == ["offset 0.0 cm", "offset 8.0 cm"]
    assert all(r.model.shape == r.simulator.shape == (10, 2) for r in res)
    assert res[0].simulator[-1, 0] > 0.05  # m: lined up behind the object, 15 cm through it
    assert abs(res[1].simulator[-1, 0]) < 0.01  # 8 cm beside the centre of a 4.1 cm cylinder: no contact


def test_longer_pushes_move_the_object_farther_and_retreats_leave_it(tiny, panda):
    pushes = calibrate(tiny, panda, 21, "lengths")
    assert [r.label for r in pushes] == [f"push {L * 100:.0f} cm" for L in LENGTHS]
    ends = [r.simulator[-1, 0] for r in pushes]
    assert ends == sorted(ends) and ends[-1] > ends[0] + 0.05
    back = calibrate(tiny, panda, 21, "retreat", pre=0.04, hold=2)
    assert [r.label for r in back] == list(RETREATS)
    assert max(np.linalg.norm(r.simulator[-1]) for r in back[:2]) < 0.01  # straight back: a pusher cannot pull
    with pytest.raises(ValueError, match="family"):
        calibrate(tiny, panda, 21, "sideways")
