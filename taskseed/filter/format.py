"""`format`: the record is well formed for its kind: fields, lengths, choices, answer, leakage, language."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from taskseed.filter.base import PASS, CheckContext, CheckInputs, Verdict, fail, kind_of
from taskseed.filter.config import FormatConfig
from taskseed.sources.firewall import normalize_text
from taskseed.synth.parsing import is_english


@dataclass
class FormatCheck:
    config: FormatConfig = field(default_factory=FormatConfig)
    inputs: CheckInputs = field(default_factory=CheckInputs)
    name: str = "format"

    def settings(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def run(self, records: list[dict[str, Any]], ctx: CheckContext) -> list[Verdict]:
        return [self.check(r) for r in records]

    def check(self, r: dict[str, Any]) -> Verdict:
        c = self.config
        kind = kind_of(r)
        for key in ("id", "task", "question", "answer_text"):
            if not isinstance(r.get(key), str) or not r[key].strip():
                return fail(f"missing-field: {key}")
        question, answer = r["question"], r["answer_text"]
        if len(normalize_text(question).split()) < c.min_question_words:
            return fail(f"too-short: question has fewer than {c.min_question_words} words")
        if len(question) > c.max_question_chars:
            return fail(f"too-long: question has {len(question)} characters")
        if len(answer) > c.max_answer_chars:
            return fail(f"too-long: answer has {len(answer)} characters")
        verdict = {"mc": _choices, "math": _math, "code": _code}.get(kind, lambda _: PASS)(r)
        if not verdict.passed:
            return verdict
        if kind in ("mc", "short") and _leaks(question, answer, r.get("choices") or []):
            return fail(f"answer-leak: the question contains the answer {answer[:60]!r}")
        texts = [question, *(r.get("choices") or [])] + ([answer] if kind != "code" else [])
        if not all(is_english(t) for t in texts):
            return fail("wrong-language")
        if c.require_enrichment:
            return _enrichment(r, kind)
        return PASS


def _choices(r: dict[str, Any]) -> Verdict:
    choices, index = r.get("choices"), r.get("answer_index")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        return fail("bad-choices: fewer than two text options")
    if any(not c.strip() for c in choices):
        return fail("bad-choices: an empty option")
    if len({normalize_text(c) for c in choices}) != len(choices):
        return fail("duplicate-choices")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(choices):
        return fail(f"answer-not-in-choices: index {index!r}")
    if choices[index] != r["answer_text"]:
        return fail("answer-not-in-choices: answer_text differs from choices[answer_index]")
    return PASS


def _math(r: dict[str, Any]) -> Verdict:
    final = (r.get("reference") or {}).get("final_answer")
    if not isinstance(final, (int, float)) or isinstance(final, bool):
        return fail("missing-field: reference.final_answer")
    return PASS


def _code(r: dict[str, Any]) -> Verdict:
    ref = r.get("reference") or {}
    if not isinstance(ref.get("solution"), str) or not ref["solution"].strip():
        return fail("missing-field: reference.solution")
    if not isinstance(ref.get("tests"), list) or not ref["tests"]:
        return fail("missing-field: reference.tests")
    return PASS


def _leaks(question: str, answer: str, choices: list[str]) -> bool:
    """The answer is spelled out in the question (and, for multiple choice, no wrong option is)."""
    norm_answer = normalize_text(answer)
    if len(norm_answer) < 4 or len(norm_answer.split()) < 2 and len(norm_answer) < 8:
        return False  # short answers ("yes", "paris") occur in questions innocently
    norm_question = f" {normalize_text(question)} "
    if f" {norm_answer} " not in norm_question:
        return False
    others = [normalize_text(c) for c in choices if c != answer]
    return not any(o and f" {o} " in norm_question for o in others)


def _enrichment(r: dict[str, Any], kind: str) -> Verdict:
    enrichment = r.get("enrichment")
    if not isinstance(enrichment, dict):
        return fail("missing-field: enrichment")
    for key in ("knowledge", "reasoning"):
        if not isinstance(enrichment.get(key), str) or not enrichment[key].strip():
            return fail(f"missing-field: enrichment.{key}")
    if kind == "mc":
        explained = enrichment.get("distractors") or {}
        missing = [c for c in r["choices"] if c != r["answer_text"] and not str(explained.get(c, "")).strip()]
        if missing:
            return fail(f"missing-field: no explanation for distractor {missing[0][:40]!r}")
    return PASS


WORD = re.compile(r"[A-Za-z]+")
