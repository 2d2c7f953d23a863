"""The stage framework: fingerprints, atomic commit, reuse, resumable work directories."""

from __future__ import annotations

import json

import pytest

from taskseed.core.artifacts import Artifact, ShardWriter, fingerprint
from taskseed.core.stage import Session, StageSpec


def _session(tmp_path, tracking=False):
    cfg = {"paths": {"artifacts": str(tmp_path / "artifacts"), "outputs": str(tmp_path)}, "progress": False,
           "tracking": {"enabled": tracking, "uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifact_location": str(tmp_path / "mlart"), "experiment": "t"}}  # fmt: skip
    return Session(cfg)


def _body(rows):
    def body(ctx):
        writer = ctx.writer("data", fmt="jsonl", shard_rows=2)
        writer.write_many({"i": i} for i in range(rows))
        ctx.counts["data"] = writer.close()
        ctx.metrics["rows"] = rows

    return body


def test_fingerprint_depends_on_stage_version_config_and_inputs():
    base = fingerprint("s", "1", {"a": 1, "b": [1, 2]}, {"x": "f1"})
    assert base == fingerprint("s", "1", {"b": [1, 2], "a": 1}, {"x": "f1"})  # key order does not matter
    assert len({base, fingerprint("t", "1", {"a": 1, "b": [1, 2]}, {"x": "f1"}), fingerprint("s", "2", {"a": 1, "b": [1, 2]}, {"x": "f1"}),
                fingerprint("s", "1", {"a": 2, "b": [1, 2]}, {"x": "f1"}), fingerprint("s", "1", {"a": 1, "b": [1, 2]}, {"x": "f2"})}) == 5  # fmt: skip


def test_run_commits_shards_and_manifest_then_reuses(tmp_path, caplog):
    session = _session(tmp_path)
    spec = StageSpec("demo", "1", {"rows": 5})
    first = session.run(spec, _body(5), quiet=True)
    assert [p.name for p in first.shards()] == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    assert [r["i"] for r in first.iter_records()] == list(range(5))
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["counts"] == {"data": 5} and manifest["config"] == {"rows": 5}
    assert "code_version" in manifest and "library_versions" in manifest

    def explode(ctx):
        raise AssertionError("a cache hit must not run the body")

    with caplog.at_level("INFO"):
        again = session.run(spec, explode, quiet=True)
    assert again.path == first.path and "cache hit" in caplog.text
    assert first.to_dataset().num_rows == 5


def test_failed_body_leaves_no_artifact(tmp_path):
    session = _session(tmp_path)

    def fail(ctx):
        ctx.writer("data", fmt="jsonl").write_many([{"a": 1}])
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        session.run(StageSpec("demo", "1", {}), fail, quiet=True)
    assert [p.name for p in (tmp_path / "artifacts" / "demo").iterdir() if not p.name.endswith(".lock")] == []


def test_resumable_stage_keeps_committed_shards(tmp_path):
    session = _session(tmp_path)
    spec = StageSpec("resumable", "1", {}, resumable=True)
    seen = []

    def crash_after_one_shard(ctx):
        writer = ShardWriter(ctx.workdir / "data", fmt="jsonl", shard_rows=1)
        writer.write({"i": 0})
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        session.run(spec, crash_after_one_shard, quiet=True)

    def resume(ctx):
        done = sorted((ctx.workdir / "data").glob("part-*.jsonl"))
        seen.extend(p.name for p in done)
        writer = ShardWriter(ctx.workdir / "data", fmt="jsonl", shard_rows=1, start_index=len(done))
        writer.write({"i": 1})
        ctx.counts["data"] = len(done) + writer.close()

    artifact = session.run(spec, resume, quiet=True)
    assert seen == ["part-00000.jsonl"] and [r["i"] for r in artifact.iter_records()] == [0, 1]


def test_tracking_logs_a_run_per_stage(tmp_path):
    from mlflow import MlflowClient

    session = _session(tmp_path, tracking=True)
    artifact = session.run(StageSpec("demo", "1", {"rows": 3}), _body(3), quiet=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("t").experiment_id])
    assert (
        len(runs) == 1
        and runs[0].data.metrics["rows"] == 3
        and runs[0].data.tags["fingerprint"] == artifact.fingerprint
    )
    assert runs[0].inputs.dataset_inputs[0].dataset.digest == artifact.fingerprint


def test_wandb_mirror_offline(tmp_path):
    from taskseed.core.tracking import Tracker

    tracker = Tracker(
        {
            "enabled": False,
            "wandb": {"enabled": True, "mode": "offline", "dir": str(tmp_path), "project": "t"},
        }
    )
    with tracker.stage("demo", {"a": "1"}, {"fingerprint": "abc"}) as run:
        run.log_metrics({"rows": 3})
    assert list((tmp_path / "wandb").glob("offline-run-*"))


def test_artifact_load_rejects_non_artifacts(tmp_path):
    from taskseed.core.errors import TaskseedError

    with pytest.raises(TaskseedError, match="not a taskseed artifact"):
        Artifact.load(tmp_path)
