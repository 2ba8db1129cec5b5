"""Simulated clips with exact point flows: MuJoCo table-top scenes pushed by the robot."""

from pointwm.data.sim.config import GENERATOR_VERSION, SimConfig
from pointwm.data.sim.generator import (
    GenerationError,
    archive_config,
    generate_archive,
    generate_clip,
)

__all__ = ["GENERATOR_VERSION", "GenerationError", "SimConfig", "archive_config", "generate_archive", "generate_clip"]
