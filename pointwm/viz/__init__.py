"""Pictures of clouds and flows: static renders (PNG, GIF, PLY) and a browser viewer.

Everything draws a ``FlowScene`` (plain arrays: scene, robot flow, predicted and
ground-truth flows, goals). ``open_source`` makes one from a capture, an archive clip, a
prediction bundle or a plan; ``save_prediction`` writes the bundle. The viewer lives in
``pointwm.viz.viewer`` (imported on use: it needs ``viser``).
"""

from pointwm.viz.animate import render_rollout_gif
from pointwm.viz.bundle import FlowScene, VizInputError, load_prediction, save_prediction
from pointwm.viz.export import flow_attributes, write_flow_ply
from pointwm.viz.sources import open_source
from pointwm.viz.static import render_cloud_png, render_flow_png

__all__ = [
    "FlowScene",
    "VizInputError",
    "flow_attributes",
    "load_prediction",
    "open_source",
    "render_cloud_png",
    "render_flow_png",
    "render_rollout_gif",
    "save_prediction",
    "write_flow_ply",
]
