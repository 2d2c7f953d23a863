"""Total parsing of model output into an example: every input yields a result or a rejection reason.

No exception escapes `parse_generation`; malformed output (truncated or invalid JSON, missing keys, wrong
types, the answer not among the choices, duplicate choices, empty, enormous or wrong-language text, a copy
of an example) becomes a rejection with a short stable reason code.
"""

from __future__ import annotations

import ast
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from taskseed.sources.firewall import normalize_text
from taskseed.synth.prompts import LIMITS

MAX_OUTPUT_CHARS = 20_000
FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


@dataclass
class Parsed:
    reason: str | None = None  # None when the output is a usable example
    detail: str = ""
    question: str = ""
    choices: list[str] | None = None
    answer_text: str = ""
    answer_index: int | None = None
    reference: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason is None


class Reject(Exception):
    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail
        super().__init__(reason)


def parse_generation(text: Any, kind: str, n_choices: int | None = None, finish_reason: str = "stop",
                     examples: list[str] = (), shuffle_seed: str = "0") -> Parsed:  # fmt: skip
    try:
        return _parse(text, kind, n_choices, finish_reason, examples, shuffle_seed)
    except Reject as err:
        return Parsed(reason=err.reason, detail=err.detail[:300])
    except Exception as err:  # noqa: BLE001 - totality: nothing escapes
        return Parsed(reason="parse-error", detail=f"{type(err).__name__}: {err}"[:300])


def extract_json(text: str, finish_reason: str = "stop") -> Any:
    """The first JSON object in model text (code fences and chatter around it allowed)."""
    fenced = FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = body.find("{")
    if start < 0:
        raise Reject("truncated" if finish_reason == "length" else "no-json", body[:80])
    try:
        # strict=False: raw newlines and tabs inside strings are common in model output and harmless.
        value, _ = json.JSONDecoder(strict=False).raw_decode(body[start:])
    except json.JSONDecodeError as err:
        raise Reject(
            "truncated" if finish_reason == "length" or err.pos >= len(body[start:]) - 1 else "invalid-json",
            err.msg,
        ) from None
    return value


def _text_field(data: dict, key: str, limit: int) -> str:
    if key not in data:
        raise Reject(f"missing-field:{key}")
    value = data[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key in ("answer", "final_answer"):
        value = str(value)
    if not isinstance(value, str):
        raise Reject(f"wrong-type:{key}", type(value).__name__)
    value = value.strip()
    if not value:
        raise Reject(f"empty-field:{key}")
    if len(value) > limit:
        raise Reject(f"too-long:{key}", f"{len(value)} > {limit} characters")
    return value


def _text_list(data: dict, key: str, limit: int) -> list[str]:
    if key not in data:
        raise Reject(f"missing-field:{key}")
    value = data[key]
    if not isinstance(value, list):
        raise Reject(f"wrong-type:{key}", type(value).__name__)
    out = []
    for item in value:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            raise Reject(f"wrong-type:{key}", f"item {type(item).__name__}")
        item = item.strip()
        if not item:
            raise Reject(f"empty-field:{key}")
        if len(item) > limit:
            raise Reject(f"too-long:{key}", f"{len(item)} > {limit} characters")
        out.append(item)
    return out


def is_english(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 8:
        return True
    return sum(1 for c in letters if c.isascii()) / len(letters) >= 0.85


def _parse(
    text: Any, kind: str, n_choices: int | None, finish_reason: str, examples: list[str], shuffle_seed: str
) -> Parsed:
    if not isinstance(text, str) or not text.strip():
        raise Reject("empty-output")
    if len(text) > MAX_OUTPUT_CHARS:
        raise Reject("too-long:output", f"{len(text)} characters")
    data = extract_json(text, finish_reason)
    if not isinstance(data, dict):
        raise Reject("not-an-object", type(data).__name__)
    question = _text_field(data, "question", LIMITS["question"])
    if not is_english(question):
        raise Reject("wrong-language", question[:80])
    norm = normalize_text(question)
    if any(norm == normalize_text(e) for e in examples):
        raise Reject("copies-example", question[:80])
    parsed = Parsed(question=question)

    if kind == "mc":
        parsed.choices, parsed.answer_index = _choices(data, n_choices, shuffle_seed)
        parsed.answer_text = parsed.choices[parsed.answer_index]
        if not all(is_english(c) for c in parsed.choices):
            raise Reject("wrong-language", parsed.answer_text[:80])
    elif kind == "short":
        parsed.answer_text = _text_field(data, "answer", LIMITS["answer"])
    elif kind == "math":
        solution = _text_field(data, "solution", LIMITS["solution"])
        final = _number(data)
        parsed.answer_text = f"{solution}\n#### {final}"
        parsed.reference = {"solution": solution, "final_answer": final}
    elif kind == "code":
        solution = _text_field(data, "solution", LIMITS["solution"])
        tests = _text_list(data, "tests", LIMITS["test"])
        _check_code(solution, tests)
        parsed.answer_text = solution
        parsed.reference = {"solution": solution, "tests": tests}
    else:
        raise Reject("unknown-kind", kind)
    return parsed


def _choices(data: dict, n_choices: int | None, shuffle_seed: str) -> tuple[list[str], int]:
    if "distractors" in data or "choices" not in data:
        answer = _text_field(data, "answer", LIMITS["option"])
        wrong = _text_list(data, "distractors", LIMITS["option"])
        if n_choices is not None and len(wrong) != n_choices - 1:
            raise Reject("wrong-choice-count", f"{len(wrong) + 1} options, the task has {n_choices}")
        if normalize_text(answer) in {normalize_text(w) for w in wrong}:
            raise Reject("answer-among-distractors", answer[:80])
        options = [answer, *wrong]
        _unique(options)
        order = list(range(len(options)))
        random.Random(shuffle_seed).shuffle(order)  # the answer's position carries no signal
        return [options[i] for i in order], order.index(0)
    options = _text_list(data, "choices", LIMITS["option"])
    if n_choices is not None and len(options) != n_choices:
        raise Reject("wrong-choice-count", f"{len(options)} options, the task has {n_choices}")
    _unique(options)
    if (
        "answer_index" in data
        and isinstance(data["answer_index"], int)
        and not isinstance(data["answer_index"], bool)
    ):
        index = data["answer_index"]
        if not 0 <= index < len(options):
            raise Reject("answer-not-in-choices", f"index {index}")
        return options, index
    answer = _text_field(data, "answer", LIMITS["option"])
    matches = [i for i, o in enumerate(options) if normalize_text(o) == normalize_text(answer)]
    if not matches:
        letter = re.fullmatch(r"\(?([A-Za-z])\)?[.:]?", answer)
        if letter and ord(letter.group(1).upper()) - 65 < len(options):
            return options, ord(letter.group(1).upper()) - 65
        raise Reject("answer-not-in-choices", answer[:80])
    return options, matches[0]


def _unique(options: list[str]) -> None:
    normalized = [normalize_text(o) for o in options]
    if len(set(normalized)) != len(normalized):
        raise Reject("duplicate-choices", " | ".join(options)[:120])
    if len(options) < 2:
        raise Reject("wrong-choice-count", "fewer than two options")


def _number(data: dict) -> int | float:
    if "final_answer" not in data:
        raise Reject("missing-field:final_answer")
    value = data["final_answer"]
    if isinstance(value, bool):
        raise Reject("non-numeric-answer", str(value))
    if isinstance(value, str):
        cleaned = value.strip().replace(",", "").lstrip("$").rstrip("%").strip()
        try:
            value = float(cleaned)
        except ValueError:
            raise Reject("non-numeric-answer", value[:40]) from None
    if not isinstance(value, (int, float)) or value != value or abs(value) > 1e12:
        raise Reject("non-numeric-answer", str(value)[:40])
    return int(value) if float(value).is_integer() else round(float(value), 6)


def _check_code(solution: str, tests: list[str]) -> None:
    try:
        tree = ast.parse(solution)
    except SyntaxError as err:
        raise Reject("solution-syntax-error", str(err)) from None
    defined = {
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
    }
    if not defined:
        raise Reject("solution-defines-nothing")
    for test in tests:
        try:
            node = ast.parse(test)
        except SyntaxError as err:
            raise Reject("bad-test", f"{test[:80]} ({err.msg})") from None
        if not node.body or not isinstance(node.body[0], ast.Assert):
            raise Reject("bad-test", f"not an assert: {test[:80]}")
    called = {n.id for t in tests for n in ast.walk(ast.parse(t)) if isinstance(n, ast.Name)}
    if not defined & called:
        raise Reject("tests-do-not-call-solution", ", ".join(sorted(defined))[:80])
