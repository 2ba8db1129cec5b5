import functools

import pytest
import torch


@functools.lru_cache(maxsize=2)
def _robot(name):
    from kinematics import load_robot

    return load_robot(name)


@pytest.fixture(scope="session")
def panda():
    return _robot("panda")


@pytest.fixture(scope="session")
def bimanual():
    return _robot("bimanual_panda")


@pytest.fixture
def scene_xyz():
    g = torch.Generator().manual_seed(0)
    return torch.rand(40, 3, generator=g) * 0.1 + torch.tensor([0.45, 0.0, 0.0])
