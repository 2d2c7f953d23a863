"""`quality`: cheap heuristics (score = the share of heuristics met) plus an optional LLM-judge score."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from taskseed.filter.base import CheckContext, Verdict, fail, kind_of
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
    min_score: float = 0.8
    judge: dict[str, Any] = field(default_factory=dict)  # {enabled, min_score, ...}; see filter/judge.py
    name: str = "quality"

    def settings(self) -> dict[str, Any]:
        return {"min_score": self.min_score, "judge": self.judge if self.judge.get("enabled") else None}

    def run(self, records: list[dict[str, Any]], ctx: CheckContext) -> list[Verdict]:
        verdicts = []
        for r in records:
            met = heuristics(r)
            score = sum(met.values()) / len(met)
            missed = [k for k, ok in met.items() if not ok]
            verdicts.append(
                Verdict(True, score)
                if score >= self.min_score
                else fail(f"low-quality: {', '.join(missed)}", score)
            )
        if self.judge.get("enabled"):
            from taskseed.filter.judge import judge_scores

            alive = [i for i, v in enumerate(verdicts) if v.passed]
            scores = judge_scores([records[i] for i in alive], ctx, self.judge)
            floor = float(self.judge.get("min_score", 3))
            for i, (score, why) in zip(alive, scores, strict=True):
                if score is None:
                    verdicts[i] = fail(f"judge-unparsable: {why}")
                elif score < floor:
                    verdicts[i] = fail(f"judge-low: {score:g} < {floor:g} ({why})", score / 5)
                else:
                    verdicts[i] = Verdict(True, min(verdicts[i].score, score / 5))
        return verdicts
