"""Answer-aware confirmation of decontamination candidates.

A person who disguises an evaluation item rewrites its wording but keeps what makes it the same item: the
correct answer and, for multiple choice, the answer space; for math, the givens and the final number. A new
question on the same topic shares the wording's topic but rarely those. So a record retrieved near an
evaluation item (by embedding, at a recall-oriented cosine) is confirmed as that item only on this evidence:

  multiple choice  the correct options match, and at least half of the record's other options match options
                   of the item (text equal, the same numbers, word F1, or embedding cosine of the option texts);
  math             the final numbers are equal and the record's question keeps at least half of the item's
                   numbers;
  short answer     the answers match (text equal, word F1) and the answer is not a yes/no or a bare number.

`evidence()` returns a line saying what confirmed the match, or None.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_WORD = re.compile(r"[a-z0-9]+")
_TRIVIAL = {"yes", "no", "true", "false", "none", "maybe"}
OPTION_F1 = 0.7  # word F1 at which two option texts say the same
OPTION_COSINE = 0.85  # embedding cosine at which two option texts say the same
MIN_OPTION_OVERLAP = 0.5
MIN_NUMBER_OVERLAP = 0.5


def norm(text: str) -> str:
    return " ".join(_WORD.findall(str(text).lower()))


def numbers(text: str) -> list[str]:
    """The numbers in `text`, canonical ("1,200.50" -> "1200.5")."""
    out = []
    for raw in _NUMBER.findall(str(text)):
        value = raw.replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        out.append(value)
    return out


def final_number(answer: str) -> str | None:
    """GSM8K's "#### N", else the last number of the answer."""
    tail = str(answer).rsplit("####", 1)[-1]
    found = numbers(tail)
    return found[-1] if found else None


def word_f1(a: str, b: str) -> float:
    wa, wb = Counter(norm(a).split()), Counter(norm(b).split())
    common = sum((wa & wb).values())
    if not common:
        return 0.0
    precision, recall = common / sum(wa.values()), common / sum(wb.values())
    return 2 * precision * recall / (precision + recall)


class AnswerMatcher:
    """Evidence that a record is an evaluation item in disguise. `encode` (texts -> unit vectors) adds an
    embedding comparison of option texts; `prepare` encodes every text the coming calls will compare at once."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray] | None = None):
        self.encode = encode
        self._vectors: dict[str, np.ndarray] = {}

    def prepare(self, pairs: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        if self.encode is None:
            return
        texts = {str(t) for record, item in pairs for side in (record, item) for t in _options(side)}
        new = sorted(t for t in texts if t not in self._vectors)
        if new:
            for text, vector in zip(new, self.encode(new), strict=True):
                self._vectors[text] = vector

    def same_option(self, a: str, b: str) -> bool:
        na, nb = norm(a), norm(b)
        if na == nb:
            return bool(na) or str(a).strip() == str(b).strip()
        nums_a, nums_b = numbers(a), numbers(b)
        if nums_a and sorted(nums_a) == sorted(nums_b):
            return True
        if nums_a != nums_b and (nums_a or nums_b):  # different quantities are different options
            return False
        if word_f1(a, b) >= OPTION_F1:
            return True
        va, vb = self._vectors.get(str(a)), self._vectors.get(str(b))
        return va is not None and vb is not None and float(va @ vb) >= OPTION_COSINE

    def evidence(self, record: dict[str, Any], item: dict[str, Any]) -> str | None:
        r_choices, i_choices = _options(record), _options(item)
        if len(r_choices) > 1 and len(i_choices) > 1:
            return self._multiple_choice(record, item, r_choices, i_choices)
        i_final = final_number(item.get("answer_text", "")) if not i_choices else None
        if i_final is not None and numbers(item.get("question", "")):
            return self._math(record, item, i_final)
        return self._short(record, item)

    def _multiple_choice(self, record, item, r_choices: list[str], i_choices: list[str]) -> str | None:
        if not self.same_option(record.get("answer_text", ""), item.get("answer_text", "")):
            return None
        others = [c for c in r_choices if not self.same_option(c, record.get("answer_text", ""))]
        matched = sum(any(self.same_option(c, o) for o in i_choices) for c in others)
        if others and matched / len(others) < MIN_OPTION_OVERLAP:
            return None
        return f"same correct option; {matched}/{len(others)} other options match"

    def _math(self, record, item, i_final: str) -> str | None:
        if final_number(record.get("answer_text", "")) != i_final:
            return None
        givens = set(numbers(item.get("question", "")))
        kept = givens & set(numbers(record.get("question", "")))
        if len(kept) < MIN_NUMBER_OVERLAP * len(givens):
            return None
        return f"same final number {i_final}; {len(kept)}/{len(givens)} of the item's numbers"

    def _short(self, record, item) -> str | None:
        a, b = str(record.get("answer_text", "")), str(item.get("answer_text", ""))
        na = norm(a)
        if not na or na in _TRIVIAL or na.replace(" ", "").isdigit():
            return None
        if na == norm(b) or word_f1(a, b) >= 0.8:
            return f"same answer {a[:60]!r}"
        return None


def _options(side: dict[str, Any]) -> list[str]:
    choices = side.get("choices")
    return [str(c) for c in choices] if isinstance(choices, list) else []
