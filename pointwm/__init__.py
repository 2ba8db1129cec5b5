"""pointwm: a 3D point-flow world model system for robot manipulation.

Kept light: importing ``pointwm`` loads only the geometry leaf. Heavier parts
(``pointwm.model``, training) are imported on first use.
"""

from pointwm.geometry import PointCloud

__all__ = ["PointCloud", "__version__"]
__version__ = "0.1.0"
