"""pointwm: a 3D point-flow world model system for robot manipulation.

Kept light: importing ``pointwm`` loads only the geometry leaf. Heavier parts
(``pointwm.model``, training) are imported on first use.
"""

from pointwm.geometry import PointCloud

__all__ = ["PointCloud", "WorldModel", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # ``from pointwm import WorldModel`` imports the model package on first use only.
    if name == "WorldModel":
        from pointwm.model import WorldModel

        return WorldModel
    raise AttributeError(f"module 'pointwm' has no attribute {name!r}")
