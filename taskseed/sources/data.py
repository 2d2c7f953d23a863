"""Where task data comes from: the offline mirror when configured, else the Hugging Face Hub.

The mirror is laid out by lm-eval's identifiers: {mirror}/{dataset_path}/{dataset_name or "default"}/{split}.jsonl,
with MANIFEST.json mapping `dataset_path: json` tasks' hf:// URLs to their files. The same code reads the Hub
when a dataset is not mirrored and the Hub is reachable.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from taskseed.core.errors import TaskseedError

AVAILABILITY = ("mirror", "hub", "missing")


@dataclass
class DataSource:
    mirror: Path | None
    hub: bool
    _by_url: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, data_cfg: dict[str, Any], root: Path) -> DataSource:
        return cls(
            mirror=resolve_mirror(data_cfg.get("mirror", "auto"), root),
            hub=resolve_hub(data_cfg.get("hub", "auto")),
        )

    @cached_property
    def manifest(self) -> list[dict[str, Any]]:
        if self.mirror is None or not (self.mirror / "MANIFEST.json").is_file():
            return []
        try:
            return json.loads((self.mirror / "MANIFEST.json").read_text())
        except json.JSONDecodeError as err:
            raise TaskseedError(
                f"mirror manifest {self.mirror / 'MANIFEST.json'} is not valid JSON ({err.msg}, line {err.lineno}); restore it from the mirror's source"
            ) from None

    def _url_map(self) -> dict[str, str]:
        if not self._by_url:
            self._by_url = {e["data_files_url"]: e["file"] for e in self.manifest if e.get("data_files_url")}
        return self._by_url

    def locate(
        self,
        dataset_path: str | None,
        dataset_name: str | None,
        split: str | None,
        dataset_kwargs: dict | None = None,
    ) -> Path | None:
        """The mirror file holding this split, or None."""
        if self.mirror is None or not split or not dataset_path:
            return None
        if dataset_path in ("json", "csv", "parquet", "text"):
            data_files = (dataset_kwargs or {}).get("data_files")
            url = data_files.get(split) if isinstance(data_files, dict) else data_files
            if isinstance(url, list):
                url = url[0] if len(url) == 1 else None
            rel = self._url_map().get(url) if isinstance(url, str) else None
            path = self.mirror / rel if rel else None
        else:
            path = self.mirror / dataset_path / (dataset_name or "default") / f"{split}.jsonl"
        return path if path is not None and path.is_file() else None

    def availability(
        self,
        dataset_path: str | None,
        dataset_name: str | None,
        split: str | None,
        dataset_kwargs: dict | None = None,
    ) -> str:
        if self.locate(dataset_path, dataset_name, split, dataset_kwargs) is not None:
            return "mirror"
        local_builder = dataset_path in ("json", "csv", "parquet", "text")
        remote = not local_builder or "hf://" in json.dumps((dataset_kwargs or {}).get("data_files"))
        return "hub" if self.hub and dataset_path and remote else "missing"

    def identity(self) -> dict[str, Any]:
        """What the data is, for fingerprints: the mirror's file listing (path, size, mtime) and Hub use."""
        if self.mirror is None:
            return {"mirror": None, "hub": self.hub}
        digest = hashlib.sha256()
        for dirpath, dirnames, filenames in os.walk(self.mirror):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".jsonl", ".json")):
                    path = Path(dirpath) / name
                    stat = path.stat()
                    digest.update(
                        f"{path.relative_to(self.mirror)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
                    )
        return {"mirror": str(self.mirror), "mirror_digest": digest.hexdigest()[:16], "hub": self.hub}


def resolve_mirror(setting: Any, root: Path) -> Path | None:
    if setting in (None, "", "none", "null", False):
        return None
    if setting == "auto":
        candidate = (root.parent / "shared" / "datasets").resolve()
        return candidate if candidate.is_dir() else None
    path = Path(str(setting)).expanduser()
    path = (root / path).resolve() if not path.is_absolute() else path
    if not path.is_dir():
        raise TaskseedError(
            f"data mirror not found at {path}; set data.mirror to the mirror directory, or data.mirror=null to read the Hugging Face Hub"
        )
    return path


def resolve_hub(setting: Any) -> bool:
    if isinstance(setting, bool):
        return setting
    if str(setting).lower() in ("true", "1", "yes"):
        return True
    if str(setting).lower() in ("false", "0", "no"):
        return False
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false") or os.environ.get(
        "HF_DATASETS_OFFLINE", "0"
    ) not in ("0", "", "false"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=1.5):
            return True
    except OSError:
        return False


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a malformed line is a one-line error naming file and line."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise TaskseedError(
                    f"malformed JSON in {path} line {number} ({err.msg}); repair or restore that mirror file"
                ) from None
            if not isinstance(row, dict):
                raise TaskseedError(
                    f"malformed row in {path} line {number} (expected a JSON object); repair or restore that mirror file"
                )
            rows.append(row)
    return rows


def set_offline_env(source: DataSource) -> None:
    """With no Hub, tell datasets/transformers not to try the network (must run before they are imported)."""
    if not source.hub:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
