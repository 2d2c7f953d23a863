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
def test_experiment_sweep_runs_each_point_and_reuses_the_catalog(tmp_path, mirror):
    proc = taskseed("experiment", "smoke", outputs=tmp_path)
    artifact_of(proc)
    assert proc.stderr.count("cache hit: catalog") >= 1
    seeds = [p for p in (tmp_path / "artifacts" / "seeds").iterdir() if not p.name.startswith(".")]
    assert len(seeds) == 2  # one per license policy
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("taskseed").experiment_id])
    parents = [r for r in runs if r.data.tags.get("taskseed.kind") == "experiment"]
    assert {r.data.tags["sweep_point"] for r in parents} == {
        "seeds.license_policy=commercial",
        "seeds.license_policy=research",
    }
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in {p.info.run_id for p in parents}]
    assert {r.data.tags["taskseed.stage"] for r in children} == {"catalog", "seeds"}
    assert json.loads(parents[0].data.params["seeds.tasks"]) == ["copa", "arc_easy"]
