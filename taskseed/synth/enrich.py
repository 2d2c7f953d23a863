"""`taskseed enrich`: knowledge, a reasoning path and distractor explanations for each generated example.

The answer is held fixed: it is given to the model, and an enrichment whose reasoning does not reach that
answer, names another option as the answer, or calls a wrong option correct is rejected with a reason.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, content_hash
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.llm import Sampling, make_backend
from taskseed.llm.base import ChatRequest, Completion
from taskseed.sources.firewall import normalize_text
from taskseed.synth.config import EnrichConfig
from taskseed.synth.generate import run_llm_stage
from taskseed.synth.llmjobs import Job, JobSpec, Outcome
from taskseed.synth.parsing import Reject, extract_json, is_english

log = logging.getLogger(__name__)

STAGE = "enrich"
VERSION = "1"
LIMITS = {"knowledge": 1200, "reasoning": 1800, "distractor": 400}

SYSTEM = "You are a patient teacher who explains answers. Reply with one JSON object and nothing else."
USER = """{question}
{options}Correct answer: {answer}

The answer is fixed; do not question it. Write, for a student:
"knowledge": the facts or concepts this question tests (2-4 sentences);
"reasoning": the steps from the question to the answer, ending with "So the answer is {answer}."{distractor_line}
Reply with JSON only, with the keys {keys}."""
DISTRACTOR_LINE = (
    '\n"distractors": for each wrong option, one sentence on why it is wrong (keys: the options).'
)
CORRECT_CLAIM = re.compile(
    r"(?<!not )(?<!n't )\b(is|are)\s+(the\s+)?(correct|right)(\s+answer)?\b", re.IGNORECASE
)
ANSWER_CLAIM = re.compile(
    r"answer is[:\s]+(.+?)(?=[,;]|\.\s|\.$|\s+not\s|\s+rather\s|$)", re.IGNORECASE | re.DOTALL
)


def prompt_version() -> str:
    return content_hash(SYSTEM, USER, DISTRACTOR_LINE, length=10)


def answer_of(example: dict[str, Any]) -> str:
    if example["kind"] == "math":
        return str(example["reference"]["final_answer"])
    if example["kind"] == "code":
        return "the solution below"
    return example["answer_text"]


def wrong_options(example: dict[str, Any]) -> list[str]:
    if not example.get("choices"):
        return []
    return [c for i, c in enumerate(example["choices"]) if i != example["answer_index"]]


def schema_for(example: dict[str, Any]) -> dict[str, Any]:
    text = lambda limit: {"type": "string", "minLength": 1, "maxLength": limit}  # noqa: E731
    props: dict[str, Any] = {"knowledge": text(LIMITS["knowledge"]), "reasoning": text(LIMITS["reasoning"])}
    wrong = wrong_options(example)
    if wrong:
        props["distractors"] = {
            "type": "object",
            "properties": {w: text(LIMITS["distractor"]) for w in wrong},
            "required": wrong,
            "additionalProperties": False,
        }
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def messages_for(example: dict[str, Any]) -> list[dict[str, str]]:
    options = "".join(f"- {c}\n" for c in example["choices"]) if example.get("choices") else ""
    question = example["question"]
    if example["kind"] == "code":
        question = f"{question}\n\nSolution:\n{example['answer_text']}"
    elif example["kind"] == "math":
        question = f"{question}\n\nWorked solution: {example['reference']['solution']}"
    wrong = wrong_options(example)
    keys = ", ".join(schema_for(example)["required"])
    user = USER.format(question=question, options=f"Options:\n{options}" if options else "", answer=answer_of(example),
                       distractor_line=DISTRACTOR_LINE if wrong else "", keys=keys)  # fmt: skip
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def check_enrichment(example: dict[str, Any], text: str, finish_reason: str) -> dict[str, Any]:
    """The enrichment, or Reject with why it cannot stand next to this answer."""
    if not text.strip():
        raise Reject("empty-output")
    data = extract_json(text, finish_reason)
    if not isinstance(data, dict):
        raise Reject("not-an-object", type(data).__name__)
    out: dict[str, Any] = {}
    for key in ("knowledge", "reasoning"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise Reject(f"missing-field:{key}" if key not in data else f"empty-field:{key}")
        if len(value) > LIMITS[key]:
            raise Reject(f"too-long:{key}")
        if not is_english(value):
            raise Reject("wrong-language", value[:80])
        out[key] = value.strip()
    reasoning = normalize_text(out["reasoning"])
    answer = answer_of(example)
    wrong = wrong_options(example)
    if example["kind"] != "code" and normalize_text(answer) not in reasoning:
        raise Reject("reasoning-misses-answer", out["reasoning"][-120:])
    claim = ANSWER_CLAIM.findall(out["reasoning"])
    if claim:
        final = normalize_text(claim[-1])
        if example["kind"] != "code" and normalize_text(answer) not in final:
            named = [w for w in wrong if normalize_text(w) and normalize_text(w) in final]
            raise Reject("argues-for-distractor" if named else "contradicts-answer", claim[-1][:120])
    out["distractors"] = {}
    if wrong:
        given = data.get("distractors")
        if not isinstance(given, dict):
            raise Reject("missing-field:distractors")
        by_norm = {normalize_text(k): v for k, v in given.items() if isinstance(v, str)}
        if normalize_text(example["answer_text"]) in by_norm:
            raise Reject("explains-answer-as-wrong")
        for option in wrong:
            why = by_norm.get(normalize_text(option), "").strip()
            if not why:
                raise Reject("missing-distractor-explanation", option[:80])
            if len(why) > LIMITS["distractor"]:
                raise Reject("too-long:distractors")
            if CORRECT_CLAIM.search(why):
                raise Reject("argues-for-distractor", f"{option}: {why[:100]}")
            out["distractors"][option] = why
    return out


def enrich_spec(e: EnrichConfig, generated: Artifact, backend_info: dict[str, Any]) -> StageSpec:
    s = e.sampling
    config = {
        "backend": backend_info,
        "sampling": Sampling(s.temperature, s.top_p, s.max_new_tokens, e.seed).as_dict(),
        "max_attempts": e.max_attempts,
        "prompt_version": prompt_version(),
    }
    return StageSpec(STAGE, VERSION, config, inputs={"generated": generated}, resumable=True)


def job_spec(config: dict[str, Any], backend_info: dict[str, Any]) -> JobSpec:
    from taskseed.synth.generate import retry_sampling

    base = Sampling(**config["sampling"])

    def request(job: Job, attempt: int) -> ChatRequest:
        example = job.payload["record"]
        return ChatRequest.of(messages_for(example), retry_sampling(base, attempt), schema_for(example))

    def judge(job: Job, completion: Completion, attempt: int) -> Outcome:
        example = job.payload["record"]
        try:
            enrichment = check_enrichment(example, completion.text, completion.finish_reason)
        except Reject as err:
            return Outcome(reason=err.reason, detail=err.detail[:300])
        except Exception as err:  # noqa: BLE001 - totality
            return Outcome(reason="parse-error", detail=f"{type(err).__name__}: {err}"[:300])
        record = {**example, "job_id": job.job_id, "enrichment": enrichment,
                  "enricher": {**backend_info, "sampling": retry_sampling(base, attempt).as_dict(), "prompt_version": config["prompt_version"]},
                  "checks": {**example.get("checks", {}), "enrichment": {"passed": True, "score": 1.0, "reason": ""}}}  # fmt: skip
        record["n_tokens"] = int(example.get("n_tokens") or 0) + completion.completion_tokens
        return Outcome(record=record)

    def rejected(job: Job, history: list[dict[str, Any]]) -> dict[str, Any]:
        example = job.payload["record"]
        last = history[-1] if history else {"reason": "no-attempt", "detail": ""}
        return {**example, "job_id": job.job_id, "rejection": {"reason": last["reason"], "detail": last["detail"], "attempts": history},
                "checks": {**example.get("checks", {}), "enrichment": {"passed": False, "score": 0.0, "reason": last["reason"]}}}  # fmt: skip

    return JobSpec(request, judge, rejected, max_attempts=config["max_attempts"])


def run_enrich(session: Session, generated: Artifact) -> Artifact:
    cfg = session.cfg
    e: EnrichConfig = section(cfg, "enrich")
    backend = make_backend(e, cfg["model"], Path(cfg["paths"]["cache"]))
    spec = enrich_spec(e, generated, backend.describe())
    try:
        return session.run(spec, lambda ctx: build_enrich(ctx, generated, backend, spec.config, e.shard_size))
    finally:
        backend.close()


def build_enrich(
    ctx: StageContext, generated: Artifact, backend, config: dict[str, Any], shard_size: int
) -> None:
    jobs = [
        Job(
            content_hash("enrich", r["id"], r["job_id"], length=16),
            {"record": r, "task": r["task"], "kind": r["kind"]},
        )
        for r in generated.iter_records()
    ]
    if not jobs:
        from taskseed.core.errors import TaskseedError

        raise TaskseedError(
            f"the generate artifact {generated.path} has no kept examples to enrich; generate more (generate.num_examples)"
        )
    run_llm_stage(ctx, jobs, job_spec(config, backend.describe()), backend, shard_size, "enrich")
