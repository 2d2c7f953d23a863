"""The LLM-call cache: a SQLite table keyed by hash(backend, model, sampling, prompt[, schema]).

An interrupted or repeated generation never pays twice for a call that returned. SQLite's journal makes each
insert atomic, so a SIGKILL loses at most the call in flight.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from taskseed.llm.base import Backend, ChatRequest, Completion


class LLMCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(
                    f"SELECT key, value FROM calls WHERE key IN ({marks})", chunk
                ):
                    found[key] = Completion.from_json(json.loads(value))
        return found

    def put(self, key: str, completion: Completion) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)",
                (key, json.dumps(completion.to_json())),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class CallStats:
    calls: int = 0  # requests sent to the backend
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    by_finish: dict[str, int] = field(default_factory=dict)


class CachedBackend:
    """A backend behind the cache; results that errored are not cached, so a rerun retries them."""

    def __init__(self, backend: Backend, cache: LLMCache):
        self.backend = backend
        self.cache = cache
        self.stats = CallStats()

    def describe(self) -> dict:
        return self.backend.describe()

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        import time

        keys = [
            r.cache_key(self.backend.name, self.backend.model_id, self.backend.constraint) for r in requests
        ]
        hits = self.cache.get_many(sorted(set(keys)))
        results: list[Completion | None] = [hits.get(k) for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        self.stats.cache_hits += len(requests) - len(missing)
        if missing:
            # the same prompt twice in one call is generated once
            unique: dict[str, int] = {}
            for i in missing:
                unique.setdefault(keys[i], i)
            self.stats.cache_hits += len(missing) - len(unique)
            start = time.perf_counter()
            fresh = self.backend.generate([requests[i] for i in unique.values()])
            self.stats.seconds += time.perf_counter() - start
            by_key = dict(zip(unique, fresh, strict=True))
            for key, completion in by_key.items():
                self.stats.calls += 1
                self.stats.prompt_tokens += completion.prompt_tokens
                self.stats.completion_tokens += completion.completion_tokens
                self.stats.by_finish[completion.finish_reason] = (
                    self.stats.by_finish.get(completion.finish_reason, 0) + 1
                )
                if completion.finish_reason == "error":
                    self.stats.errors += 1
                else:
                    self.cache.put(key, completion)
            for i in missing:
                results[i] = by_key[keys[i]]
        return results  # type: ignore[return-value]

    def close(self) -> None:
        self.backend.close()
