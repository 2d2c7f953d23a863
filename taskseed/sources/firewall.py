"""The split firewall (DESIGN §4): evaluation data never becomes a seed.

Task level (hard errors when a seed is requested; catalog verdicts otherwise):
  no-training-split   the task declares no training split
  undeclared-split    the requested split is not the task's declared training split
  self-evaluated      the training split is also one the task evaluates on (e.g. `training_split: test`)
  eval-suite          a task in the configured evaluation suites evaluates on that split
  eval-only-dataset   the dataset is an evaluation set whatever its splits are called (GPQA, IFEval, ...)
Row level (dropped and reported, never silently): a seed is dropped when it contains every text field of
a row of any evaluation split in the mirror (EvalIndex: a copied row, whatever the dataset), or when its
normalized question equals the question of one of the same task's evaluation docs rendered by the same
template (QuestionIndex). Near-duplicates and paraphrases are the filter stage's decontamination.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from taskseed.core.errors import FirewallError

SplitKey = tuple[str, str | None, str]  # (dataset_path, dataset_name, split)


def split_key(dataset_path: str | None, dataset_name: str | None, split: str) -> str:
    return f"{dataset_path}/{dataset_name or 'default'}:{split}"


def evaluated_splits(cfg: dict[str, Any]) -> list[str]:
    """Splits a task scores on: lm-eval evaluates test_split, else validation_split; both are protected."""
    return [s for s in (cfg.get("test_split"), cfg.get("validation_split")) if s]


def check_task(
    task: str,
    cfg: dict[str, Any],
    suite_splits: dict[str, list[str]],
    eval_only_datasets: Iterable[str] = (),
    requested_split: str | None = None,
) -> None:
    """Raise FirewallError naming the first rule this seed request breaks."""
    training = cfg.get("training_split")
    if requested_split is not None and requested_split != training:
        declared = (
            f"its declared training split is {training!r}" if training else "it declares no training split"
        )
        raise FirewallError(
            "undeclared-split", f"{task}:{requested_split} is not a training split ({declared})"
        )
    if not training:
        raise FirewallError("no-training-split", f"{task} declares no training split, so it has no seed data")
    if training in evaluated_splits(cfg):
        raise FirewallError(
            "self-evaluated", f"{task}'s training split {training!r} is also the split it evaluates on"
        )
    path, name = cfg.get("dataset_path"), cfg.get("dataset_name")
    if path in set(eval_only_datasets):
        raise FirewallError(
            "eval-only-dataset", f"{task} reads {path}, an evaluation set whatever its split is called"
        )
    evaluators = suite_splits.get(split_key(path, name, training))
    if evaluators:
        raise FirewallError(
            "eval-suite",
            f"{task}'s training split {split_key(path, name, training)} is evaluated by {', '.join(sorted(evaluators)[:3])}",
        )


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af]")


def word_count(norm: str) -> int:
    """Words in normalized text; a CJK character counts as a word (those scripts use no spaces)."""
    return max(norm.count(" ") + 1, len(CJK.findall(norm)))


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(normalize_text(text).encode(), digest_size=10).digest()


ID_FIELD = re.compile(r"(^|_)(id|idx|uid|qid|url|index)$", re.IGNORECASE)


def row_texts(row: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A row's text content by field: strings, and lists/dicts of strings joined; ids and numbers left out."""
    out: dict[str, str] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if ID_FIELD.search(str(key)):
            continue
        if isinstance(value, str):
            if value.strip():
                out[name] = value
        elif isinstance(value, dict):
            out.update(row_texts(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out[name] = "\x1f".join(value)
    return out


def row_signature(row: dict[str, Any]) -> tuple[frozenset[bytes], int]:
    """(hashes of (field, normalized text) pairs, total words): a row's content, ids and numbers aside."""
    hashes, words = set(), 0
    for name, text in row_texts(row).items():
        norm = normalize_text(text)
        if norm:
            hashes.add(hashlib.blake2b(f"{name}\0{norm}".encode(), digest_size=10).digest())
            words += word_count(norm)
    return frozenset(hashes), words


@dataclass
class EvalIndex:
    """Evaluation rows by content. A seed matches a row when every text field of that row appears, with the
    same text, in the seed's raw row or processed doc (a copied row, whatever its id, field order or extra
    fields); rows with fewer than `min_words` words in all are too generic to count."""

    min_words: int = 5
    rows: dict[bytes, list[tuple[frozenset[bytes], str]]] = field(default_factory=dict)
    count: int = 0

    def add_row(self, row: dict[str, Any], origin: str) -> None:
        signature, words = row_signature(row)
        if not signature or words < self.min_words:
            return
        anchor = min(signature)
        self.rows.setdefault(anchor, []).append((signature, origin))
        self.count += 1

    def add_rows(self, rows: Iterable[dict[str, Any]], origin: str) -> int:
        before = self.count
        for row in rows:
            self.add_row(row, origin)
        return self.count - before

    def match(self, *docs: dict[str, Any]) -> str | None:
        """The origin of an evaluation row contained in these documents (a seed's raw and processed doc)."""
        present: set[bytes] = set()
        for doc in docs:
            present |= row_signature(doc)[0]
        for anchor in present:
            for signature, origin in self.rows.get(anchor, ()):
                if signature <= present:
                    return origin
        return None

    def __len__(self) -> int:
        return self.count


class QuestionIndex:
    """Questions of one task's evaluation docs, rendered by the task's own template, template text removed."""

    def __init__(self, questions: list[str], min_words: int = 5):
        self.min_words = min_words
        self.prefix, self.suffix = template_affixes(questions)
        self.hashes: dict[bytes, str] = {}

    def content(self, question: str) -> str | None:
        norm = normalize_text(strip_affixes(question, self.prefix, self.suffix))
        return norm if norm and word_count(norm) >= self.min_words else None

    def add(self, question: str, origin: str) -> None:
        norm = self.content(question)
        if norm is not None:
            self.hashes.setdefault(hashlib.blake2b(norm.encode(), digest_size=10).digest(), origin)

    def match(self, question: str) -> str | None:
        norm = self.content(question)
        return (
            None if norm is None else self.hashes.get(hashlib.blake2b(norm.encode(), digest_size=10).digest())
        )


def strip_affixes(text: str, prefix: str, suffix: str) -> str:
    """`text` without the template prefix and suffix, when it has both and something is left between."""
    end = len(text) - len(suffix)
    if text.startswith(prefix) and text.endswith(suffix) and end > len(prefix):
        return text[len(prefix) : end]
    return text


def template_affixes(texts: list[str]) -> tuple[str, str]:
    """The prefix and suffix every text shares (the task template around the varying content)."""
    if len(texts) < 2:
        return "", ""
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    rev = [t[::-1] for t in texts]
    first, last = min(rev), max(rev)
    m = 0
    while m < min(len(first), len(last)) and first[m] == last[m]:
        m += 1
    suffix = first[:m][::-1]
    prefix = prefix.rstrip("".join(c for c in set(prefix) if c.isalnum()))  # whole words only
    suffix = suffix.lstrip("".join(c for c in set(suffix) if c.isalnum()))
    shortest = min(len(t) for t in texts)
    if len(prefix) + len(suffix) >= shortest:
        return prefix if len(prefix) < shortest else "", ""
    return prefix, suffix


def protected_suites(eval_cfg: dict[str, Any]) -> dict[str, list[str]]:
    """The evaluation suites the firewall and decontamination protect: `eval.suites` plus, per suite, the
    tasks of `eval.protected_only` (protected though not scored)."""
    extra = eval_cfg.get("protected_only") or {}
    return {name: [*tasks, *extra.get(name, [])] for name, tasks in (eval_cfg.get("suites") or {}).items()}
