"""World-model fixtures: a micro model shared by the tests of a module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

# The test modules import the plain helpers in model_helpers.py (not fixtures) directly.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_helpers import micro_config  # noqa: E402

from pointwm.model import WorldModel  # noqa: E402


@pytest.fixture(scope="module")
def micro_model() -> WorldModel:
    torch.manual_seed(0)
    model = WorldModel(micro_config()).eval()
    with torch.no_grad():  # a larger output than the near-zero initial head, so comparisons mean something
        model.head[-1].weight.mul_(10.0)
    return model
