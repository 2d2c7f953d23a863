"""Evaluation: the harness gives lm-eval's own numbers, scores only what it needs, and a real tiny run's
report has a paired-bootstrap interval for every task and group, in MLflow and W&B."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import MIRROR, TINY, error_line, session_for, taskseed

EVAL = [
    "model=tiny_llama",
    "eval.dtype=float32",
    "eval.smoke.loglikelihood=8",
    "eval.smoke.generate=2",
    "eval.batch_size=4",
]


def _source(session):
    from taskseed.sources.data import DataSource

    return DataSource.from_config(session.cfg["data"], Path(session.cfg["paths"]["root"]))


def _catalog(session):
    from taskseed.sources.catalog import load_catalog

    return load_catalog(session, _source(session))


def _direct_config(name: str) -> dict:
    """The task as lm-eval registers it, its data pointed at the mirror's files (no Hub here): what a user
    would pass to lm-eval by hand."""
    from lm_eval.tasks import TaskManager

    cfg = dict(TaskManager().task_index[name].cfg)
    folder = MIRROR / cfg["dataset_path"] / (cfg.get("dataset_name") or "default")
    files = {p.stem: str(p) for p in folder.glob("*.jsonl")}
    for key in ("training_split", "validation_split", "test_split", "fewshot_split"):
        if cfg.get(key) and cfg[key] not in files:
            cfg[key] = None
    return {**cfg, "dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": files}}


@pytest.mark.slow
def test_eval_gives_the_numbers_lm_eval_gives(outputs, mirror, catalog_json):
    from lm_eval import simple_evaluate

    from taskseed.evaluation.stage import evaluate_model, resolve_target

    session = session_for(outputs, *EVAL, "eval.tasks=[arc_easy,piqa,gsm8k]")
    target = resolve_target(session.cfg, {}, "base")
    ours = json.loads(
        (
            evaluate_model(session, _source(session), _catalog(session), target).path / "results.json"
        ).read_text()
    )
    assert set(ours["tasks"]) == {"arc_easy", "piqa", "gsm8k"}
    args = {"pretrained": str(target.path), "dtype": "float32", "device": "cpu"}
    for names, limit in ((["arc_easy", "piqa"], 8), (["gsm8k"], 2)):
        direct = simple_evaluate(model="hf", model_args=args, tasks=[_direct_config(n) for n in names], limit=limit,
                                 batch_size=4, random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0)  # fmt: skip
        for name in names:
            theirs = {k: v for k, v in direct["results"][name].items() if k not in ("alias", "name")}
            for key, value in theirs.items():
                assert ours["tasks"][name]["lm_eval"][key] == pytest.approx(value, abs=1e-6), (name, key)
            assert ours["tasks"][name]["n"] == limit


def test_scoring_the_base_model_computes_no_synthetic_data(tmp_path, mirror):
    proc = taskseed("eval", "eval.target=base", "eval.tasks=[arc_easy]", *EVAL, outputs=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "artifacts").iterdir()) == ["catalog", "eval"]
    results = json.loads(
        (Path(proc.stdout.strip().splitlines()[-1].split("artifact: ")[1]) / "results.json").read_text()
    )
    arc = results["tasks"]["arc_easy"]
    assert (
        arc["primary"] == "acc,none"
        and arc["n"] == 8
        and arc["logprob"] < 0
        and arc["margin"] == arc["margin"]
    )
    assert "code" not in {r["suite"] for r in results["tasks"].values()}
    line = error_line(taskseed("report", "eval.target=base", outputs=tmp_path))
    assert "eval.target=base" in line


@pytest.mark.slow
def test_report_of_a_real_tiny_run_in_mlflow_and_wandb(small_mix, outputs, catalog_json, tmp_path):
    """Train the tiny model on the small mix, score it and the base model, report the deltas."""
    from mlflow import MlflowClient

    from taskseed.evaluation.report import run_report
    from taskseed.evaluation.stage import evaluate_model, resolve_target
    from taskseed.training.stage import run_train

    mix_outputs, mix = small_mix
    trained = run_train(
        session_for(mix_outputs, *TINY, "mix.token_budget=25600", "train.max_steps=10"), {"mix": mix}
    )
    overrides = [*EVAL, f"eval.target={trained.path / 'model'}", "eval.tasks=[arc_easy,piqa,winogrande,gsm8k]",
                 "tracking.enabled=true", "tracking.wandb.enabled=true", f"tracking.wandb.dir={tmp_path}",
                 f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", f"tracking.artifact_location={tmp_path / 'mlartifacts'}"]  # fmt: skip
    session = session_for(outputs, *overrides)
    session.track_cache_hits = True
    source, catalog = _source(session), _catalog(session)
    with session.tracker.parent("report test", params=session.params):
        treatment = evaluate_model(session, source, catalog, resolve_target(session.cfg, {}))
        report = run_report(session, source, {"catalog": catalog, "eval": treatment})
    deltas = json.loads((report.path / "deltas.json").read_text())["deltas"]
    primary = {d["name"]: d for d in deltas if d["metric"] == "primary"}
    assert set(primary) == {"arc_easy", "piqa", "winogrande", "gsm8k", "suite:commonsense", "suite:math"}
    for d in primary.values():
        assert d["ci_low"] <= d["delta"] <= d["ci_high"] and 0 <= d["p_better"] <= 1
    assert {d["name"] for d in deltas if d["metric"] == "margin"} >= {
        "arc_easy",
        "piqa",
        "winogrande",
        "suite:commonsense",
    }
    for name in ("deltas.png", "deltas_margin.png", "DELTAS.md", "deltas.csv"):
        assert (report.path / name).is_file()

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("taskseed").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("taskseed.kind") == "experiment")
    children = {
        r.data.tags["taskseed.stage"]: r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    assert {"eval", "report"} <= set(children)
    metrics = children["report"].data.metrics
    for name in ("arc_easy", "commonsense", "math"):
        assert {
            f"delta/{name}",
            f"delta/{name}/ci_low",
            f"delta/{name}/ci_high",
            f"delta/{name}/p_better",
        } <= set(metrics)
    files = {f.path for f in client.list_artifacts(children["report"].info.run_id)}
    assert {"deltas.png", "DELTAS.md", "deltas.csv", "manifest.json"} <= files
    assert {i.dataset.digest for i in children["report"].inputs.dataset_inputs} >= {
        treatment.fingerprint,
        report.fingerprint,
    }
    versions = client.search_model_versions("name='taskseed-tiny-llama-random'")
    assert versions and versions[0].run_id == children["report"].info.run_id
    assert versions[0].tags["delta/commonsense"].startswith(("+", "-"))
    # W&B mirrors the same run offline: its run file (protobuf records) holds the delta metrics and files
    runs = list(tmp_path.glob("wandb/offline-run-*"))
    mirrored = [r for r in runs if b"delta/commonsense/ci_low" in next(r.glob("run-*.wandb")).read_bytes()]
    assert len(mirrored) == 1 and (mirrored[0] / "files" / "deltas.png").is_file()
