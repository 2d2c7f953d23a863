"""`quality`: cheap heuristics (score = the share of heuristics met) plus an optional LLM-judge score."""

from __future__ import annotations

import dataclasses
import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from taskseed.filter.base import CheckContext, CheckInputs, Verdict, fail, kind_of
from taskseed.filter.config import QualityConfig
from taskseed.sources.firewall import normalize_text

PLACEHOLDER = re.compile(
    r"lorem ipsum|\bTODO\b|\bexample question\b|\[insert|<[a-z_]+>|\{\{|\.\.\.\s*$", re.IGNORECASE
)


def _repetition(text: str) -> float:
    """The share of distinct word trigrams (1.0: no repeats; degenerate loops score low)."""
    words = normalize_text(text).split()
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return len(set(grams)) / len(grams) if grams else 1.0


def heuristics(r: dict[str, Any]) -> dict[str, bool]:
    kind = kind_of(r)
    question = r.get("question") or ""
    enrichment = r.get("enrichment") or {}
    body = " ".join([question, r.get("answer_text") or "", enrichment.get("reasoning") or ""])
    letters = sum(c.isalpha() for c in question)
    out = {
        "not-repetitive": _repetition(body) >= 0.6,
        "content-words": len(re.findall(r"[A-Za-z]{3,}", question)) >= 4,
        "mostly-text": kind in ("math", "code") or letters >= 0.5 * max(1, len(question.replace(" ", ""))),
        "no-placeholder": not PLACEHOLDER.search(question + " " + (r.get("answer_text") or "")),
        "reasoning-has-substance": len((enrichment.get("reasoning") or "").split()) >= 6
        if enrichment
        else True,
    }
    if kind == "mc" and r.get("choices"):
        lengths = [len(c) for c in r["choices"]]
        others = [n for i, n in enumerate(lengths) if i != r.get("answer_index")] or [1]
        # An answer several times longer than every distractor gives itself away.
        out["balanced-options"] = lengths[r["answer_index"]] <= 3 * max(statistics.median(others), 8)
    return out


@dataclass
class QualityCheck:
    config: QualityConfig = field(default_factory=QualityConfig)
    inputs: CheckInputs = field(default_factory=CheckInputs)
    name: str = "quality"

    def settings(self) -> dict[str, Any]:
        judge = self.config.judge
        return {
            "min_score": self.config.min_score,
            "judge": dataclasses.asdict(judge) if judge.enabled else None,
        }

    def run(self, records: list[dict[str, Any]], ctx: CheckContext) -> list[Verdict]:
        verdicts = []
        for r in records:
            met = heuristics(r)
            score = sum(met.values()) / len(met)
            missed = [k for k, ok in met.items() if not ok]
            verdicts.append(
                Verdict(True, score)
                if score >= self.config.min_score
                else fail(f"low-quality: {', '.join(missed)}", score)
            )
        if self.config.judge.enabled:
            from taskseed.filter.judge import judge_scores

            alive = [i for i, v in enumerate(verdicts) if v.passed]
            scores = judge_scores([records[i] for i in alive], ctx, self.config.judge)
            floor = self.config.judge.min_score
            for i, (score, why) in zip(alive, scores, strict=True):
                if score is None:
                    verdicts[i] = fail(f"judge-unparsable: {why}")
                elif score < floor:
                    verdicts[i] = fail(f"judge-low: {score:g} < {floor:g} ({why})", score / 5)
                else:
                    verdicts[i] = Verdict(True, min(verdicts[i].score, score / 5))
        return verdicts
