"""MPPI on analytic dynamics, limits as a property over random inputs, both robots,
warm start, time budget and bad input."""

import pytest
import torch

from planning import (
    Goal,
    MPPIPlanner,
    PlannerConfig,
    PlanningError,
    RandomShootingPlanner,
    Rollout,
    project_to_limits,
)

EVERYWHERE = (-10, -10, -10, 10, 10, 10)


def link_follower(robot, link):
    """Every scene point moves with the centroid of one link's surface points."""
    sel = robot.point_link == robot.link_names.index(link)

    def dynamics(scene, rollout):
        c = rollout.robot_flow[:, :, sel].mean(2)  # (K, T+1, 3)
        d = c[:, 1:] - c[:, :1]
        return d[:, :, None].expand(-1, -1, scene.shape[0], -1)

    return dynamics


class LinearJointDynamics:
    """flow_t = A (q_t - q0) for every point: a linear dynamics in joint space."""

    def __init__(self, A):
        self.A = A  # (3, J)

    def __call__(self, scene, rollout):
        q_traj = rollout.q
        d = (q_traj[:, 1:] - q_traj[:, :1]).float() @ self.A.T  # (K, T, 3)
        return d[:, :, None].expand(-1, -1, scene.shape[0], -1)


class Recorder:
    """Records every sampled joint trajectory; the scene follows joint 0 (any flow will do).
    ``clock``: a fake clock that each call advances by ``cost`` seconds (a slow model)."""

    def __init__(self, clock=None, cost=0.0):
        self.q, self.clock, self.cost = [], clock, cost

    def __call__(self, scene, rollout):
        q_traj = rollout.q
        self.q.append(q_traj.double().clone())
        if self.clock is not None:
            self.clock.now += self.cost
        d = (q_traj[:, 1:, :1] - q_traj[:, :1, :1]).float().expand(-1, -1, 3)
        return d[:, :, None].expand(-1, -1, scene.shape[0], -1).contiguous()


def quiet(**kw):
    base = dict(K=48, T=6, iterations=6, weights={"smoothness": 0.0, "size": 0.0, "joint_limit": 0.0, "table": 0.0})
    base.update(kw)
    return PlannerConfig.from_dict(base)


def test_converges_to_known_optimum_link_follower(panda, scene_xyz):
    d = torch.tensor([0.06, -0.04, 0.03])
    goal = Goal(box=EVERYWHERE, displacement=tuple(d.tolist()))
    dyn = link_follower(panda, "panda_hand")
    plan = MPPIPlanner(quiet(iterations=8, K=64)).plan(dyn, scene_xyz, panda, panda.default_q, goal)
    moved = plan.predicted_flow[-1, 0]  # the hand's displacement at T
    assert torch.linalg.vector_norm(moved - d) < 0.01, moved
    h = plan.cost_history
    assert all(b <= a + 1e-9 for a, b in zip(h, h[1:], strict=False)) and h[-1] < 0.5 * h[0]
    assert set(plan.cost_terms) >= {"goal", "still", "smoothness", "size", "joint_limit", "table"}


def test_converges_linear_joint_dynamics(panda, scene_xyz):
    J = panda.num_joints
    A = torch.zeros(3, J)
    A[0, 0], A[1, 1], A[2, 3] = 1.0, 1.0, 1.0  # x <- joint 1, y <- joint 2, z <- joint 4
    d = (0.3, -0.2, 0.25)
    goal = Goal(box=EVERYWHERE, displacement=d)
    plan = MPPIPlanner(quiet(iterations=10, K=64, noise_std=1.0)).plan(
        LinearJointDynamics(A), scene_xyz, panda, panda.default_q, goal)
    dq = (plan.actions[-1] - plan.q0).float()
    torch.testing.assert_close(dq[[0, 1, 3]], torch.tensor(d), atol=0.02, rtol=0)


def _check_limits(robot, qs, dt, tol=1e-5):
    lo, hi = robot.lower.double(), robot.upper.double()
    vb = robot.velocity_limits.double() * dt
    for q in qs:
        q = q.double()
        assert bool((q >= lo - tol).all() and (q <= hi + tol).all()), "position limit violated"
        assert bool((torch.diff(q, dim=-2).abs() <= vb + tol).all()), "velocity limit violated"


@pytest.mark.parametrize("robot_name", ["panda", "bimanual"])
def test_limits_hold_for_every_sample_property(robot_name, request):
    """Seeded random q0 (including on the limits), goals, noise levels and warm starts."""
    robot = request.getfixturevalue(robot_name)
    g = torch.Generator().manual_seed(1)
    J = robot.num_joints
    lo, hi = robot.lower, robot.upper
    for trial in range(8):
        u = torch.rand(J, generator=g, dtype=torch.float64)
        q0 = lo + u * (hi - lo)
        if trial % 2:  # some joints exactly on a limit
            on = torch.rand(J, generator=g) < 0.4
            q0 = torch.where(on, torch.where(torch.rand(J, generator=g) < 0.5, lo, hi), q0)
        xyz = torch.rand(30, 3, generator=g)
        disp = tuple((torch.randn(3, generator=g) * 0.5).tolist())
        cfg = PlannerConfig(K=16, T=5, iterations=2, noise_std=float(0.5 + 3 * torch.rand(1, generator=g)),
                            tool_noise_std=0.05 * (trial % 2), seed=trial)
        # A wild warm start far outside the limits must be projected too.
        warm = q0 + 10 * torch.randn(cfg.T, J, generator=g, dtype=torch.float64)
        for planner in (MPPIPlanner(cfg), RandomShootingPlanner(cfg)):
            rec = Recorder()
            plan = planner.plan(rec, xyz, robot, q0, Goal(box=EVERYWHERE, displacement=disp), warm_start=warm)
            _check_limits(robot, rec.q, cfg.dt)
            full = torch.cat([plan.q0[None], plan.actions]).double()
            _check_limits(robot, [full], cfg.dt)
            assert plan.actions.shape == (cfg.T, J)


@pytest.mark.parametrize("std", [0.004, (0.004, 0.002, 0.0)])
def test_tool_noise_moves_the_tool_by_the_configured_amount(panda, scene_xyz, std):
    """With joint noise negligible, the first step of every sample moves the tool by the
    configured Cartesian std per world axis and (to first order) does not rotate it."""
    cfg = PlannerConfig(K=256, T=3, iterations=1, noise_std=1e-6, tool_noise_std=std, seed=3)
    rec = Recorder()
    MPPIPlanner(cfg).plan(rec, scene_xyz, panda, panda.default_q, Goal(box=EVERYWHERE, displacement=(0.1, 0, 0)))
    q1 = rec.q[0][1:, 1]  # sample 0 is the mean itself
    tool = panda.link_names.index(panda.tool_link_names[0])
    P0 = panda.link_poses(panda.default_q)[tool]
    P1 = panda.link_poses(q1)[:, tool]
    dp = P1[:, :3, 3] - P0[:3, 3]
    std = dp.std(0)
    want = torch.tensor(cfg.tool_noise_xyz, dtype=std.dtype)
    assert bool(((std >= 0.7 * want) & (std <= 1.3 * want + 1e-4)).all()), (std, want)
    cos = ((P0[:3, :3].T @ P1[:, :3, :3]).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    angle = torch.arccos(cos.clamp(-1, 1))
    assert float(angle.max()) < 0.02, "tool noise rotated the tool"


def test_tool_noise_needs_tool_links(scene_xyz, panda):
    from kinematics import RobotModel

    bare = RobotModel.from_urdf(panda.urdf_path, num_points=50, tool_links=[])
    cfg = PlannerConfig(K=4, T=3, iterations=1, tool_noise_std=0.01)
    with pytest.raises(PlanningError, match="tool links"):
        MPPIPlanner(cfg).plan(Recorder(), scene_xyz, bare, bare.default_q, Goal(box=EVERYWHERE, displacement=(0.1, 0, 0)))


def test_project_to_limits_is_identity_inside(panda):
    q0 = panda.default_q.float()
    vb = panda.velocity_limits.float() * 0.1
    step = 0.5 * vb
    step[-1] = -step[-1]  # the finger starts on its upper limit: move it inwards
    q = q0 + step * torch.arange(1, 5)[:, None]
    torch.testing.assert_close(project_to_limits(q, q0, panda.lower.float(), panda.upper.float(), vb), q)


@pytest.mark.parametrize("robot_name", ["panda", "bimanual"])
def test_same_planner_both_robots(robot_name, request, scene_xyz):
    robot = request.getfixturevalue(robot_name)
    hand = next(n for n in robot.link_names if "hand" in n)
    dyn = link_follower(robot, hand)
    goal = Goal(box=EVERYWHERE, displacement=(0.05, 0.0, 0.0))
    plan = MPPIPlanner(quiet(K=32, T=5, iterations=4)).plan(dyn, scene_xyz, robot, robot.default_q, goal)
    assert plan.actions.shape == (5, robot.num_joints)
    assert plan.robot_flow.shape == (6, robot.num_points, 3)
    assert plan.predicted_flow.shape == (5, 40, 3)
    assert plan.cost_history[-1] < plan.cost_history[0] or plan.cost_history[0] < 0.05


def test_warm_start_shifts(panda, scene_xyz):
    cfg = quiet(K=8, T=5, iterations=1)
    goal = Goal(box=EVERYWHERE, displacement=(0.05, 0.0, 0.0))
    first = MPPIPlanner(cfg).plan(Recorder(), scene_xyz, panda, panda.default_q, goal)
    s = first.shifted(1)
    torch.testing.assert_close(s[:-1], first.mean[1:])
    torch.testing.assert_close(s[-1], first.mean[-1])
    torch.testing.assert_close(first.shifted(3)[2:], first.mean[-1].expand(3, -1))
    rec = Recorder()
    q1 = first.actions[0]
    MPPIPlanner(cfg).plan(rec, scene_xyz, panda, q1, goal, warm_start=first)
    expected = project_to_limits(s, q1.float(), panda.lower.float(), panda.upper.float(),
                                 panda.velocity_limits.float() * cfg.dt)
    torch.testing.assert_close(rec.q[0][0, 1:].float(), expected)  # sample 0 = the warm-started mean


class FakeClock:
    """Stands in for ``time.perf_counter`` in the planner: time passes only when the
    dynamics says so (no wall-clock in the test)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_budget_stops_before_an_iteration_that_would_overrun(panda, scene_xyz, monkeypatch):
    """Each iteration costs 0.1 s of (fake) time: with a 0.45 s budget MPPI runs 4 and stops,
    since a fifth would end at 0.5 s; the best plan so far is returned."""
    import planning.mppi

    clock = FakeClock()
    monkeypatch.setattr(planning.mppi.time, "perf_counter", clock)
    cfg = quiet(K=4, T=3, iterations=50, time_budget_s=0.45)
    goal = Goal(box=EVERYWHERE, displacement=(0.05, 0.0, 0.0))
    plan = MPPIPlanner(cfg).plan(Recorder(clock, 0.1), scene_xyz, panda, panda.default_q, goal)
    assert plan.stopped_early and len(plan.cost_history) == 4
    assert plan.elapsed_s == pytest.approx(0.4)


def test_progress_callback(panda, scene_xyz):
    seen = []
    MPPIPlanner(quiet(K=4, T=3, iterations=3)).plan(
        Recorder(), scene_xyz, panda, panda.default_q, "box:-10,-10,-10,10,10,10+0.1,0,0",
        progress=lambda i, n, c: seen.append((i, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_bad_input(panda, scene_xyz):
    planner = MPPIPlanner(quiet(K=4, T=3, iterations=1))
    goal = Goal(box=EVERYWHERE, displacement=(0.05, 0.0, 0.0))
    q = panda.default_q.clone()
    q[3] = 5.0
    with pytest.raises(PlanningError, match="q0 outside the joint limits.*panda_joint4"):
        planner.plan(Recorder(), scene_xyz, panda, q, goal)
    with pytest.raises(PlanningError, match=r"q0: expected shape \(8,\)"):
        planner.plan(Recorder(), scene_xyz, panda, torch.zeros(7), goal)

    def wrong(scene, rollout):
        return torch.zeros(rollout.K, 3, 7, 3)

    with pytest.raises(PlanningError, match=r"dynamics: expected scene flows of shape \(4, 3, 40, 3\)"):
        planner.plan(wrong, scene_xyz, panda, panda.default_q, goal)
    with pytest.raises(Exception, match="selects no points"):
        planner.plan(Recorder(), scene_xyz, panda, panda.default_q, "box:5,5,5,6,6,6+0.1,0,0")
    class FakeModel:
        class config:  # noqa: N801
            num_steps = 10

        def predict(self, scene, robot_flows):
            raise AssertionError("not reached")

    with pytest.raises(PlanningError, match="world_model predicts T = 10 steps"):
        planner.plan(FakeModel(), scene_xyz, panda, panda.default_q, goal)
    with pytest.raises(TypeError, match="world_model"):
        planner.plan(42, scene_xyz, panda, panda.default_q, goal)


def test_output_mean_returns_the_rolled_out_mean(panda, scene_xyz):
    # output: mean returns MPPI's final weighted mean, its flow from one more rollout of the
    # dynamics, and still converges on the analytic link follower.
    d = torch.tensor([0.06, -0.04, 0.03])
    goal = Goal(box=EVERYWHERE, displacement=tuple(d.tolist()))
    dyn = link_follower(panda, "panda_hand")
    cfg = quiet(iterations=8, K=64, output="mean")
    plan = MPPIPlanner(cfg).plan(dyn, scene_xyz, panda, panda.default_q, goal)
    torch.testing.assert_close(plan.actions, plan.mean)
    assert plan.samples == 8 * 64 + 1 and plan.info["output"] == "mean"
    q = torch.cat([plan.q0[None], plan.actions])[None]
    torch.testing.assert_close(plan.predicted_flow, dyn(scene_xyz, Rollout(q, panda.point_flow(q).float()))[0])
    assert torch.linalg.vector_norm(plan.predicted_flow[-1, 0] - d) < 0.01
    _check_limits(panda, [plan.actions], cfg.dt)
    with pytest.raises(ValueError, match="output"):
        PlannerConfig(output="median")


def _max_tool_step(robot, q_traj):
    """Largest per-step move of any tool link over (K, T+1, J) trajectories (m)."""
    tools = [robot.link_names.index(n) for n in robot.tool_link_names]
    p = robot.link_poses(q_traj.double(), validate=False)[..., tools, :3, 3]  # (K, T+1, E, 3)
    return float((p[:, 1:] - p[:, :-1]).norm(dim=-1).max())


@pytest.mark.parametrize("robot_name", ["panda", "bimanual"])
def test_max_tool_speed_caps_every_sample_within_the_limits(robot_name, request):
    """Property over seeded random q0, noise and goals: with max_tool_speed no sample (and no
    plan) moves a tool faster, and the joint limits still hold; without it the same samples do."""
    from planning import limit_tool_speed

    robot = request.getfixturevalue(robot_name)
    g = torch.Generator().manual_seed(5)
    lo, hi, J = robot.lower, robot.upper, robot.num_joints
    vmax = 0.12  # m/s
    for trial in range(4):
        q0 = lo + torch.rand(J, generator=g, dtype=torch.float64) * (hi - lo)
        xyz = torch.rand(30, 3, generator=g)
        disp = tuple((torch.randn(3, generator=g) * 0.3).tolist())
        base = dict(K=16, T=5, iterations=2, noise_std=2.0, tool_noise_std=0.03, seed=trial)
        free, capped = Recorder(), Recorder()
        MPPIPlanner(PlannerConfig(**base)).plan(free, xyz, robot, q0, Goal(box=EVERYWHERE, displacement=disp))
        for planner in (MPPIPlanner(PlannerConfig(**base, max_tool_speed=vmax)),
                        RandomShootingPlanner(PlannerConfig(**base, max_tool_speed=vmax, output="best"))):
            plan = planner.plan(capped, xyz, robot, q0, Goal(box=EVERYWHERE, displacement=disp))
            full = torch.cat([plan.q0[None], plan.actions])[None].double()
            assert _max_tool_step(robot, full) <= vmax * 0.1 * 1.01
        assert max(_max_tool_step(robot, q) for q in free.q) > 2 * vmax * 0.1  # the cap had work to do
        assert max(_max_tool_step(robot, q) for q in capped.q) <= vmax * 0.1 * 1.01
        _check_limits(robot, capped.q, 0.1)
    # slow sequences are left exactly as they were
    q = robot.default_q.double() + 1e-4 * torch.arange(1, 4, dtype=torch.float64)[:, None]
    assert torch.equal(limit_tool_speed(q, robot.default_q.double(), robot, 1.0), q)
    with pytest.raises(ValueError, match="max_tool_speed"):
        PlannerConfig(max_tool_speed=0.0)


def test_score_gives_a_plans_own_cost(panda, scene_xyz):
    """``score`` rates given actions as ``plan`` rates its candidates: the returned plan's
    actions score its reported cost and terms, with the same or another dynamics."""
    goal = Goal(box=EVERYWHERE, displacement=(0.05, 0.0, 0.0))
    planner = MPPIPlanner(quiet(K=8, T=4, iterations=2))
    dyn = link_follower(panda, "panda_hand")
    plan = planner.plan(dyn, scene_xyz, panda, panda.default_q, goal)
    cost, terms = planner.score(dyn, scene_xyz, panda, panda.default_q, goal, plan.actions)
    assert float(cost[0]) == pytest.approx(plan.cost, rel=1e-6)
    assert {k: float(v[0]) for k, v in terms.items()} == pytest.approx(plan.cost_terms, rel=1e-6)
    still, _ = planner.score(Recorder(), scene_xyz, panda, panda.default_q, goal, plan.actions[None].repeat(3, 1, 1))
    assert still.shape == (3,)
    with pytest.raises(PlanningError, match="actions: expected"):
        planner.score(dyn, scene_xyz, panda, panda.default_q, goal, plan.actions[:2])


def test_cost_terms_are_injected_by_name(panda, scene_xyz):
    """A task's term counts with its weight and is reported in order after the goal; a
    weight that no term answers to, or a task term named like a generic one, is refused."""
    goal = Goal(box=EVERYWHERE, displacement=(0.05, 0.0, 0.0))
    calls = []

    def hand_height(c):  # (K,) metres: the mean height of the robot points at the last step
        calls.append(c.rollout.q.shape)
        return c.rollout.robot_flow[:, -1, :, 2].mean(-1)

    cfg = quiet(K=8, T=4, iterations=1, weights={"height": 3.0})
    plan = MPPIPlanner(cfg, cost_terms={"height": hand_height}).plan(Recorder(), scene_xyz, panda, panda.default_q, goal)
    assert list(plan.cost_terms)[:2] == ["goal", "height"] and calls == [(8, 5, panda.num_joints)]
    height = float(plan.robot_flow[-1, :, 2].mean())
    assert plan.cost_terms["height"] == pytest.approx(3.0 * height, rel=1e-5)
    with pytest.raises(PlanningError, match="nothing provides: \\['height'\\]"):
        MPPIPlanner(cfg)
    MPPIPlanner(quiet(weights={"height": 0.0}))  # a zero weight is a term turned off: nothing needs providing
    with pytest.raises(PlanningError, match="planner's own terms"):
        MPPIPlanner(quiet(), cost_terms={"goal": hand_height})


@pytest.mark.parametrize("way", [(0.05, 0.0, 0.0), (0.0, 0.05, 0.0), (0.0, 0.0, -0.05), (-0.035, 0.035, 0.0)])
def test_the_default_preset_reaches_an_easy_goal_from_a_cold_start(panda, way):
    """Points attached to the hand, a goal 5 cm away, the default preset from the default
    joints with no warm start: the plan brings them within 5 mm (the old default, joint noise
    0.5 with 4 iterations, left 3.8 cm of the 5 on average)."""
    cfg = PlannerConfig.from_yaml("default")
    hand = panda.point_flow(panda.default_q.float().expand(1, 11, -1))[0, 0][
        panda.point_link == panda.link_names.index("panda_hand")].mean(0)
    scene = hand + torch.rand(30, 3, generator=torch.Generator().manual_seed(0)) * 0.02
    goal = Goal(mask=torch.ones(30, dtype=torch.bool), displacement=way)
    plan = MPPIPlanner(cfg).plan(link_follower(panda, "panda_hand"), scene, panda, panda.default_q, goal)
    assert float((plan.predicted_flow[-1, 0] - torch.tensor(way)).norm()) < 0.005
