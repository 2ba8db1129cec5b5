"""Scene specs, their MJCF and the world config."""

import numpy as np
import pytest

from pointwm.sim import WorldConfig
from pointwm.sim.scene import rock_hull


def test_rock_hull_rests_a_tilted_box_on_its_largest_face():
    """Hand-computed: a 10 x 6 x 4 cm box turned at random comes back rigidly (same vertex
    distances), with a 10 x 6 cm face down: four vertices at z = -2 cm, four at +2 cm."""
    from scipy.spatial.transform import Rotation

    corners = np.array([[x, y, z] for x in (-0.05, 0.05) for y in (-0.03, 0.03) for z in (-0.02, 0.02)])
    tilted = corners @ Rotation.random(random_state=3).as_matrix().T + 0.3
    v = rock_hull(tilted)
    assert v.shape == (8, 3)
    np.testing.assert_allclose(np.sort(v[:, 2]), [-0.02] * 4 + [0.02] * 4, atol=1e-9)
    np.testing.assert_allclose(v[:, :2].mean(0), 0, atol=1e-12)
    dist = lambda p: np.sort(np.linalg.norm(p[:, None] - p[None], axis=-1).reshape(-1))  # noqa: E731
    np.testing.assert_allclose(dist(v), dist(corners), atol=1e-9)


def test_world_config_checks_its_fields():
    assert WorldConfig().substeps == 50 and WorldConfig(physics_dt=0.004).substeps == 25
    with pytest.raises(ValueError, match="WorldConfig.cameras"):
        WorldConfig(cameras=(2, 1))
    with pytest.raises(ValueError, match="multiple of physics_dt"):
        WorldConfig(step_dt=0.1, physics_dt=0.003)
    with pytest.raises(ValueError, match="WorldConfig.shapes"):
        WorldConfig(shapes=("cube",))
    with pytest.raises(ValueError, match="at most 8 objects"):
        WorldConfig(objects=(1, 9))
