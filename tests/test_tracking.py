"""Tracking against a real MLflow server on 127.0.0.1: killed mid-run, the pipeline still completes and keeps
its results, says so once, and `taskseed sync` uploads the missed runs once the server is back."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, cli_env

MLFLOW = Path(sys.executable).with_name("mlflow")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(store: Path, port: int) -> subprocess.Popen:
    cmd = [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}", "--artifacts-destination",
           str(store / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=cli_env(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("mlflow server did not start")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_server_killed_mid_run_then_sync_uploads_the_missed_runs(tmp_path, mirror):
    from mlflow import MlflowClient

    store, outputs, port = tmp_path / "server", tmp_path / "outputs", _free_port()
    uri = f"http://127.0.0.1:{port}"
    server = _start_server(store, port)
    try:
        cmd = [sys.executable, "-m", "taskseed", "run", "pipeline.stages=[catalog,seeds]", "seeds.tasks=[copa]",
               "seeds.max_rows_per_task=50", f"tracking.uri={uri}", f"paths.outputs={outputs}", "progress=false"]  # fmt: skip
        run = subprocess.Popen(
            cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        client = MlflowClient(tracking_uri=uri)
        deadline = time.time() + 300
        while time.time() < deadline and run.poll() is None:  # the catalog's run is on the server: kill it
            experiment = client.get_experiment_by_name("taskseed")
            if experiment and client.search_runs(
                [experiment.experiment_id], "tags.`taskseed.stage` = 'catalog'"
            ):
                _stop(server)
                break
            time.sleep(0.2)
        stdout, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr[-3000:]
        assert (
            stdout.strip().splitlines()[-1].startswith("artifact: ")
        )  # the pipeline finished, results local
        assert stderr.count("failed (") == 1 and "taskseed sync" in stderr  # said once
        journal = [
            json.loads(line) for line in (outputs / "tracking" / "pending.jsonl").read_text().splitlines()
        ]
        # seeds for sure; the catalog's run too when the server died while it was being logged
        assert "seeds" in {Path(e["artifact"]).parent.name for e in journal} and len(journal) <= 2
        assert f"tracking: {len(journal)} stage run(s) kept locally" in stderr, stderr

        server = _start_server(store, port)  # back, same store
        sync = subprocess.run([sys.executable, "-m", "taskseed", "sync", f"tracking.uri={uri}", f"paths.outputs={outputs}"],
                              cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
        assert sync.returncode == 0, sync.stderr[-3000:]
        assert "uploaded" in sync.stdout and (outputs / "tracking" / "pending.jsonl").read_text() == ""
        experiment = client.get_experiment_by_name("taskseed")
        runs = client.search_runs([experiment.experiment_id])
        parents = [r for r in runs if r.data.tags.get("taskseed.kind") == "experiment"]
        seeds = [
            r for r in runs if r.data.tags.get("taskseed.stage") == "seeds" and r.info.status == "FINISHED"
        ]
        assert len(parents) == 1 and len(seeds) == 1
        assert (
            seeds[0].data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        )  # under the run it belonged to
        assert seeds[0].data.metrics["seeds.copa"] == 50 and seeds[0].inputs.dataset_inputs
    finally:
        if server.poll() is None:
            _stop(server)


def _log_same_datasets(uri: str, barrier, count: int, errors) -> None:
    import types

    from taskseed.core.tracking import Tracker

    tracker = Tracker({"enabled": True, "uri": uri, "experiment": "race"})
    for i in range(count):
        with tracker.stage("render", {}, {}) as run:
            barrier.wait()  # both processes insert dataset i at the same moment
            try:
                run.log_dataset(types.SimpleNamespace(path=Path(uri[10:]).parent, stage="render",
                                                      fingerprint=f"{i:016x}"), "input")  # fmt: skip
            except Exception as err:  # noqa: BLE001
                errors.put(str(err)[:200])


def test_parallel_arms_can_log_the_same_shared_artifact(tmp_path):
    """Two arms under a parallel launcher reuse one artifact and log it as an input at once: MLflow's
    datasets table is unique per (experiment, name, digest), so the loser of the insert must link the row."""
    import multiprocessing as mp

    from taskseed.core.tracking import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker({"enabled": True, "uri": uri, "experiment": "race"})._ensure_mlflow()  # schema made once
    ctx = mp.get_context("spawn")
    barrier, errors = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_log_same_datasets, args=(uri, barrier, 12, errors)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    assert errors.empty(), errors.get()
