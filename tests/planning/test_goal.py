import pytest
import torch

from planning import Goal, GoalError


def test_parse_forms(scene_xyz):
    g = Goal.parse("box:0,-1,-1,1,1,1+0.1,0,-0.02")
    assert g.box == (0, -1, -1, 1, 1, 1) and g.displacement == (0.1, 0.0, -0.02) and g.step is None
    r = g.resolve(scene_xyz, T=10)
    assert r.index.numel() == 40 and r.step == 9
    torch.testing.assert_close(r.targets, scene_xyz + torch.tensor([0.1, 0.0, -0.02]))
    g = Goal.parse("idx:0,3,5>0.5,0.1,0.05@4")
    r = g.resolve(scene_xyz, T=10)
    assert r.index.tolist() == [0, 3, 5] and r.step == 3
    torch.testing.assert_close(r.targets.mean(0), torch.tensor([0.5, 0.1, 0.05]))
    g = Goal.parse("box:0,-1,-1,1,1,1 > box:0.5,0.0,0.0,0.6,0.1,0.1")
    r = g.resolve(scene_xyz, T=10)
    assert r.targets is None
    inside = torch.tensor([[0.55, 0.05, 0.05]])
    assert float(r.distance(inside)) == 0.0
    assert float(r.distance(torch.tensor([[0.7, 0.05, 0.05]]))) == pytest.approx(0.1)


def test_mask_and_positions(scene_xyz):
    m = torch.zeros(40, dtype=torch.bool)
    m[:4] = True
    r = Goal(mask=m, positions=scene_xyz[:4] + 1).resolve(scene_xyz, T=5)
    torch.testing.assert_close(r.targets, scene_xyz[:4] + 1)


@pytest.mark.parametrize("text, match", [
    ("", "expected text"),
    ("box:0,0,0,1,1+0,0,0", "6 finite"),
    ("box:1,0,0,0,1,1+0,0,0", "x0<=x1"),
    ("sphere:0,0,0+1,1,1", "SELECTION TARGET"),
    ("box:0,0,0,1,1,1+0,0", "3 finite"),
    ("idx:a,b+0,0,0", "integers"),
    ("box:0,0,0,1,1,1+nan,0,0", "finite"),
])
def test_parse_errors(text, match):
    with pytest.raises(GoalError, match=match):
        Goal.parse(text)


def test_resolve_errors(scene_xyz):
    with pytest.raises(GoalError, match="selects no points"):
        Goal.parse("box:2,2,2,3,3,3+0.1,0,0").resolve(scene_xyz, T=10)
    with pytest.raises(GoalError, match="outside the workspace"):
        Goal.parse("box:0,-1,-1,1,1,1+5,0,0").resolve(scene_xyz, T=10, workspace=((0, -0.4, -0.3), (0.7, 0.4, 1.2)))
    with pytest.raises(GoalError, match="horizon"):
        Goal.parse("box:0,-1,-1,1,1,1+0.1,0,0@11").resolve(scene_xyz, T=10)
    with pytest.raises(GoalError, match=r"indices must be in \[0, 40\)"):
        Goal.parse("idx:1,40+0.1,0,0").resolve(scene_xyz, T=10)
    with pytest.raises(GoalError, match="mask has 3 entries"):
        Goal(mask=torch.ones(3, dtype=torch.bool), displacement=(0, 0, 0)).resolve(scene_xyz, T=10)
    with pytest.raises(GoalError, match="exactly one selection"):
        Goal(displacement=(0, 0, 0))
    with pytest.raises(GoalError, match="exactly one target"):
        Goal(indices=(1,), displacement=(0, 0, 0), centroid=(0, 0, 0))


def test_config_yaml():
    from planning import PlannerConfig

    cfg = PlannerConfig.from_yaml("default")
    assert cfg.K == 64 and cfg.T == 10 and cfg.weights["goal"] > 0
    assert PlannerConfig.from_yaml("closed_loop").weights["reach"] > 0
    with pytest.raises(ValueError, match="unknown keys"):
        PlannerConfig.from_dict({"K": 3, "horizon": 4})
    with pytest.raises(ValueError, match="PlannerConfig.K"):
        PlannerConfig(K=0)
    assert max(PlannerConfig.from_yaml("closed_loop").tool_noise_xyz) > 0 and PlannerConfig().tool_noise_xyz == (0.0, 0.0, 0.0)
    assert PlannerConfig(tool_noise_std=[0.01, 0.02, 0]).tool_noise_std == (0.01, 0.02, 0.0)  # YAML lists become tuples
    for bad in (-0.01, (0.01, 0.01), (0.01, -0.01, 0.0), (0.01, float("nan"), 0.0)):
        with pytest.raises(ValueError, match="PlannerConfig.tool_noise_std"):
            PlannerConfig(tool_noise_std=bad)
    with pytest.raises(ValueError, match="PlannerConfig.tool_rot_noise_std"):
        PlannerConfig(tool_rot_noise_std=float("nan"))
    with pytest.raises(ValueError, match="PlannerConfig.tool_damping"):
        PlannerConfig(tool_damping=0.0)


def test_centroid_goal_lets_the_points_turn(scene_xyz):
    """A centroid goal costs the centroid's distance only: the selected points turned about
    their centroid at the target cost nothing, shifted by 3 cm they cost 3 cm each; a
    displacement goal to the same place charges the turn."""
    sel = scene_xyz[:6]
    target = (0.5, 0.1, 0.05)
    r = Goal(indices=tuple(range(6)), centroid=target).resolve(scene_xyz, T=10)
    assert r.centroid
    c = torch.tensor(target)
    a = torch.tensor(0.7)
    rot = torch.tensor([[torch.cos(a), -torch.sin(a), 0.0], [torch.sin(a), torch.cos(a), 0.0], [0.0, 0.0, 1.0]])
    turned = (sel - sel.mean(0)) @ rot.T + c
    torch.testing.assert_close(r.distance(turned), torch.zeros(6), atol=1e-6, rtol=0)
    shifted = turned + torch.tensor([0.0, 0.03, 0.0])
    torch.testing.assert_close(r.distance(shifted), torch.full((6,), 0.03), atol=1e-6, rtol=0)
    torch.testing.assert_close(r.to_go(shifted), torch.tensor([0.0, -0.03, 0.0]).expand(6, 3), atol=1e-6, rtol=0)
    # batched positions (K, T, G, 3), as the costs pass them
    assert r.distance(torch.stack([turned, shifted])[None]).shape == (1, 2, 6)
    rigid = Goal(indices=tuple(range(6)), displacement=tuple((c - sel.mean(0)).tolist())).resolve(scene_xyz, T=10)
    assert not rigid.centroid
    assert float(rigid.distance(turned).mean()) > 0.01
    torch.testing.assert_close(rigid.distance(sel - sel.mean(0) + c), torch.zeros(6), atol=1e-6, rtol=0)
