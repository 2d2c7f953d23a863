"""Artifacts: fingerprinted directories of data shards plus manifest.json (DESIGN §2).

Layout: {artifacts}/{stage}/{fingerprint}/manifest.json and {prefix}/part-NNNNN.{parquet,jsonl}.
The fingerprint hashes exactly what changes the output, so equal inputs and config find the same directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


def stable_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fingerprint(stage: str, version: str, config: Any, inputs: dict[str, str]) -> str:
    """hash(stage name, stage version, output-affecting config, input fingerprints)."""
    payload = stable_json({"stage": stage, "version": version, "config": config, "inputs": inputs})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def content_hash(*parts: Any, length: int = 16) -> str:
    return hashlib.sha256(stable_json(parts).encode()).hexdigest()[:length]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Artifact:
    """A committed stage output. Read-only once it exists."""

    path: Path
    manifest: dict[str, Any]

    @classmethod
    def load(cls, path: Path | str) -> Artifact:
        path = Path(path).resolve()
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            from taskseed.core.errors import TaskseedError

            raise TaskseedError(
                f"{path} is not a taskseed artifact (no {MANIFEST}); pass a directory a stage printed"
            )
        return cls(path, json.loads(manifest_path.read_text()))

    @property
    def stage(self) -> str:
        return self.manifest["stage"]

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    @property
    def primary(self) -> str:
        """The folder of the stage's main records: `data`, or `kept` where a stage also writes `rejected`."""
        return self.manifest.get("primary", "data")

    def shards(self, prefix: str | None = None) -> list[Path]:
        folder = self.path / (prefix or self.primary)
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir() if p.suffix in (".parquet", ".jsonl") and not p.name.startswith(".")
        )

    def iter_records(self, prefix: str | None = None) -> Iterator[dict[str, Any]]:
        for shard in self.shards(prefix):
            yield from read_shard(shard)

    def read_records(self, prefix: str | None = None) -> list[dict[str, Any]]:
        return list(self.iter_records(prefix))

    def to_dataset(self, prefix: str | None = None):
        """The shards as a `datasets.Dataset` (what downstream tools load)."""
        import datasets

        shards = self.shards(prefix)
        builder = "parquet" if shards and shards[0].suffix == ".parquet" else "json"
        return datasets.load_dataset(builder, data_files=[str(s) for s in shards], split="train")


def read_shard(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        yield from table.to_pylist()
    else:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


class ShardWriter:
    """Buffers records and writes fixed-size shards; each shard appears atomically (tmp + rename)."""

    def __init__(
        self, folder: Path, fmt: str = "parquet", schema=None, shard_rows: int = 50_000, start_index: int = 0
    ):
        if fmt not in ("parquet", "jsonl"):
            raise ValueError(f"unknown shard format {fmt!r}")
        self.folder = folder
        self.fmt = fmt
        self.schema = schema
        self.shard_rows = shard_rows
        self.index = start_index
        self.rows = 0
        self.files: list[Path] = []
        self._buffer: list[dict[str, Any]] = []
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        self._buffer.append(record)
        if len(self._buffer) >= self.shard_rows:
            self.flush()

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.write(record)

    def flush(self) -> Path | None:
        if not self._buffer:
            return None
        final = self.folder / f"part-{self.index:05d}.{self.fmt}"
        tmp = self.folder / f".{final.name}.tmp"
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for record in self._buffer:
                    fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, final)
        self.rows += len(self._buffer)
        self.files.append(final)
        self._buffer = []
        self.index += 1
        return final

    def close(self) -> int:
        self.flush()
        return self.rows
