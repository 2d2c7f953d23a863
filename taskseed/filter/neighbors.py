"""The evaluation items a record is compared with by embedding, and those items' embeddings.

Embedding every evaluation item (~39k questions, ~2M tokens) costs minutes on a CPU before the first record is
checked. A record's paraphrase keeps its item's content words (names, numbers, terms) even when no phrase
survives, so a TF-IDF shortlist over question, options and answer finds the item: all 100 hand-written
disguises in tests/fixtures rank their item in the top 3 of 38.7k. Only shortlisted items are embedded, once:
their vectors are kept under the cache, so later filters (and parallel arms) reuse them.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
_MEMO: dict[tuple[str, str, str], ItemVectors] = {}


def item_text(item: dict[str, Any]) -> str:
    """What the lexical shortlist reads: the question, its options and the end of the answer."""
    options = " ".join(str(c) for c in item.get("choices") or [])
    return f"{item['question']} {options} {str(item.get('answer_text', ''))[-200:]}"


class LexicalIndex:
    """TF-IDF (sublinear term frequency, English stop words removed) over the evaluation items."""

    def __init__(self, items: list[dict[str, Any]]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", dtype=np.float32)
        self.matrix = self.vectorizer.fit_transform([item_text(i) for i in items]).T.tocsr()  # terms x items

    def shortlist(self, records: list[dict[str, Any]], size: int, chunk: int = 256) -> list[np.ndarray]:
        """Per record, the rows of its `size` lexically nearest items (fewer when fewer share a word)."""
        queries = self.vectorizer.transform([item_text(r) for r in records])
        size = min(size, self.matrix.shape[1])
        out = []
        for start in range(0, queries.shape[0], chunk):
            scores = (queries[start : start + chunk] @ self.matrix).toarray()
            top = np.argpartition(-scores, size - 1, axis=1)[:, :size]
            for row, picked in zip(scores, top, strict=True):
                out.append(np.sort(picked[row[picked] > 0]))
        return out


class ItemVectors:
    """Unit-length embeddings of an evaluation set's items, computed for the rows asked for and kept as parts
    under `folder` (each written whole by one rename; parallel writers only ever add parts)."""

    def __init__(self, questions: list[str], embedder, folder: Path | None):
        self.questions, self.embedder, self.folder = questions, embedder, folder
        self.vectors = np.zeros((len(questions), 0), dtype=np.float32)
        self.known = np.zeros(len(questions), dtype=bool)
        self.computed = 0
        if folder is not None and folder.is_dir():
            for part in sorted(folder.glob("part-*.npz")):
                with np.load(part) as data:
                    self._keep(data["rows"], data["vectors"].astype(np.float32))

    @classmethod
    def of(cls, evalset, items: list[dict[str, Any]], embedder, cache: Path | None) -> ItemVectors:
        """One instance per (evalset, embedder) in a process; its parts under {cache}/evalset-vectors/."""
        tag = f"{embedder.name}-{embedder.dtype}"
        key = (str(evalset.path), tag, str(cache))  # a caller with a cache folder never gets one without
        if key not in _MEMO:
            folder = cache / "evalset-vectors" / evalset.fingerprint / tag if cache else None
            _MEMO[key] = cls([i["question"] for i in items], embedder, folder)
        return _MEMO[key]

    def _keep(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        if self.vectors.shape[1] == 0:
            self.vectors = np.zeros((len(self.questions), vectors.shape[1]), dtype=np.float32)
        self.vectors[rows] = vectors
        self.known[rows] = True

    def get(self, rows: np.ndarray, show_progress: bool = False) -> np.ndarray:
        """The vectors of `rows`, embedding those not known yet (and saving them)."""
        rows = np.asarray(rows, dtype=np.int64)
        missing = np.unique(rows[~self.known[rows]])
        if len(missing):
            log.info("embedding %d shortlisted evaluation items (kept for reuse)", len(missing))
            vectors = self.embedder.encode([self.questions[r] for r in missing], show_progress=show_progress)
            # rounded as they are saved, so a record gets the same cosines whether the vector is new or reused
            vectors = vectors.astype(np.float16).astype(np.float32)
            self._keep(missing, vectors)
            self.computed += len(missing)
            self._save(missing, vectors)
        return self.vectors[rows]

    def _save(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex[:12]}"
        tmp = self.folder / f".{name}.npz"
        np.savez(tmp, rows=rows, vectors=vectors.astype(np.float16))
        os.replace(tmp, self.folder / f"{name}.npz")


_INDEXES: dict[str, LexicalIndex] = {}


def lexical_index(evalset, items: list[dict[str, Any]]) -> LexicalIndex:
    """The evaluation set's TF-IDF index, built once per process (seconds for ~39k items)."""
    key = str(evalset.path)
    if key not in _INDEXES:
        _INDEXES[key] = LexicalIndex(items)
    return _INDEXES[key]
