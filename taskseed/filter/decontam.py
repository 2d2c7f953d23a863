"""`decontam`: is the record (close to) an evaluation item? Two layers against the evaluation set artifact:

  ngram      any n-gram (13 by default) of the record is an n-gram of an evaluation question, or spans an
             evaluation question's end and its answer's start (taskseed.filter.ngrams, datatrove's rules);
  embedding  the cosine similarity of the record's question to an evaluation question (all-MiniLM-L6-v2)
             is at least `embedding_threshold`: this catches rewordings the n-grams miss.

A flagged record is rejected; `contamination.json` reports, per benchmark, how many were flagged, by which
layer, with examples.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taskseed.core.artifacts import Artifact
from taskseed.filter.base import PASS, CheckContext, Verdict, fail


def question_then_answer(r: dict[str, Any]) -> str:
    """Question then answer, so that a copied question/answer boundary is adjacent as in the benchmark."""
    return f"{r['question']}\n{r['answer_text']}"


def nearest(queries: np.ndarray, items: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """For each query vector, the index and cosine similarity of its nearest item (unit vectors)."""
    best = np.full(len(queries), -1, dtype=np.int64)
    sims = np.full(len(queries), -1.0, dtype=np.float32)
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ items.T
        best[start : start + chunk] = scores.argmax(axis=1)
        sims[start : start + chunk] = scores.max(axis=1)
    return best, sims


@dataclass
class DecontamCheck:
    evalset: Artifact | None = None
    ngram: int = 13
    find_query_ngrams: bool = True
    find_overlap_ngrams: bool = True
    find_answer_ngrams: bool = False  # answers alone (GSM8K's worked steps) match unrelated arithmetic
    embedding: bool = True
    embedding_threshold: float = 0.88
    embedder: dict[str, Any] = field(default_factory=dict)  # model, path, batch_size
    examples_per_benchmark: int = 5
    name: str = "decontam"

    def settings(self) -> dict[str, Any]:
        return {"evalset": self.evalset.fingerprint if self.evalset else None, "ngram": self.ngram,
                "find_query_ngrams": self.find_query_ngrams, "find_overlap_ngrams": self.find_overlap_ngrams,
                "find_answer_ngrams": self.find_answer_ngrams, "embedding": self.embedding, "embedding_threshold": self.embedding_threshold,
                "embedder": self.embedder.get("model", "all-MiniLM-L6-v2")}  # fmt: skip

    def run(self, records: list[dict[str, Any]], ctx: CheckContext) -> list[Verdict]:
        from taskseed.filter.evalset import read_evalset
        from taskseed.filter.ngrams import EvalItem, NGramIndex

        items, vectors = read_evalset(self.evalset)
        index = NGramIndex.build(
            (EvalItem(i["benchmark"], i["item_id"], i["question"], i["answer_text"]) for i in items),
            n=self.ngram, find_query_ngrams=self.find_query_ngrams, find_overlap_ngrams=self.find_overlap_ngrams,
            find_answer_ngrams=self.find_answer_ngrams,
            skip_numeric_ngrams=True,
        )  # fmt: skip
        by_id = {i["item_id"]: i for i in items}
        hits: list[list[tuple[str, str, float, str]]] = [
            [] for _ in records
        ]  # (layer, item_id, score, detail)
        texts = [question_then_answer(r) for r in records]
        # the batched lookup first; only flagged records pay for the per-item match report
        for n, flagged in enumerate(index.flags(texts)):
            for match in index.matches(texts[n]) if flagged else ():
                hits[n].append(("ngram", match.item_id, 1.0, f"{match.kind} n-gram {match.ngram!r}"))
        if self.embedding and records:
            from taskseed.filter.embed import Embedder

            embedder = Embedder(self.embedder.get("model", "all-MiniLM-L6-v2"), self.embedder.get("path"),
                                int(self.embedder.get("batch_size", 128)), self.evalset.manifest["config"]["dtype"])  # fmt: skip
            queries = embedder.encode([r["question"] for r in records], show_progress=ctx.progress)
            best, sims = nearest(queries, vectors)
            for n, (j, sim) in enumerate(zip(best, sims, strict=True)):
                if sim >= self.embedding_threshold:
                    hits[n].append(("embedding", items[j]["item_id"], float(sim), f"cosine {sim:.3f}"))
        ctx.reports["contamination"] = self.report(records, hits, items, by_id)
        verdicts = []
        for r_hits in hits:
            if not r_hits:
                verdicts.append(PASS)
                continue
            layer, item_id, score, detail = max(r_hits, key=lambda h: h[2])
            best = by_id[item_id]["benchmark"]
            benches = "+".join([best, *sorted({by_id[h[1]]["benchmark"] for h in r_hits} - {best})])
            layers = "+".join(sorted({h[0] for h in r_hits}))
            verdicts.append(fail(f"contaminated: {benches} {item_id} ({layers}; {detail})", score))
        return verdicts

    def report(self, records, hits, items, by_id) -> dict[str, Any]:
        out: dict[str, Any] = {
            b: {"items": 0, "flagged": 0, "by_layer": {"ngram": 0, "embedding": 0, "both": 0}, "examples": []}
            for b in sorted({i["benchmark"] for i in items})
        }
        for i in items:
            out[i["benchmark"]]["items"] += 1
        for r, r_hits in zip(records, hits, strict=True):
            per_bench: dict[str, list] = defaultdict(list)
            for h in r_hits:
                per_bench[by_id[h[1]]["benchmark"]].append(h)
            for bench, bench_hits in per_bench.items():
                entry = out[bench]
                entry["flagged"] += 1
                layers = {h[0] for h in bench_hits}
                entry["by_layer"]["both" if len(layers) == 2 else layers.pop()] += 1
                if len(entry["examples"]) < self.examples_per_benchmark:
                    layer, item_id, score, detail = max(bench_hits, key=lambda h: h[2])
                    entry["examples"].append({"record_id": r["id"], "task": r["task"], "question": r["question"][:300],
                                              "eval_item": item_id, "eval_question": by_id[item_id]["question"][:300],
                                              "layer": layer, "score": round(score, 4), "detail": detail[:200]})  # fmt: skip
        return {"settings": self.settings(), "records_checked": len(records), "benchmarks": out}
