"""The command line contract: bad input is one line, exit code 2, and no artifact left behind."""

from __future__ import annotations

import json

import pytest

from .conftest import artifact_of, error_line, mirror_copy, taskseed


def _no_seed_artifact(outputs):
    folder = outputs / "artifacts" / "seeds"
    return not folder.exists() or not [p for p in folder.iterdir() if not p.name.startswith(".")]


def test_unknown_task(tmp_path, mirror):
    line = error_line(taskseed("seeds", "seeds.tasks=[arc_eazy]", outputs=tmp_path))
    assert "unknown task 'arc_eazy'" in line and "arc_easy" in line
    assert _no_seed_artifact(tmp_path)


def test_missing_mirror_path(tmp_path):
    line = error_line(taskseed("seeds", f"data.mirror={tmp_path / 'nowhere'}", outputs=tmp_path))
    assert "data mirror not found" in line and "data.mirror" in line
    assert not (tmp_path / "artifacts").exists()


def test_unknown_license_policy(tmp_path, mirror):
    line = error_line(taskseed("seeds", "seeds.license_policy=whatever", outputs=tmp_path))
    assert "unknown license policy 'whatever'" in line and "commercial" in line
    assert not (tmp_path / "artifacts").exists()


def test_late_stage_config_error_fails_before_any_stage_runs(tmp_path):
    line = error_line(taskseed("generate", "generate.backend=gpt5", outputs=tmp_path))
    assert "generate.backend='gpt5' is not allowed" in line and "transformers" in line
    assert not (tmp_path / "artifacts").exists()


def test_malformed_mirror_line(tmp_path, mirror):
    rows = (mirror / "aps/super_glue/copa/train.jsonl").read_text().splitlines()
    rows[10] = rows[10][: len(rows[10]) // 2]  # a truncated line
    broken = mirror_copy(
        mirror, tmp_path / "mirror", {"aps/super_glue/copa/train.jsonl": "\n".join(rows) + "\n"}
    )
    line = error_line(
        taskseed("seeds", "seeds.tasks=[copa]", f"data.mirror={broken}", outputs=tmp_path / "out")
    )
    assert "malformed JSON" in line and "copa/train.jsonl line 11" in line
    assert _no_seed_artifact(tmp_path / "out")


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = error_line(taskseed("seeds", outputs=blocker / "outputs"))
    assert "cannot create output directory" in line and "paths.outputs" in line


def test_bad_override_key(tmp_path):
    line = error_line(taskseed("seeds", "seeds.taks=[copa]", outputs=tmp_path))
    assert "bad configuration override" in line


def test_catalog_json_is_machine_readable(catalog_json):
    assert isinstance(catalog_json, list) and len(catalog_json) > 10_000


def test_catalog_table_ends_with_the_artifact(outputs, catalog_json):
    proc = taskseed("catalog", outputs=outputs)
    path = artifact_of(proc)
    assert (path / "manifest.json").is_file() and "catalog summary" in proc.stdout


@pytest.mark.slow
def test_experiment_sweep_runs_each_point_and_reuses_earlier_stages(smoke_experiment):
    proc, tmp_path = smoke_experiment["proc"], smoke_experiment["outputs"]
    artifact = artifact_of(proc)
    assert artifact.parent.name == "filter" and (artifact / "funnel.png").is_file()
    for stage in ("catalog", "seeds", "generate", "enrich"):
        assert f"cache hit: {stage}" in proc.stderr, stage  # the second sweep point reuses them
    for stage, expected in (("seeds", 1), ("generate", 1), ("enrich", 1), ("filter", 2)):
        done = [p for p in (tmp_path / "artifacts" / stage).iterdir() if not p.name.startswith(".")]
        assert len(done) == expected, stage
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("taskseed").experiment_id])
    parents = [r for r in runs if r.data.tags.get("taskseed.kind") == "experiment"]
    assert {r.data.tags["sweep_point"] for r in parents} == {
        "filter.verify.min_agreement=0.3",
        "filter.verify.min_agreement=0.6",
    }
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in {p.info.run_id for p in parents}]
    # evalset: the evaluation set the filter decontaminates against, computed inside the filter stage
    stages = {r.data.tags["taskseed.stage"] for r in children}
    assert stages == {"catalog", "seeds", "generate", "enrich", "evalset", "filter"}
    kept = {r.data.tags["taskseed.stage"] + str(r.data.params.get("filter.verify.min_agreement")): r.data.metrics.get("filter.kept")
            for r in children if r.data.tags["taskseed.stage"] == "filter"}  # fmt: skip
    assert kept["filter0.3"] >= kept["filter0.6"]  # a stricter verifier keeps no more
    assert json.loads(parents[0].data.params["seeds.tasks"]) == ["copa", "arc_easy"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["render.formats.markers.roman=1"], "render.formats.markers.roman"),
        (["render.parts.knowledge=1.5"], "render.parts.knowledge=1.5 is not allowed"),
        (["mix.weights.replay=-1"], "mix.weights.replay=-1.0 is not allowed; weights must be >= 0"),
        (["mix.weights.synthetic=0", "mix.weights.replay=0"], "at least one weight must be > 0"),
        (["mix.weights.seeds=0.5"], "render.include_seeds=true"),
        (["mix.replay.path=/no/such/corpus"], "no replay corpus at /no/such/corpus"),
        (["mix.token_budget=abc"], "mix.token_budget"),
        (["train.trainer=megatron"], "train.trainer='megatron' is not allowed; use one of cpu, automodel"),
        (["train.global_batch_size=6", "train.micro_batch_size=4"], "must be a multiple of"),
        (["train.trainer=automodel", "train.automodel.python=/no/python"], "make train-env-gpu"),
        (["train.model=no_such_model"], "train.model='no_such_model' is neither"),
    ],
)
def test_bad_render_mix_train_settings_fail_before_any_stage(tmp_path, overrides, expected):
    line = error_line(taskseed("train", *overrides, outputs=tmp_path))
    assert expected in line, line
    assert not (tmp_path / "artifacts").exists()


TINY_TRAIN = ["+experiment=smoke", "filter.checks=[]", "train.model=tiny_llama", "mix.replay.max_documents=200",
              "mix.seq_length=64", "mix.token_budget=12800", "mix.allow_repeat=true", "train.global_batch_size=8",
              "train.micro_batch_size=4", "train.optim.lr=3e-3"]  # fmt: skip


@pytest.mark.slow
def test_render_mix_train_commands_on_the_smoke_examples(smoke_experiment):
    """`taskseed train` after the smoke run: its examples are rendered, mixed with replay text and trained on
    (tiny Llama); the per-step loss lands in MLflow; a budget the data cannot fill is refused, exit 2."""
    outputs = smoke_experiment["outputs"]
    proc = taskseed("train", *TINY_TRAIN, outputs=outputs)
    model = artifact_of(proc) / "model"
    assert (model / "config.json").is_file() and (model / "tokenizer.json").is_file()
    for stage in ("catalog", "seeds", "generate", "enrich"):
        assert f"cache hit: {stage}" in proc.stderr, stage
    assert "train (cpu, 1 process(es))" in proc.stdout
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{outputs / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("taskseed").experiment_id],
                              filter_string="tags.`taskseed.stage` = 'train'")  # fmt: skip
    assert len(runs) == 1
    history = client.get_metric_history(runs[0].info.run_id, "train.loss")
    assert sorted(m.step for m in history) == list(
        range(1, 26)
    )  # 12800 tokens / (8 x 64) steps, one point each
    mixes = {p.name for p in (outputs / "artifacts" / "mix").iterdir() if not p.name.startswith(".")}
    line = error_line(
        taskseed("mix", *TINY_TRAIN, "mix.allow_repeat=false", "mix.token_budget=640000", outputs=outputs)
    )
    assert "needs" in line and "mix.allow_repeat=true" in line
    assert {p.name for p in (outputs / "artifacts" / "mix").iterdir() if not p.name.startswith(".")} == mixes
