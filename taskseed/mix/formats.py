"""Surface formats: how one synthetic example becomes one pretraining document.

A format is a point on three axes (how question and answer are marked, how options are listed, whether the
explanation follows the answer or leads up to it) plus the enrichment parts the document includes. Each is
drawn from the record's own RNG, seeded by hash(render seed, record id): the same record always gets the same
format, and the mix over many records follows the configured weights. Varying the surface keeps a model from
learning one benchmark's prompt template instead of the skill.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from taskseed.core.artifacts import content_hash
from taskseed.mix.config import PARTS, RenderConfig

# (question marker, answer marker). `question_answer` and `q_a` are lm-eval's own prompt shapes.
MARKERS = {
    "question_answer": ("Question: ", "Answer: "),
    "q_a": ("Q: ", "A: "),
    "problem_solution": ("Problem: ", "Solution: "),
    "quiz": ("Quiz question: ", "Correct answer: "),
    "heading": ("## Question\n", "## Answer\n"),
    "dialogue": ("Student: ", "Teacher: "),
    "textbook": ("", "The answer is "),
}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Format:
    markers: str
    options: str  # "-" where the record has no options
    explanation: str
    parts: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.markers}/{self.options}/{self.explanation}/{'+'.join(self.parts) or 'answer-only'}"


def _pick(rng: random.Random, table: dict[str, float]) -> str:
    names = [k for k, w in table.items() if w > 0]
    return rng.choices(names, weights=[table[k] for k in names])[0]


def draw_format(record: dict[str, Any], cfg: RenderConfig) -> Format:
    """The record's format: a deterministic function of its id and the render seed."""
    rng = random.Random(int(content_hash("render", cfg.seed, record["id"]), 16))
    markers = _pick(rng, cfg.formats.markers)
    options = _pick(
        rng, cfg.formats.options
    )  # drawn for every record, so the RNG stream never depends on kind
    explanation = _pick(rng, cfg.formats.explanation)
    wanted = {part: rng.random() < cfg.parts.get(part, 0.0) for part in PARTS}
    available = available_parts(record)
    parts = tuple(p for p in PARTS if wanted[p] and p in available)
    return Format(markers, options if record.get("choices") else "-", explanation, parts)


def available_parts(record: dict[str, Any]) -> set[str]:
    enrichment = record.get("enrichment") or {}
    return {p for p in PARTS if enrichment.get(p)}


def label(style: str, index: int) -> str:
    return {
        "letter_dot": f"{LETTERS[index]}.",
        "letter_paren": f"({LETTERS[index]})",
        "lower_paren": f"({LETTERS[index].lower()})",
        "number_paren": f"{index + 1})",
    }.get(style, "")


def _options_block(choices: list[str], style: str) -> str:
    if style == "inline":
        return "Options: " + "; ".join(choices) + "."
    if style == "bullets":
        return "\n".join(f"- {c}" for c in choices)
    return "\n".join(f"{label(style, i)} {c}" for i, c in enumerate(choices))


def _answer(record: dict[str, Any], style: str) -> str:
    kind = record.get("kind")
    reference = record.get("reference") or {}
    if kind == "math" and reference.get("solution"):
        return f"{reference['solution'].strip()}\nFinal answer: {reference['final_answer']}"
    if kind == "code" and reference.get("solution"):
        tests = "\n".join(reference.get("tests") or [])
        code = f"```python\n{reference['solution'].strip()}\n```"
        return f"{code}\nTests:\n```python\n{tests}\n```" if tests else code
    if record.get("choices") and record.get("answer_index") is not None:
        tag = label(style, int(record["answer_index"]))
        return f"{tag} {record['answer_text']}" if tag else record["answer_text"]
    return record["answer_text"]


def _distractors(record: dict[str, Any], style: str) -> str:
    why = (record.get("enrichment") or {}).get("distractors") or {}
    lines = []
    for i, choice in enumerate(record.get("choices") or []):
        if choice in why:
            tag = label(style, i)
            lines.append(f"- {f'{tag} ' if tag else ''}{choice}: {why[choice].strip()}")
    return "Why the other options are wrong:\n" + "\n".join(lines) if lines else ""


def render_example(record: dict[str, Any], fmt: Format) -> str:
    """The document text of one synthetic example in format `fmt`."""
    q_marker, a_marker = MARKERS[fmt.markers]
    question = record["question"].strip()
    if fmt.options != "-":
        block = _options_block(record["choices"], fmt.options)
        question = f"{question} {block}" if fmt.options == "inline" else f"{question}\n{block}"
    answer = _answer(record, fmt.options)
    if fmt.markers == "textbook" and "\n" not in answer:
        answer_block = f"{a_marker}{answer.rstrip('.')}."
    else:
        answer_block = f"{a_marker}{answer}"
    enrichment = record.get("enrichment") or {}
    knowledge = enrichment.get("knowledge", "").strip() if "knowledge" in fmt.parts else ""
    reasoning = enrichment.get("reasoning", "").strip() if "reasoning" in fmt.parts else ""
    distractors = _distractors(record, fmt.options) if "distractors" in fmt.parts else ""
    if fmt.explanation == "before":
        paragraphs = [f"{q_marker}{question}", knowledge, reasoning, answer_block, distractors]
    else:
        paragraphs = [f"{q_marker}{question}\n{answer_block}", knowledge, reasoning, distractors]
    return "\n\n".join(p for p in paragraphs if p)


def render_seed(seed: dict[str, Any]) -> str:
    """A seed in its original lm-eval format: the task's prompt, its target delimiter, the answer."""
    return f"{seed['question']} {seed['answer_text']}".strip()
