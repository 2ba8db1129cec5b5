"""Motion-weighted heteroscedastic Huber NLL (PointWorld's training loss).

Per scene point n and step t, with the target displacement from t0 clipped to
``±max_displacement`` and both prediction and target divided by the step's std ``s_t``:

    err[t, n]    = Σ_xyz huber(pred - target)                    (normalised units)
    nll[t, n]    = 0.5 * (err / σ² + log σ²)                     (σ² = exp(log_var), or fixed)
    w[t, n]      = min_weight + (1 - min_weight) * sigmoid((|d_t,n| - 5 mm) * 1000)
    loss         = Σ w * nll / Σ w

where ``|d_t,n|`` is the target's distance (m) from the t0 position, so the loss sits
almost entirely on points that moved more than ``moved_threshold``. With ``near`` (points
the robot comes close to in the clip) and ``near_weight`` > 0, those points weigh at least
``near_weight`` whether they moved or not: a point the robot passes without moving it is the
evidence against predicting motion there (a pusher cannot pull), and at ``min_weight`` it
hardly counts, so a model trained with the plain loss predicts objects following a tool that
leaves them, motion a planner then exploits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from pointwm.errors import InputError

__all__ = ["flow_loss", "motion_weight"]


def motion_weight(
    target: Tensor, moved_threshold: float = 0.005, sharpness: float = 1000.0, min_weight: float = 0.0
) -> Tensor:
    """Point weights (…, T, N) from target displacements ``target`` (…, T, N, 3), metres."""
    moved = target.norm(dim=-1)
    w = torch.sigmoid((moved - moved_threshold) * sharpness)
    return min_weight + (1.0 - min_weight) * w


def flow_loss(
    pred: Tensor,
    log_var: Tensor | None,
    target: Tensor,
    flow_std: Tensor,
    *,
    fixed_log_var: float | None = None,
    max_displacement: float = 0.5,
    huber_delta: float = 1.0,
    moved_threshold: float = 0.005,
    min_weight: float = 0.01,
    mask: Tensor | None = None,
    near: Tensor | None = None,
    near_weight: float = 0.0,
) -> Tensor:
    """Scalar loss of normalised predictions against metric targets.

    Args:
        pred: (…, T, N, 3) predicted displacement divided by ``flow_std`` per step.
        log_var: (…, T, N) predicted log σ² (normalised units), or None with ``fixed_log_var``.
        target: (…, T, N, 3) true displacement from t0, metres.
        flow_std: (T,) metres per step, the normalisation statistics of the model.
        fixed_log_var: use this constant log σ² instead of ``log_var`` (simulation data).
        max_displacement: targets are clipped to ± this (metres) before normalising.
        huber_delta: Huber transition point, in normalised units.
        moved_threshold / min_weight: see :func:`motion_weight`.
        mask: (…, T, N) or (…, N) bool, points that count (e.g. visible), or None.
        near: (…, N) bool, points within reach of the robot during the clip, or None;
            near_weight: their weight floor (0: off).
    """
    if pred.shape != target.shape or pred.shape[-1] != 3:
        raise InputError(f"flow_loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} must be (…, T, N, 3)")
    t = pred.shape[-3]
    if flow_std.shape != (t,):
        raise InputError(f"flow_loss: flow_std must be ({t},), got {tuple(flow_std.shape)}")
    if log_var is None and fixed_log_var is None:
        raise InputError("flow_loss: pass log_var or fixed_log_var")
    std = flow_std.to(pred)[:, None, None]  # (T, 1, 1)
    target_norm = target.clamp(-max_displacement, max_displacement) / std
    err = F.huber_loss(pred, target_norm, reduction="none", delta=huber_delta).sum(-1)  # (…, T, N)
    if fixed_log_var is not None:
        lv = torch.full_like(err, float(fixed_log_var))
    else:
        if log_var.shape != err.shape:
            raise InputError(f"flow_loss: log_var must be {tuple(err.shape)}, got {tuple(log_var.shape)}")
        lv = log_var
    nll = 0.5 * (err * torch.exp(-lv) + lv)
    w = motion_weight(target, moved_threshold, min_weight=min_weight)
    if near is not None and near_weight > 0:
        if near.shape != w.shape[:-2] + w.shape[-1:]:
            raise InputError(f"flow_loss: near must be {tuple(w.shape[:-2] + w.shape[-1:])}, got {tuple(near.shape)}")
        w = torch.maximum(w, near_weight * near[..., None, :].to(w.dtype))
    if mask is not None:
        m = mask if mask.shape == w.shape else mask[..., None, :].expand_as(w)
        w = w * m.to(w.dtype)
    return (w * nll).sum() / w.sum().clamp(min=1e-6)
