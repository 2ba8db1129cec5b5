"""Training recipes: the shipped recipe, its dry run, bad recipes, and a tiny replay end to end."""

from __future__ import annotations

import json
import logging
import os
import textwrap
from pathlib import Path

import pytest
import yaml
from train_helpers import micro_train_config

from pointwm.cli import main
from pointwm.commands.train_recipe import DEFAULT_RECIPE, check_generate_args
from pointwm.paths import CONFIGS
from pointwm.train import load_recipe, plan_steps

SHIPPED_STAGES = ["tiny_sim", "tiny_sim_mix", "tiny_sim_contact", "tiny_sim_dense", "tiny_sim_grip", "tiny_sim_rock",
                  "tiny_sim_incontact", "tiny_sim_offset", "tiny_sim_offset2", "tiny_sim_tasks"]


def _flag(argv: tuple[str, ...], name: str) -> list[str]:
    """The values after option ``name`` in ``argv`` (up to the next option)."""
    if name not in argv:
        return []
    rest = argv[argv.index(name) + 1:]
    return list(rest[:next((i for i, a in enumerate(rest) if a.startswith("--")), len(rest))])


def test_shipped_recipe_parses_and_names_only_existing_files():
    recipe = load_recipe(DEFAULT_RECIPE)
    assert [s.name for s in recipe.stages] == SHIPPED_STAGES
    assert all(s.config.is_file() and s.steps == s.config_steps for s in recipe.stages)
    assert sum(s.steps for s in recipe.stages) == 1100 + 3200 + 4800 + 3000 + 3600 + 2400 + 4 * 1500
    check_generate_args(recipe)  # every archive's args are valid `pointwm generate` options
    assert len(recipe.archives) == 13 and recipe.archive("sim7-tasks").args == ("--task-prob", "1")
    # configs/train/ holds the recipe and exactly the configs its stages use (8b reuses stage 8's)
    used = {s.config.resolve() for s in recipe.stages}
    assert set((CONFIGS / "train").glob("*.yaml")) - {DEFAULT_RECIPE} == used and len(used) == 9


def test_shipped_recipe_dry_run_chains_the_stages(tmp_path, capsys):
    recipe = load_recipe(DEFAULT_RECIPE)
    out, data = tmp_path / "runs", tmp_path / "data"
    steps = plan_steps(recipe, out, data_dir=data, workers=2)
    trains = [s for s in steps if s.kind == "train"]
    assert [s.name for s in trains] == SHIPPED_STAGES
    assert sorted(s.name for s in steps if s.kind == "generate") == sorted(a.name for a in recipe.archives)
    for i, t in enumerate(trains):
        assert _flag(t.argv, "--out") == [str(out / t.name)] and t.output == out / t.name / "model.safetensors"
        # each stage starts from the previous one's output, and runs after it
        assert _flag(t.argv, "--init") == ([] if i == 0 else [str(trains[i - 1].output)])
        assert steps.index(t) > (steps.index(trains[i - 1]) if i else -1)
        for a in _flag(t.argv, "--data"):  # every archive it reads is made before it
            made = next(s for s in steps if s.kind == "generate" and s.output == Path(a))
            assert steps.index(made) < steps.index(t)
        assert "--resume" not in t.argv and "--steps" not in t.argv
    assert trains[-1].argv[:3] == ("train", "--config", str(CONFIGS / "train" / "tiny_sim_tasks.yaml"))
    assert _flag(trains[8].argv, "--config") == [str(CONFIGS / "train" / "tiny_sim_offset.yaml")]  # stage 8b
    assert steps[0].argv == ("generate", str(data / "sim-train"), "--clips", "1500", "--seed", "0", "--workers", "2")

    assert main(["train-recipe", "--out", str(out), "--data-dir", str(data), "--workers", "2", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [s.command for s in steps]
    assert not out.exists() and not data.exists()  # a dry run makes nothing

    # one stage: it and the stages it starts from; done stages and their data are skipped
    assert [s.name for s in plan_steps(recipe, out, data, stages=["tiny_sim_mix"])] == \
        ["sim-train", "tiny_sim", "sim-probe", "tiny_sim_mix"]
    (out / "tiny_sim").mkdir(parents=True)
    (out / "tiny_sim" / "model.safetensors").write_bytes(b"")
    ckpts = out / "tiny_sim_mix" / "checkpoints"
    ckpts.mkdir(parents=True)
    for name in ("step_00000100.safetensors", "step_00000100.state.pt"):
        (ckpts / name).write_bytes(b"")
    mix = plan_steps(recipe, out, data, stages=["tiny_sim_mix"])
    assert [s.name for s in mix] == ["sim-train", "sim-probe", "tiny_sim_mix"]
    assert mix[-1].argv[-1] == "--resume" and _flag(mix[-1].argv, "--init") == [str(out / "tiny_sim" / "model.safetensors")]
    with pytest.raises(ValueError, match="no stage 'nope'"):
        plan_steps(recipe, out, data, stages=["nope"])


def _toy_recipe(tmp_path: Path, **changes) -> Path:
    """A valid two-stage recipe on the shipped configs, with ``changes`` applied to it."""
    doc = {
        "archives": {"a": {"clips": 2, "seed": 1, "args": "--width 64"}},
        "stages": [
            {"name": "one", "config": str(CONFIGS / "train" / "tiny_sim.yaml"), "init": None, "data": ["a"], "steps": 5},
            {"name": "two", "config": str(CONFIGS / "train" / "tiny_sim_mix.yaml"), "init": "one", "data": ["a"],
             "steps": 5},
        ],
    }
    for key, value in changes.items():
        if key.startswith("stage1_"):
            doc["stages"][1][key.removeprefix("stage1_")] = value
        elif key.startswith("stage0_"):
            doc["stages"][0][key.removeprefix("stage0_")] = value
        elif key == "args":
            doc["archives"]["a"]["args"] = value
        else:
            doc[key] = value
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_toy_recipe_is_valid(tmp_path):
    recipe = load_recipe(_toy_recipe(tmp_path))
    check_generate_args(recipe)
    two = plan_steps(recipe, tmp_path / "runs")[-1]
    assert two.name == "two" and _flag(two.argv, "--steps") == ["5"]  # the config says 3200


@pytest.mark.parametrize("changes, match", [
    ({"extra": 1}, r"toy.yaml: the top level: unknown keys \['extra'\]"),
    ({"stage1_epochs": 3}, r"toy.yaml: stages\[1\]: unknown keys \['epochs'\]"),
    ({"stage1_config": "missing.yaml"}, r"toy.yaml: stages\[1\] \(two\).config: .*missing.yaml: no such file"),
    ({"stage1_init": "zero"}, r"toy.yaml: stages\[1\] \(two\).init: unknown stage 'zero'"),
    ({"stage0_init": "two"}, r"toy.yaml: stages\[0\] \(one\).init: a cycle of init links: one -> two -> one"),
    ({"stage1_init": "two"}, r"toy.yaml: stages\[1\] \(two\).init: a cycle of init links: two -> two"),
    ({"stage1_data": ["a", "b"]}, r"toy.yaml: stages\[1\] \(two\).data: unknown archives \['b'\]"),
    ({"stage1_name": "one"}, r"toy.yaml: stages\[1\] \(one\).name: a stage of that name is listed twice"),
    ({"stage1_steps": 0}, r"toy.yaml: stages\[1\] \(two\).steps: expected an integer >= 1, got 0"),
    ({"stage1_name": "../x"}, r"toy.yaml: stages\[1\].name: expected a folder name"),
], ids=["top-level key", "stage key", "missing config", "unknown init", "cycle", "own init", "unknown archive",
        "duplicate stage", "zero steps", "unsafe name"])
def test_bad_recipe_raises_one_error_naming_it(tmp_path, changes, match):
    path = _toy_recipe(tmp_path, **changes)
    with pytest.raises(ValueError, match=match):
        load_recipe(path)


def test_stage_listed_before_its_init_and_bad_generate_options(tmp_path):
    path = _toy_recipe(tmp_path, stage0_init="two", stage1_init=None)
    with pytest.raises(ValueError, match=r"stages\[0\] \(one\).init: stage 'two' is listed after it"):
        load_recipe(path)
    with pytest.raises(ValueError, match=r"toy.yaml.nope: no such file"):
        load_recipe(tmp_path / "toy.yaml.nope")
    for args, match in [("--push-prb 0.9", r"archives.a.args: pointwm generate: unrecognized arguments: --push-prb"),
                        ("--push-prob x", r"archives.a.args: pointwm generate: argument --push-prob: invalid float"),
                        ("--see 3", r"archives.a.args: sets \['--seed'\]"),
                        ("--workers 2", r"archives.a.args: sets \['--workers'\]"),
                        ("'--shapes", r"archives.a.args: No closing quotation")]:
        with pytest.raises(ValueError, match=match):
            check_generate_args(load_recipe(_toy_recipe(tmp_path, args=args)))
    assert main(["train-recipe", str(_toy_recipe(tmp_path, args="--push-prb 1")), "--dry-run"]) == 2


def test_toy_recipe_replays_end_to_end_and_skips_what_is_done(tmp_path, capsys, caplog):
    for name in ("one", "two"):  # the micro model (T = 4) on clips of T = 4
        cfg = micro_train_config(name=name, steps=2, checkpoint_every=2, norm_clips=2, num_workers=0).to_dict()
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    sim = "--steps 4 --width 64 --height 48 --cameras 1 1 --objects 1 1 --clips-per-shard 2"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        archives:
          a: {{clips: 3, seed: 1, args: {sim}}}
          b: {{clips: 2, seed: 2, args: {sim} --push-prob 1}}
        stages:
          - {{name: one, config: one.yaml, init: null, data: [a], steps: 2}}
          - {{name: two, config: two.yaml, init: one, data: [b, a], steps: 3}}
        """))
    out = tmp_path / "runs"
    argv = ["-q", "train-recipe", str(recipe), "--out", str(out), "--workers", "1"]
    assert main(argv) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert [line.split()[2] for line in printed] == ["generate", "train", "generate", "train"]
    models = [out / n / "model.safetensors" for n in ("one", "two")]
    assert all(m.is_file() for m in models)
    run = json.loads((out / "two" / "run.json").read_text())
    assert run["init"] == str(models[0]) and [d["root"] for d in run["data"]] == [str(out / "data" / a) for a in "ba"]
    assert [d["clips"] for d in run["data"]] == [2, 3]

    sim_push_prob = json.loads((out / "data" / "a" / "manifest.json").read_text())["config"]["sim"]["push_prob"]
    mtimes = [os.stat(p).st_mtime_ns for p in [*models, *(out / "data").glob("*/*.tar")]]
    assert plan_steps(load_recipe(recipe), out) == []
    assert main(argv) == 0  # the second run has nothing left to do
    assert "nothing to do" in capsys.readouterr().out
    assert [os.stat(p).st_mtime_ns for p in [*models, *(out / "data").glob("*/*.tar")]] == mtimes

    # an archive folder made by other options is an error, not trained on; another generator
    # version alone (the shipped recipe's first archives) is used with a warning
    manifest = out / "data" / "a" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["config"]["sim"]["push_prob"] = 0.25
    manifest.write_text(json.dumps(doc))
    assert main(argv) == 2
    assert "runs/data/a was not made by recipe" in capsys.readouterr().err
    doc["config"]["sim"]["push_prob"], doc["config"]["version"] = sim_push_prob, 1
    manifest.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING):
        assert main(argv) == 0
    assert "made by generator version 1" in caplog.text and "nothing to do" in capsys.readouterr().out
