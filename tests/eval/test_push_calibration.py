"""scripts/push_calibration.py on one push task, with an untrained tiny model: the simulator
side is checked against physics (a centred push from the lined-up start moves the object
forward; a push whose line passes 8 cm beside a 4.1 cm cylinder misses it), and the summary
line is printed."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from pointwm.model import ModelConfig, WorldModel

    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    WorldModel(ModelConfig.from_yaml(REPO / "configs/model/tiny.yaml")).save(path)
    return path


def _run(monkeypatch, capsys, *args: str) -> str:
    import torch

    monkeypatch.setenv("MUJOCO_GL", "egl")
    monkeypatch.setattr(sys, "argv", ["push_calibration.py", *args])
    threads = torch.get_num_threads()
    try:
        with pytest.raises(SystemExit) as e:
            runpy.run_path(str(REPO / "scripts/push_calibration.py"), run_name="__main__")
    finally:
        torch.set_num_threads(threads)  # the script sets its own
    assert e.value.code == 0
    return capsys.readouterr().out


def test_offsets_centred_push_moves_the_object_and_a_wide_one_misses(tiny_checkpoint, monkeypatch, capsys):
    out = _run(monkeypatch, capsys, "--checkpoint", str(tiny_checkpoint), "--seeds", "21", "22", "--offsets", "0", "8")
    rows = re.findall(r"offset\s+(\S+) cm: along/across model\s+\S+\s+\S+ sim\s+(\S+)\s+(\S+)", out)
    assert [float(r[0]) for r in rows] == [0.0, 8.0]
    along_centred, along_wide = float(rows[0][1]), float(rows[1][1])
    assert along_centred > 5.0  # cm: the tool starts lined up behind the object and pushes 15 cm through it
    assert abs(along_wide) < 1.0  # 8 cm beside the centre of a cylinder of 4.1 cm radius: no contact
    assert "mean |error| at step T (cm): centred model" in out


def test_lengths_report_a_ratio(tiny_checkpoint, monkeypatch, capsys):
    out = _run(monkeypatch, capsys, "--checkpoint", str(tiny_checkpoint), "--seeds", "21", "22")
    sims = [float(x) for x in re.findall(r"step 10 model\s+\S+ sim\s+(\S+)", out)]
    assert len(sims) == 4 and sims == sorted(sims)  # longer pushes move the object farther
    assert re.search(r"model / simulator: step 3 \S+, step 10 \S+", out)
