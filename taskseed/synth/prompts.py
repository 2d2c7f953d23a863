"""Prompt templates per output kind, their JSON schemas, and how seeds are shown as examples.

Kinds: `mc` (multiple choice), `short` (short answer / generate_until), `math` (worked solution + numeric
answer), `code` (problem, reference solution, assert tests). A template's version is a hash of its text and
schema, recorded on every generated record, so changing a prompt changes the fingerprint of what it made.
"""

from __future__ import annotations

import json
import re
from typing import Any

from taskseed.core.artifacts import content_hash
from taskseed.synth.config import KINDS  # noqa: F401 - the prompt kinds, declared with the schema

LIMITS = {"question": 700, "option": 200, "answer": 300, "solution": 2000, "test": 300}

SYSTEM = "You write new exam questions for a benchmark task. Reply with one JSON object and nothing else."

INSTRUCTIONS = {
    "mc": "Write one NEW multiple-choice question for this task: {n} options, exactly one correct. Give the correct "
    'option as "answer" and the {m} plausible wrong options as "distractors".',
    "short": 'Write one NEW question for this task with a short answer ("answer").',
    "math": 'Write one NEW math word problem for this task, a worked solution ("solution") and the final numeric answer ("final_answer").',
    "code": 'Write one NEW Python programming problem for this task ("question"), a reference solution ("solution") and '
    'three assert statements ("tests") that the solution passes.',
}

USER = """Task: {task} ({family}). Examples of its questions, as JSON:

{examples}

{instruction} Keep the task's information need, answer type and difficulty, on a topic neighbouring the first example's, but with new content: not a copy or rewording of any example. Reply with JSON only, with the keys {keys}."""


def schema(kind: str, n_choices: int | None = None) -> dict[str, Any]:
    text = lambda limit: {"type": "string", "minLength": 1, "maxLength": limit}  # noqa: E731
    if kind == "mc":
        n = n_choices or 4
        props = {"question": text(LIMITS["question"]), "answer": text(LIMITS["option"]),
                 "distractors": {"type": "array", "items": text(LIMITS["option"]), "minItems": n - 1, "maxItems": n - 1}}  # fmt: skip
    elif kind == "short":
        props = {"question": text(LIMITS["question"]), "answer": text(LIMITS["answer"])}
    elif kind == "math":
        props = {
            "question": text(LIMITS["question"]),
            "solution": text(LIMITS["solution"]),
            "final_answer": {"type": "number"},
        }
    elif kind == "code":
        props = {"question": text(LIMITS["question"]), "solution": text(LIMITS["solution"]),
                 "tests": {"type": "array", "items": text(LIMITS["test"]), "minItems": 2, "maxItems": 5}}  # fmt: skip
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def prompt_version(kind: str) -> str:
    return content_hash(SYSTEM, USER, INSTRUCTIONS[kind], schema(kind, 4), length=10)


CODE_GROUPS = ("mbpp", "humaneval", "code_x_glue", "cruxeval")
MATH_FINAL = re.compile(r"####\s*(-?[\d,]*\.?\d+)\s*$")


def kind_of(seed: dict[str, Any], overrides: dict[str, str] | None = None) -> str:
    """The output kind a seed asks for: configured per task or group, else read off the record."""
    overrides = overrides or {}
    for key in (seed["task"], seed["group"]):
        if key in overrides:
            return overrides[key]
    if seed["group"] in CODE_GROUPS:
        return "code"
    if seed.get("choices"):
        all_correct = len(seed.get("alt_answers") or []) + 1 >= len(seed["choices"])
        return "short" if all_correct else "mc"  # WebQuestions' "choices" are its accepted answers
    if MATH_FINAL.search(seed["answer_text"]):
        return "math"
    return "short"


QUESTION_PREFIX = re.compile(r"^\s*(question|q)\s*:\s*", re.IGNORECASE)
ANSWER_SUFFIX = re.compile(r"\s*\n?\s*(answer|a)\s*:\s*$", re.IGNORECASE)
CALC = re.compile(r"<<[^>]*>>")
MBPP = re.compile(r"here is your task:\s*(.*?)\s*Your code should pass these tests:", re.DOTALL)


def question_stem(seed: dict[str, Any]) -> str:
    """The seed's question without the task template's scaffolding or its listed options."""
    text = seed["question"]
    code = MBPP.search(text)
    if code:
        return code.group(1).strip()
    if seed.get("choice_labels"):
        for label in seed["choice_labels"]:
            text = re.sub(rf"(?m)^[ \t]*\(?{re.escape(label)}[.):][^\n]*\n?", "", text)
    text = ANSWER_SUFFIX.sub("", text)
    return QUESTION_PREFIX.sub("", text).strip()


def example_json(seed: dict[str, Any], kind: str) -> dict[str, Any]:
    """A seed in the JSON shape the model is asked to produce."""
    stem = question_stem(seed)
    answer = seed["answer_text"]
    if kind == "mc":
        wrong = [c for i, c in enumerate(seed["choices"]) if i != seed["answer_index"]]
        return {"question": stem, "answer": answer, "distractors": wrong}
    if kind == "math":
        match = MATH_FINAL.search(answer)
        solution = CALC.sub("", answer[: match.start()] if match else answer).strip()
        final = match.group(1).replace(",", "") if match else answer
        try:
            final_value: Any = int(final) if re.fullmatch(r"-?\d+", final) else float(final)
        except ValueError:
            final_value = final
        return {"question": stem, "solution": solution, "final_answer": final_value}
    if kind == "code":
        tests = [line.strip() for line in seed["question"].splitlines() if line.strip().startswith("assert")]
        return {"question": stem, "solution": answer, "tests": tests[:5]}
    return {"question": stem, "answer": answer}


def build_messages(anchor: dict[str, Any], shots: list[dict[str, Any]], kind: str) -> list[dict[str, str]]:
    n = len(anchor["choices"]) if kind == "mc" else None
    examples = "\n".join(json.dumps(example_json(s, kind), ensure_ascii=False) for s in [anchor, *shots])
    keys = ", ".join(schema(kind, n)["required"])
    instruction = INSTRUCTIONS[kind].format(n=n, m=(n or 1) - 1)
    user = USER.format(
        task=anchor["task"], family=anchor["family"], examples=examples, instruction=instruction, keys=keys
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
