"""The optional LLM judge of decontamination (`filter.decontam.judge`), the LLM-decontaminator pattern:
a record's nearest evaluation items that neither the cosine nor the answer confirmed are shown to the verifier
model beside the record, and it answers, schema-constrained, which item (if any) the record is a rewording
of. Its calls go through the verifier's LLM call cache like every other model call."""

from __future__ import annotations

from typing import Any

from taskseed.filter.base import CheckContext
from taskseed.filter.config import DecontamJudge
from taskseed.filter.verify import answer_field
from taskseed.llm import ChatRequest, Sampling

SYSTEM = "You audit training data for benchmark contamination. Reply with JSON only."
PROMPT = """Is the RECORD one of the numbered EVALUATION ITEMS reworded (the same question: the same facts,
numbers and correct answer, even if sentences, framing and option wording differ)? A different question on
the same topic is not a match.

RECORD:
{record}

EVALUATION ITEMS:
{items}

Reply with JSON: {{"match": <the item's number, or 0 for none>, "why": "<one short sentence>"}}"""


def _show(side: dict[str, Any]) -> str:
    options = "".join(f"\n  - {c}" for c in side.get("choices") or [])
    answer = str(side.get("answer_text", "")).rsplit("####", 1)[-1].strip()[:300]
    return f"{str(side['question'])[:1500]}{options}\n  Answer: {answer}"


def judge_candidates(
    pending: list[tuple[dict[str, Any], list[tuple[dict[str, Any], float]]]], ctx: CheckContext,
    settings: DecontamJudge,
) -> list[tuple[int, str]]:  # fmt: skip
    """Per (record, [(item, cosine)...]): the 1-based number of the item it rewords (0: none) and why."""
    n_max = settings.candidates
    schema = {"type": "object", "properties": {"match": {"type": "integer", "enum": list(range(n_max + 1))},
              "why": {"type": "string", "maxLength": 200}}, "required": ["match", "why"], "additionalProperties": False}  # fmt: skip
    requests = []
    for record, candidates in pending:
        items = "\n\n".join(f"{k}. {_show(item)}" for k, (item, _) in enumerate(candidates[:n_max], 1))
        user = PROMPT.format(record=_show(record), items=items)
        requests.append(ChatRequest.of([{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                                       Sampling(0.0, 1.0, settings.max_new_tokens, 0), schema))  # fmt: skip
    out = []
    for (_, candidates), completion in zip(
        pending, ctx.llm.complete(requests, "judging contamination"), strict=True
    ):
        match = answer_field(completion.text, completion.finish_reason, "match")
        why = str(answer_field(completion.text, completion.finish_reason, "why") or completion.text[:80])[
            :160
        ]
        valid = (
            isinstance(match, int)
            and not isinstance(match, bool)
            and 0 < match <= min(n_max, len(candidates))
        )
        out.append((match if valid else 0, why))
    return out
