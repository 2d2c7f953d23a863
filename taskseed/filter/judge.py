"""The optional LLM judge of the quality check: the verifier model rates each example 1-5."""

from __future__ import annotations

from typing import Any

from taskseed.filter.base import CheckContext
from taskseed.filter.config import QualityJudge
from taskseed.filter.verify import SYSTEM, answer_field
from taskseed.llm import ChatRequest, Sampling

RUBRIC = """Rate this exam question and its answer for a training set, from 1 (useless: unclear, wrong or
trivial) to 5 (clear, correct, self-contained and instructive).

Question: {question}
{options}Answer: {answer}

Reply with JSON: {{"score": <1-5>, "why": "<one short sentence>"}}"""
SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
          "why": {"type": "string", "maxLength": 200}}, "required": ["score", "why"], "additionalProperties": False}  # fmt: skip


def judge_scores(
    records: list[dict[str, Any]], ctx: CheckContext, settings: QualityJudge
) -> list[tuple[float | None, str]]:
    requests = []
    for r in records:
        options = "".join(f"- {c}\n" for c in r.get("choices") or [])
        user = RUBRIC.format(
            question=r["question"],
            options=f"Options:\n{options}" if options else "",
            answer=r["answer_text"][:1500],
        )
        requests.append(ChatRequest.of([{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                                       Sampling(0.0, 1.0, settings.max_new_tokens, 0), SCHEMA))  # fmt: skip
    out = []
    for completion in ctx.llm.complete(requests, "judging"):
        score = answer_field(completion.text, completion.finish_reason, "score")
        why = answer_field(completion.text, completion.finish_reason, "why")
        valid = isinstance(score, (int, float)) and not isinstance(score, bool) and 1 <= score <= 5
        out.append((float(score) if valid else None, str(why or completion.text[:60])[:120]))
    return out
