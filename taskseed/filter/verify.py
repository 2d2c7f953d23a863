"""`verify`: is the stored answer right? A verifier model answers each question k times, independently of
the generator's answer; the record is kept when the share of answers agreeing with the stored one reaches
`min_agreement`.

  mc     k answers, each with the options in a different order (rotations of a seeded shuffle, so the
         stored answer sits at k different letters and a position bias cannot vote k times); greedy,
         decoding constrained to one of the letters where the backend can.
  short  k sampled answers, compared by normalized text (equal, contained, or token F1 >= 0.5).
  math   k sampled solutions; the final numeric answer is compared.
  code   no model: the example's own tests run against its reference solution in the sandbox.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from taskseed.filter.base import CheckContext, CheckInputs, Verdict, fail, kind_of
from taskseed.filter.config import VerifyConfig
from taskseed.llm import ChatRequest, Sampling
from taskseed.sources.firewall import normalize_text
from taskseed.synth.parsing import Reject, extract_json

LETTERS = "ABCDEFGHIJKLMNOP"
SYSTEM = "You answer exam questions carefully. Reply with one JSON object and nothing else."


def option_orders(n: int, k: int, seed: str) -> list[list[int]]:
    """k orders of n options; the first min(k, n) are rotations of one seeded shuffle."""
    rng = random.Random(seed)
    base = list(range(n))
    rng.shuffle(base)
    orders = [base[j:] + base[:j] for j in range(min(k, n))]
    while len(orders) < k:
        extra = list(range(n))
        rng.shuffle(extra)
        orders.append(extra)
    return orders


def mc_request(question: str, options: list[str], sampling: Sampling) -> ChatRequest:
    letters = LETTERS[: len(options)]
    listed = "\n".join(f"{letter}. {text}" for letter, text in zip(letters, options, strict=True))
    user = f'{question}\n\n{listed}\n\nWhich option is correct? Reply with JSON: {{"answer": "<letter>"}}'
    schema = {"type": "object", "properties": {"answer": {"type": "string", "enum": list(letters)}},
              "required": ["answer"], "additionalProperties": False}  # fmt: skip
    return ChatRequest.of(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}], sampling, schema
    )


def short_request(question: str, sampling: Sampling) -> ChatRequest:
    user = f'{question}\n\nReply with JSON: {{"answer": "<a short answer>"}}'
    schema = {"type": "object", "properties": {"answer": {"type": "string", "minLength": 1, "maxLength": 200}},
              "required": ["answer"], "additionalProperties": False}  # fmt: skip
    return ChatRequest.of(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}], sampling, schema
    )


def math_request(question: str, sampling: Sampling) -> ChatRequest:
    user = (
        f'{question}\n\nSolve it. Reply with JSON: {{"reasoning": "<brief steps>", "final_answer": <number>}}'
    )
    schema = {"type": "object", "properties": {"reasoning": {"type": "string", "maxLength": 800}, "final_answer": {"type": "number"}},
              "required": ["reasoning", "final_answer"], "additionalProperties": False}  # fmt: skip
    return ChatRequest.of(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}], sampling, schema
    )


def answer_field(text: str, finish_reason: str, key: str = "answer") -> Any:
    try:
        data = extract_json(text, finish_reason)
    except Reject:
        return None
    return data.get(key) if isinstance(data, dict) else None


def same_short_answer(predicted: Any, gold: str) -> bool:
    if not isinstance(predicted, (str, int, float)) or isinstance(predicted, bool):
        return False
    p, g = normalize_text(str(predicted)), normalize_text(gold)
    if not p or not g:
        return False
    if p == g or (len(g) >= 3 and f" {g} " in f" {p} ") or (len(p) >= 3 and f" {p} " in f" {g} "):
        return True
    pw, gw = Counter(p.split()), Counter(g.split())
    common = sum((pw & gw).values())
    return common > 0 and 2 * common / (sum(pw.values()) + sum(gw.values())) >= 0.5


def same_number(predicted: Any, gold: float) -> bool:
    if isinstance(predicted, str):
        found = re.findall(r"-?\d+(?:\.\d+)?", predicted.replace(",", ""))
        predicted = float(found[-1]) if found else None
    if not isinstance(predicted, (int, float)) or isinstance(predicted, bool):
        return False
    return abs(float(predicted) - float(gold)) <= 1e-6 * max(1.0, abs(float(gold)))


@dataclass
class VerifyCheck:
    config: VerifyConfig = field(default_factory=VerifyConfig)
    inputs: CheckInputs = field(default_factory=CheckInputs)  # .verifier: the verifier backend's describe()
    name: str = "verify"

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {"k": c.k, "min_agreement": c.min_agreement, "temperature": c.temperature,
                "max_new_tokens": c.max_new_tokens, "sandbox": dataclasses.asdict(c.sandbox), "verifier": self.inputs.verifier}  # fmt: skip

    def run(self, records: list[dict[str, Any]], ctx: CheckContext) -> list[Verdict]:
        c = self.config
        verdicts: list[Verdict | None] = [None] * len(records)
        requests: list[ChatRequest] = []
        votes: list[tuple[int, Any]] = []  # (record index, how to read the answer)
        for i, r in enumerate(records):
            kind = kind_of(r)
            if kind == "mc":
                # seeded by the question, so the same question always gets the same orders (and votes)
                for order in option_orders(len(r["choices"]), c.k, r["question"]):
                    greedy = Sampling(0.0, 1.0, 16, 0)
                    requests.append(mc_request(r["question"], [r["choices"][j] for j in order], greedy))
                    votes.append((i, order))
            elif kind in ("short", "math"):
                for j in range(c.k):
                    sampling = Sampling(c.temperature if j else 0.0, 0.95, c.max_new_tokens, j)
                    build = short_request if kind == "short" else math_request
                    requests.append(build(r["question"], sampling))
                    votes.append((i, kind))
        completions = ctx.llm.complete(requests, "verifying") if requests else []
        agree: Counter = Counter()
        cast: Counter = Counter()
        seen: dict[int, list[str]] = {}
        for (i, how), completion in zip(votes, completions, strict=True):
            r = records[i]
            cast[i] += 1
            if isinstance(how, list):  # mc: a letter in this order
                letter = answer_field(completion.text, completion.finish_reason)
                pos = LETTERS.find(letter) if isinstance(letter, str) and len(letter) == 1 else -1
                picked = how[pos] if 0 <= pos < len(how) else None
                agree[i] += picked == r["answer_index"]
                seen.setdefault(i, []).append(r["choices"][picked][:40] if picked is not None else "?")
            elif how == "short":
                answer = answer_field(completion.text, completion.finish_reason)
                agree[i] += same_short_answer(answer, r["answer_text"])
                seen.setdefault(i, []).append(str(answer)[:40])
            else:
                answer = answer_field(completion.text, completion.finish_reason, "final_answer")
                agree[i] += same_number(answer, r["reference"]["final_answer"])
                seen.setdefault(i, []).append(str(answer)[:20])
        for i in cast:
            share = agree[i] / cast[i]
            if share >= c.min_agreement:
                verdicts[i] = Verdict(True, share)
            else:
                top = Counter(seen[i]).most_common(1)[0][0]
                verdicts[i] = fail(
                    f"disagrees: {agree[i]}/{cast[i]} verifier answers match (most given: {top!r})", share
                )
        code = [i for i, r in enumerate(records) if kind_of(r) == "code"]
        if code:
            from taskseed.filter.sandbox import Limits, run_many

            limits = Limits(**dataclasses.asdict(c.sandbox))
            programs = [
                (records[i]["reference"]["solution"], "\n".join(records[i]["reference"]["tests"]))
                for i in code
            ]
            for i, result in zip(code, run_many(programs, limits), strict=True):
                verdicts[i] = (
                    Verdict(True, 1.0)
                    if result.passed
                    else fail(f"tests-fail: {result.status}: {result.reason}")
                )
        return [
            v if v is not None else fail(f"unverifiable: no verifier for kind {kind_of(r)!r}")
            for v, r in zip(verdicts, records, strict=True)
        ]
