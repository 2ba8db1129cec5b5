"""A built, non-editable wheel carries cuda/, configs/ and assets/ and works outside the checkout.

The wheel is built (no network, no build isolation) from a copy of the checkout's files,
installed into a throwaway virtual environment that sees this environment's dependencies
through a ``.pth`` line (so torch is not installed again), and run from a folder outside the
checkout with no ``PYTHONPATH``. The editable install of this environment is not in play:
its ``__editable__*.pth`` is not processed for a folder added by a ``.pth`` line, and the
test checks that no module came from the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("cuda", "configs", "assets")  # top-level folders -> pointwm/_files/<folder> in the wheel
# Environment variables that would point the installed package back at the checkout.
_DROP = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV",
         "POINTWM_CUDA_DIR", "POINTWM_ROBOTS")


def _checkout_files() -> list[str]:
    """The checkout's files as a clean clone plus uncommitted work has them (no ignored files)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"the wheel test copies the files git lists, and git failed here: {e}")
    return [f for f in out.decode().split("\0") if f and (REPO / f).is_file()]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1",
               MPLBACKEND="Agg")
    return env


def _run(cmd: list[str], cwd: Path) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    """(wheel, venv, site-packages, the checkout files): pointwm's wheel installed in a new venv."""
    pytest.importorskip("setuptools", minversion="77")  # pyproject's [build-system] floor
    files = _checkout_files()
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, src / f)
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-q", "-w", str(dist), str(src)], cwd=root)
    (wheel,) = dist.glob("pointwm-*.whl")

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=root).strip())
    ours = sysconfig.get_paths()
    (site / "_pointwm_deps.pth").write_text(
        "\n".join(dict.fromkeys([ours["purelib"], ours["platlib"]])) + "\n")
    # --ignore-installed: never touch this environment's own pointwm (the editable install).
    _run([str(python), "-I", "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
          "--no-compile", "-q", str(wheel)], cwd=root)
    return wheel, venv, site, files


def _under(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_wheel_ships_the_folders(install):
    """Every file of cuda/, configs/, assets/ (but scripts) is in the wheel, under pointwm/_files/."""
    wheel, _, _, files = install
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {f"pointwm/_files/{f}" for f in files
            if f.split("/", 1)[0] in SHIPPED and not f.endswith(".py")}
    assert want, "no shipped files found in the checkout"
    assert not want - names, f"missing from the wheel: {sorted(want - names)}"
    # No top-level cuda/ (it would shadow NVIDIA's cuda namespace), configs/ or assets/.
    assert not [n for n in names if n.split("/", 1)[0] in SHIPPED]


def test_installed_wheel_runs_outside_the_checkout(install, tmp_path):
    _, venv, site, _ = install
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()

    # (a) the console script: a size name resolves to the installed configs/model/tiny.yaml.
    out = _run([str(venv / "bin" / "pointwm"), "model-info", "tiny"], cwd=cwd)
    assert re.search(r"parameters:\s+\d[\d,]*\s+\(", out), out

    # (b) kernel sources, (c) a planner preset and a robot, all from the install.
    probe = textwrap.dedent("""
        import json, os, sys
        import capture, kinematics, planning, pointwm
        from pointwm import paths
        from pointwm.ops._backend import cuda_source_dir, load_source
        from planning.config import PlannerConfig

        source = load_source("scatter")
        config = PlannerConfig.from_yaml("default")
        robot = kinematics.load_robot("panda")
        print(json.dumps({
            "modules": {m.__name__: m.__file__ for m in (capture, kinematics, planning, pointwm)},
            "data_root": str(paths.DATA_ROOT),
            "cuda_dir": str(cuda_source_dir()),
            "source_has_kernel": "__global__" in source,
            "header_inlined": "// begin common.cuh" in source,
            "planner_K": config.K,
            "robot_joints": len(robot.joint_names),
            "loaded": sorted({f for m in list(sys.modules.values())
                              if os.path.isabs(f := getattr(m, "__file__", None) or "")}),
            "path": sys.path,
            "meta_path": [type(f).__name__ if not isinstance(f, type) else f.__name__ for f in sys.meta_path],
        }))
    """)
    result = json.loads(_run([str(venv / "bin" / "python"), "-I", "-c", probe], cwd=cwd).splitlines()[-1])

    for name, file in result["modules"].items():
        assert _under(file, site), f"{name} imported from {file}, not from the wheel in {site}"
    assert _under(result["data_root"], site / "pointwm" / "_files")
    assert _under(result["cuda_dir"], site / "pointwm" / "_files" / "cuda")
    assert result["source_has_kernel"] and result["header_inlined"]
    assert result["planner_K"] > 0 and result["robot_joints"] == 8
    # Nothing came from the checkout, and the editable finder of this environment is absent.
    # (The dependencies come from this environment's site-packages, which may lie inside the
    # checkout, as .venv/ does.)
    deps = Path(sysconfig.get_paths()["purelib"])
    ours = ("capture", "kinematics", "planning", "pointwm")
    leaked = [f for f in result["loaded"] if _under(f, REPO) and not _under(f, site)
              and not (_under(f, deps) and not any(_under(f, deps / name) for name in ours))]
    assert not leaked, f"modules loaded from the checkout: {leaked[:5]}"
    assert not [p for p in result["path"] if p and _under(p, REPO) and not _under(p, venv) and not _under(p, deps)]
    assert not [f for f in result["meta_path"] if "Editable" in f], result["meta_path"]
