"""One schema for every task format: question, choices and the *semantic* answer text.

Everything comes from lm-eval's own doc_to_text / doc_to_choice / doc_to_target. Three shapes exist:
  - choice tasks: doc_to_choice gives options, the target is an index, an option, or a list of them;
    when the options are bare labels ("A".."E") and the question lists "A. text" lines, the labels are
    mapped to their texts, so the answer is "ignore", never "A";
  - multiple-input tasks (WinoGrande): doc_to_text gives the gold index and each option is a context;
    the contexts differ only in the filled-in option, so the question is the shared text with a blank;
  - free-form tasks (generate_until, loglikelihood, loglikelihood_rolling): the answer is the target as
    lm-eval renders it in a few-shot demonstration (tasks such as MBPP score against tests but demonstrate
    the reference code, keyed on `is_fewshot`), minus the task's stop sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

LABEL_RE = re.compile(r"^\(?([A-Za-z]|\d{1,2})\)?[.:]?$")


class NormalizeError(ValueError):
    """This document cannot be expressed in the seed schema; `reason` is a short stable code."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass
class Normalized:
    question: str
    choices: list[str] | None
    answer_text: str
    answer_index: int | None
    choice_labels: list[str] | None = None
    alt_answers: list[str] = field(default_factory=list)


def is_bare_label(text: str) -> bool:
    return bool(LABEL_RE.match(text.strip()))


def normalize_doc(task, doc: dict[str, Any]) -> Normalized:
    text = task.doc_to_text(doc)
    choices = task.doc_to_choice(doc) if task.config.doc_to_choice is not None else None
    if choices is not None and not isinstance(choices, list):
        raise NormalizeError("choices-not-a-list", type(choices).__name__)
    if isinstance(text, int) and not isinstance(text, bool):
        if not choices:
            raise NormalizeError("int-question-without-choices")
        return _multiple_input(
            text, [str(c) for c in choices], task.doc_to_target(doc), task.config.target_delimiter
        )
    if not isinstance(text, str):
        raise NormalizeError("question-not-text", type(text).__name__)
    if choices:
        return _choice(text, [str(c) for c in choices], task.doc_to_target(doc))
    return _free_form(text, demonstrated_target(task, doc), stop_sequences(task))


def demonstrated_target(task, doc: dict[str, Any]) -> Any:
    """The target as a few-shot demonstration shows it (lm-eval's `is_fewshot` convention)."""
    try:
        return task.doc_to_target({**doc, "is_fewshot": True})
    except Exception:  # noqa: BLE001 - a Python doc_to_target may reject the extra key
        return task.doc_to_target(doc)


def stop_sequences(task) -> list[str]:
    until = (task.config.generation_kwargs or {}).get("until") or []
    return [until] if isinstance(until, str) else [u for u in until if isinstance(u, str) and u.strip()]


def _choice(question: str, options: list[str], target: Any) -> Normalized:
    indices = _target_indices(target, options)
    labels = None
    if len(options) >= 2 and all(is_bare_label(o) for o in options):
        texts = extract_labelled_options(question, options)
        if texts is not None:
            labels, options = [o.strip() for o in options], texts
    choices = [o.strip() for o in options]
    if any(not c for c in choices):
        raise NormalizeError("empty-choice")
    answer = choices[indices[0]]
    return Normalized(question, choices, answer, indices[0], labels, [choices[i] for i in indices[1:]])


def _target_indices(target: Any, options: list[str]) -> list[int]:
    values = target if isinstance(target, list) else [target]
    if not values:
        raise NormalizeError("empty-target")
    stripped = [o.strip() for o in options]
    indices = []
    for value in values:
        if isinstance(value, bool):
            raise NormalizeError("bool-target")
        if isinstance(value, int):
            index = value
        elif isinstance(value, str) and value.strip() in stripped:
            index = stripped.index(value.strip())
        elif isinstance(value, str) and value.strip().isdigit():
            index = int(value.strip())
        else:
            raise NormalizeError("target-not-among-choices", repr(value)[:80])
        if not 0 <= index < len(options):
            raise NormalizeError("target-index-out-of-range", f"{index} of {len(options)}")
        if index not in indices:
            indices.append(index)
    return indices


def extract_labelled_options(question: str, labels: list[str]) -> list[str] | None:
    """Texts of "A. text" / "(A) text" / "A) text" / "A: text" lines in label order, or None."""
    texts, position = [], 0
    for label in labels:
        core = LABEL_RE.match(label.strip()).group(1)
        pattern = re.compile(rf"(?m)^[ \t]*\(?{re.escape(core)}[.):][ \t]*(.+?)[ \t]*$")
        match = pattern.search(question, position)
        if match is None:
            return None
        texts.append(match.group(1))
        position = match.end()
    return texts


def _multiple_input(gold: int, contexts: list[str], continuation: Any, delimiter: str) -> Normalized:
    if not 0 <= gold < len(contexts):
        raise NormalizeError("target-index-out-of-range", f"{gold} of {len(contexts)}")
    if isinstance(continuation, list):
        continuation = continuation[0] if continuation else ""
    prefix = _common_prefix(contexts)
    suffix = _common_suffix([c[len(prefix) :] for c in contexts])
    options = [c[len(prefix) : len(c) - len(suffix)] for c in contexts]
    if any(not o.strip() for o in options) or len({o.strip() for o in options}) != len(options):
        raise NormalizeError("indistinct-contexts")
    question = f"{prefix}_{suffix}{delimiter}{str(continuation)}"
    choices = [o.strip() for o in options]
    return Normalized(question, choices, choices[gold], gold)


def _common_prefix(texts: list[str]) -> str:
    """Longest common prefix, cut back to a word boundary so options are whole words."""
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    if n < min(len(t) for t in texts) or any(len(t) > n and t[n].isalnum() for t in texts):
        cut = max(prefix.rfind(" "), prefix.rfind("\n"))
        prefix = prefix[: cut + 1] if cut >= 0 else ""
    return prefix


def _common_suffix(texts: list[str]) -> str:
    reversed_prefix = _common_prefix_raw([t[::-1] for t in texts])
    suffix = reversed_prefix[::-1]
    # keep the suffix from a non-word character on, so "Ian" / "Dennis" don't share "n"
    while suffix and suffix[0].isalnum():
        suffix = suffix[1:]
    return suffix


def _common_prefix_raw(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _strip_stops(text: str, stops: list[str]) -> str:
    for stop in stops:
        if text.endswith(stop.strip()):
            text = text[: -len(stop.strip())].rstrip()
    return text


def _free_form(question: str, target: Any, stops: list[str] = ()) -> Normalized:
    values = target if isinstance(target, list) else [target]
    answers = [_strip_stops(str(v).strip(), stops) for v in values if v is not None and str(v).strip()]
    answers = [a for a in answers if a]
    if not answers:
        raise NormalizeError("empty-answer")
    return Normalized(question, None, answers[0], None, None, answers[1:])
