"""Where the project's shipped files live (a source checkout or an editable install)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
CONFIGS = ROOT / "configs"
SAMPLE_CAPTURE = ASSETS / "sample_capture"
