"""`taskseed reproduce RUN_ID`: rebuild a run from what MLflow recorded and say whether it came out the same.

A pipeline's parent run records its lineage (`lineage()`): the command's overrides, the resolved config, each
stage's fingerprint and the content digest of its data, the mix's token counts, the code version and the
library versions. Reproducing composes the recorded overrides against today's code and config in a fresh
outputs folder, recomputes every stage from scratch and compares: a changed config default, a changed input
(a seed row in the mirror), another library version or a dirty tree is named where it shows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, write_json_atomic
from taskseed.core.config import compose, flatten, to_dict
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.stage import code_version, library_versions

log = logging.getLogger(__name__)

DATA_SUFFIXES = (".parquet", ".jsonl", ".bin", ".idx")
UNDIGESTED = (
    "train",
    "eval",
    "report",
    "catalog",
)  # weights, scores (follow from them) and the registry view


def data_digest(artifact: Artifact) -> str:
    """sha256 over the artifact's data files (names and bytes), not its manifest, plots or timings."""
    digest = hashlib.sha256()
    for path in sorted(p for p in artifact.path.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file()):
        digest.update(str(path.relative_to(artifact.path)).encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def lineage(artifacts: dict[str, Artifact]) -> dict[str, str]:
    """The tags a reproduction is checked against."""
    tags: dict[str, str] = {}
    for stage, artifact in artifacts.items():
        tags[f"fingerprint.{stage}"] = artifact.fingerprint
        if stage not in UNDIGESTED:
            tags[f"digest.{stage}"] = data_digest(artifact)
    if "mix" in artifacts:
        mixture = json.loads((artifacts["mix"].path / "mixture.json").read_text())
        for source, s in mixture["sources"].items():
            tags[f"tokens.{source}"] = str(s["tokens"])
    code = code_version()
    tags["code.git_commit"] = str(code.get("git_commit", "unknown"))
    tags["code.git_dirty"] = str(code.get("git_dirty", "unknown")).lower()
    tags.update({f"lib.{k}": v for k, v in library_versions().items()})
    return tags


def record_lineage(run, cfg: dict[str, Any], overrides: list[str], artifacts: dict[str, Artifact]) -> None:
    """On the open parent run: the overrides, the resolved config (an artifact) and the lineage tags."""
    run.set_tags({"taskseed.overrides": json.dumps(overrides), **lineage(artifacts)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resolved_config.json"
        path.write_text(json.dumps(cfg, indent=1, sort_keys=True, default=str))
        run.log_artifact(path)


def _recorded(cfg: dict[str, Any], run_id: str) -> tuple[dict[str, str], dict[str, Any]]:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=cfg["tracking"]["uri"])
    try:
        run = client.get_run(run_id)
        local = client.download_artifacts(run_id, "resolved_config.json", tempfile.mkdtemp())
    except MlflowException as err:
        raise TaskseedError(
            f"run {run_id} has no recorded lineage at {cfg['tracking']['uri']} ({str(err).splitlines()[0][:120]}); "
            "give the parent run id of a `taskseed run` or an experiment arm, and tracking.uri if it lives elsewhere"
        ) from None
    if "taskseed.overrides" not in run.data.tags:
        raise TaskseedError(
            f"run {run_id} is not a pipeline's parent run (no taskseed.overrides tag); use its parent run id"
        )
    return run.data.tags, json.loads(Path(local).read_text())


def _config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Keys whose resolved value changed, leaving out where things are written (paths, tracking)."""
    outputs = str(old["paths"]["outputs"]), str(new["paths"]["outputs"])
    a, b = flatten(old), flatten(new)
    out = []
    for key in sorted(set(a) | set(b)):
        if key.startswith(("paths.", "tracking.")) or key == "progress":
            continue
        va, vb = a.get(key, "(absent)"), b.get(key, "(absent)")
        if va != vb and va.replace(outputs[0], "") != vb.replace(outputs[1], ""):
            out.append((key, va, vb))
    return out


def reproduce(
    cfg: dict[str, Any], run_id: str, run: Callable[[dict[str, Any], list[str]], dict[str, Artifact]]
) -> tuple[Path, bool]:
    """Recompute `run_id` in a fresh outputs folder with `run(cfg, overrides)`; (report folder, all equal?)."""
    tags, old_cfg = _recorded(cfg, run_id)
    overrides = json.loads(tags["taskseed.overrides"])
    if tags.get("code.git_dirty") == "true":
        log.warning("run %s was recorded from a tree with uncommitted changes to %s: its exact code cannot be "
                    "recovered; differences may come from them", run_id, tags.get("code.git_commit"))  # fmt: skip
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    fresh = Path(cfg["paths"]["outputs"]) / "reproduce" / f"{run_id[:12]}-{stamp}"
    keep = [o for o in overrides if not o.split("=", 1)[0].lstrip("+").startswith(("paths.", "tracking."))]
    tracking = [f"tracking.{k}={cfg['tracking'][k]}" for k in ("uri", "artifact_location", "experiment")]
    new_cfg = to_dict(compose([*keep, f"paths.outputs={fresh}", *tracking]))
    artifacts = run(new_cfg, keep)
    now = lineage(artifacts)
    rows, same = [], True
    for key in sorted(set(tags) | set(now)):
        if not key.startswith(("fingerprint.", "digest.", "tokens.", "code.", "lib.")):
            continue
        old, new = tags.get(key, "(absent)"), now.get(key, "(absent)")
        if old != new:
            same = same and key.startswith(("code.", "lib."))  # a version change is named, not a mismatch
        rows.append([key, old, new, "same" if old == new else "DIFFERENT"])
    diff = _config_diff(old_cfg, new_cfg)
    same = same and not diff
    report = {"run_id": run_id, "overrides": keep, "same": same, "outputs": str(fresh),
              "config_changes": [{"key": k, "recorded": a, "now": b} for k, a, b in diff],
              "lineage": [{"key": r[0], "recorded": r[1], "now": r[2], "status": r[3]} for r in rows]}  # fmt: skip
    write_json_atomic(fresh / "reproduce.json", report)
    from taskseed.core.display import print_summary

    if diff:
        print_summary(summary_table(f"reproduce {run_id}: config values that changed since the run", ["key", "recorded", "now"],
                                    [[k, a[:60], b[:60]] for k, a, b in diff]))  # fmt: skip
    print_summary(summary_table(f"reproduce {run_id}: {'everything matches' if same else 'differences found'}",
                                ["what", "recorded", "now", ""], [r for r in rows if r[3] != "same" or r[0].startswith(("fingerprint.", "tokens."))]))  # fmt: skip
    return fresh, same
