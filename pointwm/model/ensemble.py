"""Several world models as one: the mean of their predictions.

A sampling planner finds the candidate actions on which a learned model errs in its
favour; an ensemble's mean errs less where its members err differently (Chua et al.,
"Deep Reinforcement Learning in a Handful of Trials using Probabilistic Dynamics Models",
NeurIPS 2018, plan against an ensemble for that reason). Members must predict the same
number of steps; each is run on the same input and the flows are averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pointwm.errors import InputError
from pointwm.model.checkpoint import CheckpointError
from pointwm.model.world_model import WorldModel

__all__ = ["ModelEnsemble", "load_models"]


class ModelEnsemble:
    """The mean prediction of ``models`` (WorldModels), usable wherever one model is."""

    def __init__(self, models: Sequence[WorldModel]) -> None:
        models = list(models)
        if len(models) < 2:
            raise InputError(f"ModelEnsemble: expected at least 2 models, got {len(models)}")
        steps = [m.config.num_steps for m in models]
        if len(set(steps)) > 1:
            raise InputError(f"ModelEnsemble: the models predict different numbers of steps {steps}; "
                             "an ensemble needs one horizon")
        self.models = models

    @property
    def config(self):
        """The first member's :class:`ModelConfig` (all share ``num_steps``)."""
        return self.models[0].config

    @property
    def device(self) -> torch.device:
        return self.models[0].device

    def check_robot(self, robot) -> str | None:
        """The first member's complaint about ``robot`` (see :meth:`WorldModel.check_robot`)."""
        return next((msg for m in self.models if (msg := m.check_robot(robot)) is not None), None)

    @torch.no_grad()
    def predict(self, scene: Any, robot_flow: Tensor, *args: Any, return_log_var: bool = False, **kwargs: Any) -> Tensor:
        """As :meth:`WorldModel.predict`, averaged over the members (no log-variance)."""
        if return_log_var:
            raise InputError("ModelEnsemble.predict: return_log_var is not supported (the members' "
                             "variances are not combined)")
        out = self.models[0].predict(scene, robot_flow, *args, **kwargs)
        for m in self.models[1:]:
            out = out + m.predict(scene, robot_flow, *args, **kwargs)
        return out / len(self.models)

    def __repr__(self) -> str:
        return f"ModelEnsemble({len(self.models)} x {self.config.name!r})"


def load_models(paths: Sequence[str | Path], device: torch.device | str | None = None) -> WorldModel | ModelEnsemble:
    """One checkpoint: its WorldModel; several: their :class:`ModelEnsemble`. Raises
    :class:`CheckpointError` naming the checkpoint that fails to load."""
    paths = list(paths)
    if not paths:
        raise InputError("load_models: expected at least one checkpoint path")
    models = [WorldModel.load(p, device) for p in paths]
    if len(models) == 1:
        return models[0]
    try:
        return ModelEnsemble(models)
    except ValueError as e:
        raise CheckpointError(f"checkpoints {[str(p) for p in paths]}: {e}") from None
