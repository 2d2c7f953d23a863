"""`dedup`: exact and near duplicates within the synthetic set (the first occurrence is kept), and
examples too close to their own seeds (not fresh: the generator copied instead of writing anew)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from taskseed.filter.base import PASS, CheckContext, CheckInputs, Verdict, fail
from taskseed.filter.config import DedupConfig


def example_text(r: dict[str, Any]) -> str:
    """Everything that makes an example what it is: question, options and answer."""
    return " ".join([r["question"], *(r.get("choices") or []), r["answer_text"]])


@dataclass
class DedupCheck:
    config: DedupConfig = field(default_factory=DedupConfig)
    inputs: CheckInputs = field(default_factory=CheckInputs)
    name: str = "dedup"

    def settings(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def run(self, records: list[dict[str, Any]], ctx: CheckContext) -> list[Verdict]:
        from taskseed.filter.minhash import duplicate_clusters, exact_key, jaccard, near_duplicate_pairs

        c = self.config
        verdicts: list[Verdict] = [PASS] * len(records)
        first: dict[str, int] = {}
        for i, r in enumerate(records):
            key = exact_key(example_text(r))
            if key in first:
                verdicts[i] = fail(f"duplicate-exact: same text as {records[first[key]]['id']}")
            else:
                first[key] = i
        texts = [example_text(r) for r in records]
        pairs = near_duplicate_pairs(
            texts, threshold=c.threshold, ngram=c.ngram, num_perm=c.num_perm, seed=c.seed
        )
        similarity = {(min(a, b), max(a, b)): s for a, b, s in pairs}
        for i, rep in enumerate(duplicate_clusters(len(records), pairs)):
            if rep != i and verdicts[i].passed:
                sim = similarity.get((rep, i), c.threshold)
                verdicts[i] = fail(f"duplicate-near: ~{sim:.2f} Jaccard with {records[rep]['id']}", sim)
        for i, r in enumerate(records):
            if not verdicts[i].passed:
                continue
            closest = max(((jaccard(r["question"], ctx.seeds[s]["question"], c.seed_ngram), s)
                           for s in r.get("seed_ids") or [] if s in ctx.seeds), default=(0.0, ""))  # fmt: skip
            if closest[0] >= c.seed_threshold:
                verdicts[i] = fail(f"not-fresh: {closest[0]:.2f} Jaccard to seed {closest[1]}", closest[0])
        return verdicts
