"""Answer-aware confirmation of decontamination candidates.

A person who disguises an evaluation item rewrites its wording but keeps what makes it the same item: the
correct answer and, for multiple choice, the answer space; for math, the givens and the final number. A new
question on the same topic shares the wording's topic but rarely those. So a record retrieved near an
evaluation item (by embedding, at a recall-oriented cosine) is confirmed as that item only on this evidence:

  multiple choice  matched one to one by similarity (the same values, word F1, or the embedding cosine of the
                   option texts), the record's correct option is the item's correct option, and at least half of
                   the record's options find a counterpart; a rewording keeps each option's meaning, a different
                   question on the same topic has another answer or other options;
  math             the final numbers are equal and the record's question keeps a third of the item's numbers;
  short answer     the answers match (text equal, word F1) and the answer is not a yes/no or a bare number.

`evidence()` returns a line saying what confirmed the match, or None; `contradiction()` says why a record that
shares wording with an item (an n-gram hit) asks another question: no option in common, another correct option,
or another final number from other givens.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from difflib import SequenceMatcher
from typing import Any

import numpy as np

_SCIENTIFIC = re.compile(
    r"(-?\d+(?:\.\d+)?)\s*(?:(?:[x×*·]\s*)?10\s*\^\s*\(?|[x×*·]\s*1e|e)(-?\d+)\)?", re.IGNORECASE
)
_LATEX = re.compile(r"\\mathrm|\\text|\\left|\\right|[${}~\\]")
_GREEK = dict(zip("αβγδεθλμπρστφωΔΣΩ", "alpha beta gamma delta epsilon theta lambda mu pi rho sigma tau phi omega "
                  "delta sigma omega".split(), strict=True))  # fmt: skip
_OPERATORS = re.compile(r"[+\-−/=<>^≤≥]")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_WORD = re.compile(r"[a-z0-9]+")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}  # fmt: skip
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_TRIVIAL = {"yes", "no", "true", "false", "none", "maybe"}
MIN_OPTION_SIMILARITY = 0.6  # below this two option texts are not counterparts
MIN_OPTION_OVERLAP = 0.5
MIN_NUMBER_OVERLAP = 1 / 3


def _spelled(text: str) -> str:
    """Greek letters by name and LaTeX's transpose as T, so that "λw" and "\\lambda w" read alike."""
    text = str(text).replace("\\top", "T").replace("\\intercal", "T")
    return "".join(f" {_GREEK[c]} " if c in _GREEK else c for c in text)


def norm(text: str) -> str:
    return " ".join(_NUMBER_WORDS.get(w, w) for w in _WORD.findall(_spelled(text).lower()))


def numbers(text: str, words: bool = True) -> list[str]:
    """The values in `text`, canonical: "1,200.50" -> "1200.5", "2.6 × 10^5" and "2.6*1e5" -> "260000",
    "eight" -> "8" (with `words`)."""
    text = _LATEX.sub(" ", str(text))
    if words:
        text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m[0].lower()], text)
    text = _SCIENTIFIC.sub(lambda m: _canonical(float(m[1]) * 10 ** int(m[2])), text)
    return [_canonical(raw.replace(",", "")) for raw in _NUMBER.findall(text)]


def _canonical(value: str | float) -> str:
    number = float(value)
    return str(int(number)) if number == int(number) and abs(number) < 1e15 else f"{number:.6g}"


def final_number(answer: str) -> str | None:
    """GSM8K's "#### N", else the last number of the answer."""
    tail = str(answer).rsplit("####", 1)[-1]
    found = [_canonical(raw.replace(",", "")) for raw in _NUMBER.findall(tail)]
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
        texts = {t for record, item in pairs for side in (record, item) for t in _options(side)}
        new = sorted(t for t in texts if t not in self._vectors)
        if new:
            for text, vector in zip(new, self.encode(new), strict=True):
                self._vectors[text] = vector

    def similarity(self, a: str, b: str) -> float:
        """How surely two option texts say the same: 1 for the same text; else the best of the character overlap
        of the texts and the embedding cosine (scaled just below 1, so that equal wording wins a tie with a
        reordering), raised when the values agree in order ("8 genes, 3 inches" is not "3 genes, 8 inches") and
        scaled by the share of values they have in common when they differ."""
        if _compact(a) == _compact(b):
            return 1.0
        # words alone hide the operators: "(1 + n v)/(n + v)" is not "(1 - n v)/(n + v)"
        same_operators = _OPERATORS.findall(_spelled(a)) == _OPERATORS.findall(_spelled(b))
        if same_operators and norm(a) == norm(b):
            return 1.0
        score = SequenceMatcher(None, _compact(a), _compact(b)).ratio()
        if same_operators:
            score = max(score, SequenceMatcher(None, norm(a), norm(b)).ratio())
        va, vb = self._vectors.get(str(a)), self._vectors.get(str(b))
        # a sentence embedder says little about symbols: "~R" and "~G" would score 0.6
        if va is not None and vb is not None and min(len(norm(a).split()), len(norm(b).split())) >= 2:
            score = max(score, 0.95 * float(va @ vb))
        values_a, values_b = _values(a, b)
        if not (values_a or values_b) or set(values_a) == set(values_b):
            return 0.6 + 0.4 * score if values_a == values_b and values_a else score
        shared = set(values_a) & set(values_b)  # other quantities: another option, however alike the wording
        return score * len(shared) / len(set(values_a) | set(values_b))

    def evidence(self, record: dict[str, Any], item: dict[str, Any]) -> str | None:
        r_choices, i_choices = _options(record), _options(item)
        if len(r_choices) > 1 and len(i_choices) > 1:
            return self._multiple_choice(record, item, r_choices, i_choices)
        i_final = final_number(item.get("answer_text", "")) if not i_choices else None
        if i_final is not None and numbers(item.get("question", "")):
            return self._math(record, item, i_final)
        return self._short(record, item)

    def contradiction(self, record: dict[str, Any], item: dict[str, Any]) -> str | None:
        """Why the record, whatever wording it shares with the item, asks another question (None: no sign):
        multiple choice with no option in common or another correct option; math with another final number
        from other givens. A copy keeps the answer and the givens."""
        r_choices, i_choices = _options(record), _options(item)
        if len(r_choices) > 1 and len(i_choices) > 1:
            sims = np.array([[self.similarity(r, i) for i in i_choices] for r in r_choices])
            pairs = _match(sims)
            # (an item whose options were cut to their first line is contained in the record's: no evidence)
            contained = any(_compact(i) in _compact(r) for r in r_choices for i in i_choices)
            if not pairs and not contained:
                return "no option in common"
            r_answer = _index(r_choices, record.get("answer_text"))
            i_answer = _index(i_choices, item.get("answer_text"))
            if r_answer is not None and i_answer is not None and pairs.get(r_answer) not in (None, i_answer):
                return f"its correct option is the item's wrong option {i_choices[pairs[r_answer]][:60]!r}"
            return None
        i_final = final_number(item.get("answer_text", "")) if not i_choices else None
        r_final = final_number(record.get("answer_text", "")) if not r_choices else None
        if i_final is None or r_final is None or r_final == i_final:
            return None
        givens = set(numbers(item.get("question", "")))
        if givens and not givens <= set(numbers(record.get("question", ""))):
            return f"another final number ({r_final}, not {i_final}) from other givens"
        return None

    def _multiple_choice(self, record, item, r_choices: list[str], i_choices: list[str]) -> str | None:
        sims = np.array([[self.similarity(r, i) for i in i_choices] for r in r_choices])
        pairs = _match(sims)
        r_answer = _index(r_choices, record.get("answer_text"))
        i_answer = _index(i_choices, item.get("answer_text"))
        if r_answer is None or i_answer is None or pairs.get(r_answer) != i_answer:
            return None
        if len(pairs) < MIN_OPTION_OVERLAP * len(r_choices):
            return None
        return (f"the correct option matches ({sims[r_answer, i_answer]:.2f}); {len(pairs)}/{len(r_choices)} "
                "options have a counterpart")  # fmt: skip

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


def _values(a: str, b: str) -> tuple[list[str], list[str]]:
    """The two texts' values in digits; with number words read as values only when that makes them agree
    more ("eight genes" is "8 genes", but "the one at 700 Mpc" holds one value, not two)."""
    digits = numbers(a, words=False), numbers(b, words=False)
    spelled = numbers(a), numbers(b)

    def agreement(pair: tuple[list[str], list[str]]) -> float:
        union = set(pair[0]) | set(pair[1])
        return len(set(pair[0]) & set(pair[1])) / len(union) if union else 1.0

    return spelled if agreement(spelled) > agreement(digits) else digits


def _match(sims: np.ndarray) -> dict[int, int]:
    """Greedy one-to-one matching of record options to item options, best pairs first, above the floor."""
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for flat in np.argsort(-sims, axis=None):
        r, i = divmod(int(flat), sims.shape[1])
        if sims[r, i] < MIN_OPTION_SIMILARITY:
            break
        if r not in pairs and i not in used:
            pairs[r] = i
            used.add(i)
    return pairs


def _index(choices: list[str], answer: Any) -> int | None:
    text = str(answer)
    if text in choices:
        return choices.index(text)
    normalized = [norm(c) for c in choices]
    return normalized.index(norm(text)) if norm(text) in normalized else None


def _compact(text: str) -> str:
    """The text without spacing, markup and multiplication signs: "(1 + n v)" and "(1+n*v)" agree."""
    return re.sub(r"[\s*·$\\{}~]|\\mathrm", "", _LATEX.sub("", _spelled(text)).lower())


def _options(side: dict[str, Any]) -> list[str]:
    choices = side.get("choices")
    return [str(c) for c in choices] if isinstance(choices, list) else []
