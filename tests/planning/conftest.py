import pytest
import torch


@pytest.fixture
def scene_xyz():
    g = torch.Generator().manual_seed(0)
    return torch.rand(40, 3, generator=g) * 0.1 + torch.tensor([0.45, 0.0, 0.0])
