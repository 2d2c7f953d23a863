"""`taskseed sync`: upload the stage runs a tracking server missed (it was down, slow or failing).

Every journal entry names a committed artifact and the params and parent run it belonged to; the artifact
holds everything else (metrics, per-step series, files, lineage), so the uploaded run is the one the
pipeline would have logged. A parent run the server already has is reopened; one it never saw is created.
Uploaded entries leave the journal; entries that fail again stay for the next sync.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.stage import track_artifact
from taskseed.core.tracking import Tracker

log = logging.getLogger(__name__)


def pending(journal: Path) -> list[dict[str, Any]]:
    if not journal.is_file():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def sync(tracking_cfg: dict[str, Any]) -> dict:
    """Upload the journal's runs to `tracking.uri`; returns a summary table."""
    journal = Path(tracking_cfg["journal"])
    entries = pending(journal)
    if not entries:
        return summary_table("sync: nothing to upload", ["", "runs"], [["pending", 0]])
    tracker = Tracker(tracking_cfg)
    if tracker._ensure_mlflow() is None:
        raise TaskseedError(
            f"the tracking server at {tracking_cfg['uri']} is still unreachable; {len(entries)} runs stay in {journal}"
        )
    by_parent: dict[str, list[int]] = defaultdict(list)
    for i, entry in enumerate(entries):
        by_parent[(entry.get("parent") or {}).get("key", "")].append(i)
    done: set[int] = set()
    for group in by_parent.values():
        parent = entries[group[0]].get("parent")
        try:
            if parent:
                run_id = _existing(tracker, parent.get("run_id"))
                with tracker.parent(
                    parent["name"], entries[group[0]]["params"], parent["tags"], run_id=run_id
                ):
                    _upload(tracker, entries, group, done)
            else:
                _upload(tracker, entries, group, done)
        except Exception as err:  # noqa: BLE001 - the server failed again: what is left stays journalled
            tracker.fail(err)
            break
    _rewrite(journal, [e for i, e in enumerate(entries) if i not in done])
    rows = [["uploaded", len(done)], ["still pending", len(entries) - len(done)]]
    return summary_table(f"sync to {tracking_cfg['uri']}", ["", "runs"], rows)


def _existing(tracker: Tracker, run_id: str | None) -> str | None:
    if not run_id:
        return None
    try:
        tracker._mlflow.MlflowClient().get_run(run_id)
        return run_id
    except Exception:  # noqa: BLE001 - not on this server: a new parent run
        return None


def _upload(tracker: Tracker, entries: list[dict[str, Any]], group: list[int], done: set[int]) -> None:
    for i in group:
        entry = entries[i]
        try:
            artifact = Artifact.load(entry["artifact"])
        except TaskseedError:
            log.warning("sync: %s no longer exists; dropping its run", entry["artifact"])
        else:
            track_artifact(tracker, artifact, entry["params"], entry["cache_hit"])
        done.add(i)


def _rewrite(journal: Path, entries: list[dict[str, Any]]) -> None:
    tmp = journal.with_name(f".{journal.name}.tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in entries))
    os.replace(tmp, journal)
