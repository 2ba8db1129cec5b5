"""The eval-plan benchmark's summary: the exact sign test against scipy's binomial test, and the table's
oracle ratio, moves and task-by-task pairing on hand-built result rows."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from pointwm.eval.plan_benchmark import merge_runs, paired, sign_test_p, summarise


@pytest.mark.parametrize("a,b", [(0, 1), (5, 0), (3, 1), (42, 23), (21, 5), (13, 11), (7, 8), (60, 31)])
def test_sign_test_matches_scipy(a, b):
    assert sign_test_p(a, b) == pytest.approx(binomtest(a, a + b).pvalue, rel=1e-9)


def test_sign_test_hand_cases():
    assert sign_test_p(5, 0) == pytest.approx(2 / 32)
    assert sign_test_p(3, 1) == pytest.approx(2 * 5 / 16)
    assert sign_test_p(0, 0) == 1.0 and sign_test_p(2, 2) == 1.0


def row(seed, planner, success, moves=0):
    return {"seed": seed, "planner": planner, "success": success, "final_error_m": 0.01 if success else 0.05,
            "initial_error_m": 0.1, "replans": 2, "plan_times_s": [1.0, 3.0], "repositions": moves}


def test_summary_pairs_tasks_and_ratios_to_the_oracle():
    rows = [row(s, "mppi_model", s in (0, 1, 2), moves=s % 2) for s in range(4)]
    rows += [row(s, "random", s in (1, 3)) for s in range(4)]
    rows += [row(s, "mppi_oracle", s != 2) for s in range(4)]  # the oracle fails seed 2
    rows += [row(s, "mppi_zero", False) for s in range(2)]  # two seeds only
    table, summary = summarise(rows, {})
    m = summary["planners"]["mppi_model"]
    assert (m["successes"], m["moves_mean"], m["replans_mean"]) == (3, 0.5, 2.0)
    assert m["of_oracle"] == pytest.approx(3 / 3)  # 3 successes over the oracle's 3, seed 2 included
    assert summary["planners"]["random"]["of_oracle"] == pytest.approx(2 / 3)
    pr = {p["second"]: p for p in summary["paired"]}
    assert (pr["random"]["first_only"], pr["random"]["second_only"], pr["random"]["tasks"]) == (2, 1, 4)
    assert (pr["mppi_zero"]["first_only"], pr["mppi_zero"]["second_only"], pr["mppi_zero"]["tasks"]) == (2, 0, 2)
    assert pr["random"]["sign_test_p"] == pytest.approx(1.0)
    assert "| MPPI + learned model | 4 | 3/4 = 75 % | 100 % | 2.00 ± 1.00 | 2.0 + 0.5 | 1.0 |" in table
    assert "by random shooting + learned model only 1" in table
    assert paired(rows, "mppi_model", "nobody") is None
    assert "sign test" not in summarise([row(0, "mppi_oracle", True)], {})[0]


def _run_dir(path, rows, checkpoint="abc", max_replans=8):
    import json

    path.mkdir()
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = {"checkpoint_sha256": checkpoint, "planner_config": {"K": 32}, "task": {}, "loop": {"max_replans": max_replans},
                "move": None, "robot": "panda"}
    (path / "settings.json").write_text(json.dumps(settings))
    return path


def test_summarise_merges_blocks_of_seeds(tmp_path, capsys):
    import argparse

    from pointwm.commands import eval_plan

    a = _run_dir(tmp_path / "a", [row(0, "mppi_model", True), row(0, "random", False), row(1, "mppi_model", True),
                                  row(1, "random", False)])
    b = _run_dir(tmp_path / "b", [row(2, "mppi_model", False), row(2, "random", True), row(1, "mppi_model", True)])
    z = _run_dir(tmp_path / "z", [row(s, "mppi_zero", False) for s in range(3)], checkpoint=None)  # needs none
    parser = argparse.ArgumentParser()
    eval_plan.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval-plan", "--summarise", str(a), str(b), str(z)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "3 runs, 9 results, seeds 0-2" in out  # seed 1 of mppi_model counted once
    assert "| MPPI + learned model | 3 | 2/3 = 67 % |" in out
    assert "solved by MPPI + learned model only 2, by random shooting + learned model only 1" in out
    rows, _ = merge_runs([a, b])
    assert len(rows) == 6  # 4 + 3 - the duplicate

    other = _run_dir(tmp_path / "other", [row(3, "mppi_model", True)], max_replans=12)
    with pytest.raises(ValueError, match="other settings .*loop"):
        merge_runs([a, other])
    ckpt = _run_dir(tmp_path / "ckpt", [row(3, "random", True)], checkpoint="def")
    with pytest.raises(ValueError, match="other checkpoints"):
        merge_runs([a, ckpt])
    clash = _run_dir(tmp_path / "clash", [row(0, "mppi_model", False)])
    with pytest.raises(ValueError, match="seed 0 of mppi_model has two different outcomes"):
        merge_runs([a, clash])
    with pytest.raises(ValueError, match="expected an eval-plan --out folder"):
        merge_runs([tmp_path / "missing"])
