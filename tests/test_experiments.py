"""Experiments: arms composed by Hydra, the whole loop per arm on shared upstream artifacts, the comparison,
Hydra launchers running arms (in parallel), and reproduction of a run from its MLflow record."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from taskseed.core.config import compose, to_dict
from taskseed.core.errors import TaskseedError
from taskseed.pipeline import experiment_points

from .conftest import ROOT, artifact_of, cli_env, error_line, mirror_copy, taskseed

SUITES = {"knowledge", "science", "code", "commonsense", "math"}


def test_an_arm_applies_its_overrides_and_the_users_win():
    control = to_dict(compose(["+experiment=default", "arm=control"]))
    assert control["mix"]["weights"] == {"synthetic": 0.0, "seeds": 0.0, "replay": 1.0}
    mine = to_dict(compose(["+experiment=default", "arm=control", "mix.weights.replay=0.5"]))
    assert mine["mix"]["weights"]["replay"] == 0.5 and mine["mix"]["weights"]["synthetic"] == 0.0
    baseline = to_dict(compose(["+experiment=default", "arm=baseline"]))
    assert baseline["eval"]["target"] == "base" and baseline["pipeline"]["stages"] == ["catalog", "eval"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["arm=control"], "arm=control needs an experiment"),
        (["+experiment=default", "arm=nope"], "unknown arm 'nope' of experiment default"),
        (
            ["+experiment=default", "arm=control", "experiment.arms.control=['mix.weightz=1']"],
            "unknown key 'mix.weightz'",
        ),
    ],
)
def test_bad_arms_are_one_line_errors(overrides, expected):
    with pytest.raises(TaskseedError, match=expected):
        compose(overrides)


def test_an_experiment_names_a_baseline_and_a_control_among_its_arms(tmp_path):
    line = error_line(taskseed("experiment", "default", "experiment.control=replay_only", outputs=tmp_path))
    assert "experiment.control='replay_only' is not allowed; name one of experiment.arms" in line
    assert not (tmp_path / "artifacts").exists()


def test_every_shipped_experiment_has_its_baseline_and_control():
    for name in ("default", "enrichment", "mix_ratio", "families", "tiny_loop"):
        points = experiment_points(name, [])
        exp = points[0][2]["experiment"]
        arms = [cfg["arm"] for _, _, cfg in points]
        assert exp["baseline"] in arms and exp["control"] in arms and len(arms) >= 3, name
        budgets = {cfg["mix"]["token_budget"] for _, _, cfg in points if cfg["arm"] != exp["baseline"]}
        assert len(budgets) == 1, f"{name}: arms must share one token budget"


@pytest.fixture(scope="session")
def tiny_loop(smoke_experiment) -> dict:
    """`taskseed experiment tiny_loop` beside the smoke run (its examples are reused): the reduced loop CI runs."""
    outputs = smoke_experiment["outputs"]
    return {"proc": taskseed("experiment", "tiny_loop", outputs=outputs, timeout=2400), "outputs": outputs}


def _fresh(outputs, stage: str) -> set[str]:
    folder = outputs / "artifacts" / stage
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")} if folder.is_dir() else set()


@pytest.mark.slow
def test_the_whole_loop_compares_every_arm_with_baseline_and_control(tiny_loop):
    proc, outputs = tiny_loop["proc"], tiny_loop["outputs"]
    compare = artifact_of(proc)
    assert "compare tiny_loop" in proc.stdout and "mlflow: experiment 'taskseed-tiny_loop'" in proc.stdout
    report = json.loads((compare / "compare.json").read_text())
    assert list(report["arms"]) == ["baseline", "control", "synthetic"]
    for arm in ("control", "synthetic"):
        suites = {d["name"] for d in report["arms"][arm]["vs_baseline"] if d["level"] == "suite"}
        assert suites == {f"suite:{s}" for s in SUITES}, arm
    vs_control = {d["name"]: d for d in report["arms"]["synthetic"]["vs_control"]}
    assert all(d["ci_low"] <= d["delta"] <= d["ci_high"] for d in vs_control.values())
    assert report["arms"]["synthetic"]["tokens_by_source"]["synthetic"] > 0
    assert report["arms"]["control"]["tokens_by_source"] == {"replay": 12800}
    for name in ("COMPARE.md", "token_mix.png", *(f"compare_{s}.png" for s in SUITES)):
        assert (compare / name).is_file(), name

    client = MlflowClient(tracking_uri=f"sqlite:///{outputs / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("taskseed-tiny_loop").experiment_id])
    parents = {r.data.tags["arm"]: r for r in runs if r.data.tags.get("taskseed.kind") == "experiment"}
    assert set(parents) == {"baseline", "control", "synthetic"}
    for arm in ("control", "synthetic"):
        child = next(r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[arm].info.run_id
                     and r.data.tags.get("taskseed.stage") == "report")  # fmt: skip
        for suite in ("knowledge", "science", "code", "commonsense"):
            assert {f"delta/{suite}", f"delta/{suite}/ci_low", f"delta/{suite}/ci_high"} <= set(
                child.data.metrics
            )
    summary = next(r for r in runs if r.data.tags.get("taskseed.stage") == "compare")
    assert {"synthetic/vs_control/commonsense/ci_low", "control/vs_baseline/science"} <= set(
        summary.data.metrics
    )


@pytest.mark.slow
def test_a_new_mix_weight_recomputes_mix_to_report_and_nothing_upstream(tiny_loop):
    outputs = tiny_loop["outputs"]
    artifact_of(tiny_loop["proc"])
    before = {
        s: _fresh(outputs, s)
        for s in ("seeds", "generate", "enrich", "filter", "render", "mix", "train", "eval", "report")
    }
    proc = taskseed("run", "+experiment=tiny_loop", "arm=synthetic", "mix.weights.synthetic=0.25",
                    "mix.weights.replay=0.75", outputs=outputs)  # fmt: skip
    artifact_of(proc)
    for stage in ("catalog", "seeds", "generate", "enrich", "filter", "render"):
        assert f"cache hit: {stage}" in proc.stderr, stage
    after = {s: _fresh(outputs, s) for s in before}
    added = {s: len(after[s] - before[s]) for s in before}
    assert added == {"seeds": 0, "generate": 0, "enrich": 0, "filter": 0, "render": 0,
                     "mix": 1, "train": 1, "eval": 1, "report": 1}  # fmt: skip


def _multirun(outputs, *args):
    cmd = [sys.executable, "-m", "taskseed", "run", "-m", "+experiment=tiny_loop", *args,
           f"paths.outputs={outputs}", "progress=false"]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_parallel_arms_under_hydras_joblib_launcher_compute_shared_stages_once(tiny_loop):
    outputs = tiny_loop["outputs"]
    artifact_of(tiny_loop["proc"])
    renders = _fresh(outputs, "render")
    # render.seed=7: a render (and mixes, trainings, evals) neither arm has yet; both need the same render
    proc = _multirun(
        outputs, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "arm=control,synthetic", "render.seed=7"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(_fresh(outputs, "render") - renders) == 1
    client = MlflowClient(tracking_uri=f"sqlite:///{outputs / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("taskseed-tiny_loop").experiment_id])
    parents = [
        r for r in runs if json.loads(r.data.tags.get("taskseed.overrides", "[]")).count("render.seed=7")
    ]
    assert {r.data.tags["arm"] for r in parents} == {"control", "synthetic"}
    renders_logged = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in {p.info.run_id for p in parents}
                      and r.data.tags.get("taskseed.stage") == "render"]  # fmt: skip
    # one arm computed the shared render, the other waited on its lock and reused it
    assert sorted(r.data.tags["cache_hit"] for r in renders_logged) == ["false", "true"]
    # the basic launcher (one job after another) runs the same sweep; everything is reused
    proc = _multirun(outputs, "arm=control,synthetic", "render.seed=7")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("cache hit: train") == 2


@pytest.fixture
def copa_run(tmp_path, mirror):
    """`taskseed run` of catalog and seeds (copa) on a private mirror copy; (outputs, mirror copy, run id)."""
    rows = (mirror / "aps/super_glue/copa/train.jsonl").read_text()
    copy = mirror_copy(mirror, tmp_path / "mirror", {"aps/super_glue/copa/train.jsonl": rows})
    outputs = tmp_path / "out"
    artifact_of(taskseed("run", "pipeline.stages=[catalog,seeds]", "seeds.tasks=[copa]", f"data.mirror={copy}",
                         outputs=outputs))  # fmt: skip
    client = MlflowClient(tracking_uri=f"sqlite:///{outputs / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("taskseed").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("taskseed.kind") == "experiment")
    return outputs, copy, parent.info.run_id


@pytest.mark.slow
def test_reproduce_matches_a_run_and_names_a_changed_seed_row(copa_run):
    outputs, copy, run_id = copa_run
    same = taskseed("reproduce", run_id, outputs=outputs)
    assert same.returncode == 0, same.stderr[-2000:]
    assert "everything matches" in same.stdout
    report = json.loads((artifact_of(same) / "reproduce.json").read_text())
    assert report["same"] and {"fingerprint.seeds", "digest.seeds"} <= {r["key"] for r in report["lineage"]}

    train = copy / "aps/super_glue/copa/train.jsonl"
    rows = train.read_text().splitlines()
    row = json.loads(rows[3])
    row["premise"] = "The gardener watered the tomatoes before noon."
    rows[3] = json.dumps(row)
    train.write_text("\n".join(rows) + "\n")
    changed = taskseed("reproduce", run_id, outputs=outputs)
    assert changed.returncode == 1, changed.stderr[-2000:]
    folder = changed.stdout.strip().splitlines()[-1].removeprefix("artifact: ")
    report = json.loads((Path(folder) / "reproduce.json").read_text())
    differing = {r["key"] for r in report["lineage"] if r["status"] == "DIFFERENT"}
    assert "digest.seeds" in differing and not report["same"], report
    assert any("seeds" in line and "DIFFERENT" in line for line in changed.stdout.splitlines())


@pytest.mark.slow
def test_reproduce_names_a_changed_config_default(copa_run, tmp_path):
    outputs, _, run_id = copa_run
    shutil.copytree(ROOT / "conf", tmp_path / "project" / "conf", symlinks=True)
    for folder in ("eval", "experiments"):
        (tmp_path / "project" / folder).symlink_to(ROOT / folder)
    seeds = tmp_path / "project" / "conf" / "seeds" / "default.yaml"
    # the schema holds the default (5); the project's YAML overriding it is a changed default for every run
    seeds.write_text(seeds.read_text() + "\nrow_firewall:\n  min_words: 7\n")
    env = {**cli_env(), "TASKSEED_CONF": str(tmp_path / "project" / "conf")}
    cmd = [
        sys.executable,
        "-m",
        "taskseed",
        "reproduce",
        run_id,
        f"paths.outputs={outputs}",
        "progress=false",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "seeds.row_firewall.min_words" in proc.stdout and "config values that changed" in proc.stdout
    assert os.environ.get("TASKSEED_CONF") is None
