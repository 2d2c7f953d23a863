"""The replay corpus: general text blended with the synthetic data so the model keeps its general ability.

Default: ../shared/corpora/general/*.jsonl.gz (12.6k documents with a license each). On a cluster, any
Hugging Face text dataset (`mix.replay.hf_dataset`) or an existing Megatron prefix (`mix.replay.prefix`).
The seeds' license policy applies to replay records too: a record whose license the policy does not admit
is left out and counted.
"""

from __future__ import annotations

import glob
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import file_digest
from taskseed.core.errors import TaskseedError
from taskseed.mix.config import ReplayConfig
from taskseed.sources.licenses import LicensePolicy, LicenseTable


def corpus_files(replay: ReplayConfig, root: Path) -> list[Path]:
    """The JSONL files `mix.replay.path` names (a folder, a file or a glob; `auto`: the shared corpus)."""
    setting = replay.path
    if setting == "auto":
        path = (root.parent / "shared" / "corpora" / "general").resolve()
        if not path.is_dir():
            raise TaskseedError(
                f"replay corpus not found at {path} (mix.replay.path=auto); set mix.replay.path to a folder of "
                "JSONL files, or mix.replay.hf_dataset / mix.replay.prefix"
            )
    else:
        path = Path(str(setting)).expanduser()
        path = path if path.is_absolute() else (root / path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz", ".json.gz")))
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in glob.glob(str(path)))
    if not files:
        raise TaskseedError(
            f"no replay corpus at {path}: mix.replay.path must name a folder, a JSONL file or a glob of them"
        )
    return files


def describe(replay: ReplayConfig, root: Path) -> dict[str, Any]:
    """What identifies the replay data in the mix fingerprint."""
    if replay.kind == "prefix":
        prefix = Path(replay.prefix)
        idx, binary = Path(f"{prefix}.idx"), Path(f"{prefix}.bin")
        if not (idx.is_file() and binary.is_file()):
            raise TaskseedError(
                f"mix.replay.prefix={prefix} has no .bin/.idx pair; name an existing Megatron prefix"
            )
        return {"prefix": str(prefix.resolve()), "idx": file_digest(idx), "bin_bytes": binary.stat().st_size,
                "license": replay.license}  # fmt: skip
    if replay.kind == "hf_dataset":
        return {"hf_dataset": replay.hf_dataset, "config": replay.hf_config, "split": replay.hf_split,
                "text_field": replay.text_field, "license": replay.license, "max_documents": replay.max_documents}  # fmt: skip
    files = corpus_files(replay, root)
    return {"files": {f.name: file_digest(f) for f in files}, "text_field": replay.text_field,
            "license": replay.license, "max_documents": replay.max_documents}  # fmt: skip


@dataclass
class LicenseFilter:
    policy: LicensePolicy
    table: LicenseTable
    kept: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)

    def admits(self, license_id: str) -> bool:
        ok, _ = self.policy.admits(license_id, self.table.class_of(license_id))
        (self.kept if ok else self.dropped)[license_id] += 1
        return ok


def documents(replay: ReplayConfig, root: Path, licenses: LicenseFilter) -> Iterator[dict[str, Any]]:
    """Replay documents the license policy admits: `text`, `source`, `license`."""
    count = 0
    for record in _records(replay, root):
        text = record.get(replay.text_field)
        if not isinstance(text, str) or not text.strip():
            continue
        license_id = str(record.get("license") or replay.license or "unknown")
        if not licenses.admits(license_id):
            continue
        yield {"text": text, "source": str(record.get("source") or "replay"), "license": license_id}
        count += 1
        if replay.max_documents and count >= replay.max_documents:
            return


def _records(replay: ReplayConfig, root: Path) -> Iterator[dict[str, Any]]:
    if replay.kind == "hf_dataset":
        import datasets

        try:
            data = datasets.load_dataset(
                replay.hf_dataset, replay.hf_config, split=replay.hf_split, streaming=True
            )
        except Exception as err:  # noqa: BLE001 - any failure to reach or read the dataset is the user's to fix
            raise TaskseedError(
                f"cannot load mix.replay.hf_dataset={replay.hf_dataset!r}: {str(err).splitlines()[0]}; "
                "check the name, or use mix.replay.path offline"
            ) from None
        yield from data
        return
    for path in corpus_files(replay, root):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    raise TaskseedError(
                        f"malformed JSON in replay corpus {path} line {number}; fix or remove that line"
                    ) from None
