"""Pictures of clouds and flows: static PNG renders (matplotlib, headless)."""

from pointwm.viz.static import render_cloud_png

__all__ = ["render_cloud_png"]
