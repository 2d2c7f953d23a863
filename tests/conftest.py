"""Shared fixtures: the real CLI in a subprocess, one isolated outputs folder per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = (ROOT.parent / "shared" / "datasets").resolve()

# `make test` runs two pytest-xdist workers on a 2-core machine: one compute thread each (and in the CLI
# processes they start), so the workers share the cores instead of fighting over them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# Tests that share one of these expensive session fixtures run on one worker, so it is computed once.
SHARED_FIXTURES = {
    "smoke": {"smoke_experiment"},
    "seeds": {"catalog_json", "full_seeds", "seed_rows"},
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Group tests for `--dist loadgroup`: by shared session fixture, else by file (module fixtures).

    xdist 3.8 marks a group by appending `@group` to `item._nodeid`, which pytest 9 no longer reads (node ids
    are `item._id`), so `xdist_group` markers are ignored; this sets the id xdist's scheduler splits on."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        group = next((g for g, shared in SHARED_FIXTURES.items() if names & shared), item.path.stem)
        item._id = NodeId.parse(f"{item.nodeid}@{group}")


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(MLFLOW_DISABLE_TELEMETRY="true", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    return env


def taskseed(*args: str, outputs: Path, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run `taskseed ARGS paths.outputs=OUTPUTS progress=false` and return the finished process."""
    cmd = [sys.executable, "-m", "taskseed", *args, f"paths.outputs={outputs}", "progress=false"]
    return subprocess.run(cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def artifact_of(proc: subprocess.CompletedProcess) -> Path:
    assert proc.returncode == 0, f"taskseed failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("artifact: "), f"last line was {last!r}"
    return Path(last.split("artifact: ", 1)[1])


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The one-line error of a refused command (exit code 2)."""
    assert proc.returncode == 2, (
        f"expected exit 2, got {proc.returncode}\nstdout:{proc.stdout[-2000:]}\nstderr:{proc.stderr[-2000:]}"
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return errors[0]


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not MIRROR.is_dir():
        pytest.skip("the data mirror ../shared/datasets is not beside the project")
    return MIRROR


@pytest.fixture(scope="session")
def outputs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("outputs")


@pytest.fixture(scope="session")
def catalog_json(outputs, mirror) -> list[dict]:
    proc = taskseed("catalog", "--format", "json", outputs=outputs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def full_seeds(outputs, mirror, catalog_json) -> dict:
    """`taskseed seeds` over every available eligible task, timed (catalog computed by the same run)."""
    fresh = outputs / "fresh"
    start = time.perf_counter()
    proc = taskseed("seeds", outputs=fresh)
    seconds = time.perf_counter() - start
    return {"path": artifact_of(proc), "seconds": seconds, "proc": proc, "outputs": fresh}


@pytest.fixture(scope="session")
def seed_rows(full_seeds) -> list[dict]:
    from taskseed.core.artifacts import Artifact

    return Artifact.load(full_seeds["path"]).read_records()


def mirror_copy(src: Path, dst: Path, replace: dict[str, str]) -> Path:
    """A mirror whose files are symlinks to the real one, except `replace` (relative path -> new content)."""
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif str(rel) in replace:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(replace[str(rel)])
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return dst


@pytest.fixture(scope="session")
def smoke_experiment(tmp_path_factory, mirror) -> dict:
    """`taskseed experiment smoke` once per test session: SmolLM2 through every stage, a two-point sweep."""
    outputs = tmp_path_factory.mktemp("smoke")
    return {"proc": taskseed("experiment", "smoke", outputs=outputs), "outputs": outputs}


FIXTURE_EXAMPLES = ROOT / "tests" / "fixtures" / "smollm2_generated.jsonl"


def make_artifact(
    folder: Path, stage: str, records: list[dict], primary: str = "data", fmt: str = "jsonl"
) -> Path:
    """A committed artifact of `stage` holding `records`, as a stage would have written it (for tests that
    start mid-flow, e.g. render from a filter's kept examples)."""
    from taskseed.core.artifacts import ShardWriter, content_hash, write_json_atomic

    path = folder / stage / content_hash(stage, [r.get("id") or r.get("seed_id") for r in records])
    writer = ShardWriter(path / primary, fmt=fmt)
    writer.write_many(records)
    writer.close()
    write_json_atomic(path / "manifest.json", {"stage": stage, "fingerprint": path.name, "primary": primary,
                                               "counts": {primary: len(records)}})  # fmt: skip
    return path


def fixture_examples() -> list[dict]:
    """74 SmolLM2-generated, enriched examples of every kind (mc, short, math, code)."""
    return [json.loads(line) for line in FIXTURE_EXAMPLES.read_text().splitlines() if line.strip()]


def session_for(outputs: Path, *overrides: str):
    """A stage session on a fresh outputs folder (tracking off unless an override turns it on)."""
    from taskseed.core.config import compose, to_dict
    from taskseed.core.stage import Session

    cfg = to_dict(
        compose([f"paths.outputs={outputs}", "tracking.enabled=false", "progress=false", *overrides])
    )
    return Session(cfg)


TINY = [
    "train.model=tiny_llama",
    "mix.replay.max_documents=200",
    "mix.seq_length=64",
    "mix.allow_repeat=true",
]


@pytest.fixture(scope="session")
def small_mix(tmp_path_factory):
    """(outputs, mix artifact): the fixture's 74 examples + 200 replay documents, tokenized for the tiny Llama,
    25,600 tokens in 64-token samples."""
    from taskseed.core.artifacts import Artifact
    from taskseed.mix.render import run_render
    from taskseed.mix.stage import run_mix

    outputs = tmp_path_factory.mktemp("small_mix")
    filt = make_artifact(outputs / "given", "filter", fixture_examples(), primary="kept")
    session = session_for(outputs, *TINY, "mix.token_budget=25600")
    render = run_render(session, {"filter": Artifact.load(filt)})
    return outputs, run_mix(session, {"render": render})
