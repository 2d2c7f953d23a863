"""`decontam`: is the record (close to) an evaluation item? Two layers against the evaluation set artifact:

  ngram      any n-gram (13 by default) of the record is an n-gram of an evaluation question, or spans an
             evaluation question's end and its answer's start (taskseed.filter.ngrams, datatrove's rules),
             unless the answer shows another question (`ngram_answer_check`);
  embedding  the record's question is near an evaluation question (all-MiniLM-L6-v2 cosine, among the items
             its lexical shortlist names, taskseed.filter.neighbors): at or above
             `embedding.threshold` on the cosine alone; from `candidate_threshold` up (the `top_k` nearest
             items) when the answer confirms it (`confirm`, taskseed.filter.confirm): the same correct option
             and answer space, or the same final number from the same givens. A person's paraphrase keeps the
             answer; a new question on the same topic rarely does.

A flagged record is rejected; `contamination.json` reports, per benchmark, how many were flagged, by which
layer, with examples, and every flag with its matched item, cosine and evidence.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taskseed.core.hardware import resolve_dtype
from taskseed.filter.base import PASS, CheckContext, CheckInputs, Verdict, fail
from taskseed.filter.config import DecontamConfig


def question_then_answer(r: dict[str, Any]) -> str:
    """Question then answer, so that a copied question/answer boundary is adjacent as in the benchmark."""
    return f"{r['question']}\n{r['answer_text']}"


def nearest(
    queries: np.ndarray, items: np.ndarray, k: int = 1, chunk: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """For each query vector, the indices and cosine similarities of its `k` nearest items, best first."""
    k = max(1, min(k, len(items)))
    best = np.empty((len(queries), k), dtype=np.int64)
    sims = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ items.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1)
        best[start : start + chunk] = np.take_along_axis(top, order, axis=1)
        sims[start : start + chunk] = np.take_along_axis(top_scores, order, axis=1)
    return best, sims


@dataclass
class DecontamCheck:
    config: DecontamConfig = field(default_factory=DecontamConfig)
    inputs: CheckInputs = field(default_factory=CheckInputs)  # .evalset: what the records are checked against
    name: str = "decontam"

    def settings(self) -> dict[str, Any]:
        c, emb = self.config, self.config.embedding
        evalset = self.inputs.evalset
        return {"evalset": evalset.fingerprint if evalset else None, "ngram": c.ngram,
                "find_query_ngrams": c.find_query_ngrams, "find_overlap_ngrams": c.find_overlap_ngrams,
                "find_answer_ngrams": c.find_answer_ngrams, "ngram_answer_check": c.ngram_answer_check, "embedding": emb.enabled, "embedding_threshold": emb.threshold,
                "embedder": emb.model, "confirm": emb.confirm, "candidate_threshold": emb.candidate_threshold,
                "top_k": emb.top_k, "shortlist": emb.shortlist, "embedding_dtype": resolve_dtype(emb.dtype), "judge": dataclasses.asdict(c.judge) if c.judge.enabled else None}  # fmt: skip

    def run(self, records: list[dict[str, Any]], ctx: CheckContext) -> list[Verdict]:
        from taskseed.filter.evalset import read_evalset
        from taskseed.filter.ngrams import EvalItem, NGramIndex

        c, emb, evalset = self.config, self.config.embedding, self.inputs.evalset
        items = read_evalset(evalset)
        index = NGramIndex.build(
            (EvalItem(i["benchmark"], i["item_id"], i["question"], i["answer_text"]) for i in items),
            n=c.ngram, find_query_ngrams=c.find_query_ngrams, find_overlap_ngrams=c.find_overlap_ngrams,
            find_answer_ngrams=c.find_answer_ngrams,
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
        from taskseed.filter.confirm import AnswerMatcher
        from taskseed.filter.embed import Embedder

        embedder = Embedder(emb.model, emb.path, emb.batch_size, emb.dtype) if emb.enabled else None
        matcher = AnswerMatcher(embedder.encode if embedder else None)
        contradicted = self._contradicted(records, by_id, hits, matcher) if c.ngram_answer_check else []
        judged = None
        if embedder and records:
            best, sims = self._nearest(records, items, embedder, ctx)
            judged = self._embedding_hits(records, items, best, sims, hits, matcher, ctx)
        ctx.reports["contamination"] = self.report(records, hits, items, by_id)
        ctx.reports["contamination"]["ngram_contradicted"] = contradicted
        if emb.enabled and records and c.judge.enabled:
            ctx.reports["contamination"]["judge"] = judged
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

    def _nearest(self, records, items, embedder, ctx) -> tuple[np.ndarray, np.ndarray]:
        """Per record, the rows and cosines of its `top_k` nearest evaluation items (-1 and -inf where it has
        fewer), among its lexical shortlist, or among every item when `embedding.shortlist` is null."""
        from taskseed.filter.neighbors import ItemVectors, lexical_index

        emb = self.config.embedding
        k = emb.top_k if emb.confirm else 1
        queries = embedder.encode([r["question"] for r in records], show_progress=ctx.progress)
        vectors = ItemVectors.of(self.inputs.evalset, items, embedder, self.inputs.cache)
        if emb.shortlist is None:
            return nearest(queries, vectors.get(np.arange(len(items)), ctx.progress), k)
        shortlists = lexical_index(self.inputs.evalset, items).shortlist(records, emb.shortlist)
        vectors.get(np.unique(np.concatenate([np.zeros(0, np.int64), *shortlists])), ctx.progress)
        best = np.full((len(records), k), -1, dtype=np.int64)
        sims = np.full((len(records), k), -np.inf, dtype=np.float32)
        for n, rows in enumerate(shortlists):
            if len(rows):
                top, cosines = nearest(queries[n : n + 1], vectors.get(rows), k)
                best[n, : top.shape[1]], sims[n, : top.shape[1]] = rows[top[0]], cosines[0]
        return best, sims

    def _contradicted(self, records, by_id, hits, matcher) -> list[dict[str, str]]:
        """Drop the n-gram hits whose answer shows another question (a shared template stem, a listed set of
        names, a GSM8K text with other numbers); what was dropped, and why, goes to the report."""
        pairs = [(records[n], by_id[h[1]]) for n, r_hits in enumerate(hits) for h in r_hits]
        matcher.prepare(pairs)
        dropped = []
        for n, r_hits in enumerate(hits):
            for hit in list(r_hits):
                why = matcher.contradiction(records[n], by_id[hit[1]])
                if why:
                    r_hits.remove(hit)
                    dropped.append({"record_id": records[n].get("id"), "eval_item": hit[1], "ngram": hit[3][:200],
                                    "why": why})  # fmt: skip
        return dropped

    def _embedding_hits(self, records, items, best, sims, hits, matcher, ctx) -> dict[str, int] | None:
        """Near items flag a record on the cosine alone, or from `candidate_threshold` up when confirmed by
        the answer (or, if enabled, the judge: its counts are returned)."""
        emb, judge = self.config.embedding, self.config.judge
        pending = []
        for n in range(len(records)):
            if sims[n, 0] >= emb.threshold:
                j = best[n, 0]
                hits[n].append(
                    ("embedding", items[j]["item_id"], float(sims[n, 0]), f"cosine {sims[n, 0]:.3f}")
                )
            elif emb.confirm:
                pending += [(n, j, float(s)) for j, s in zip(best[n], sims[n], strict=True)
                            if s >= emb.candidate_threshold]  # fmt: skip
        if not pending:
            return {"asked": 0, "flagged": 0} if judge.enabled else None
        matcher.prepare((records[n], items[j]) for n, j, _ in pending)
        confirmed: set[int] = set()
        for n, j, sim in pending:  # best first per record
            if n in confirmed:
                continue
            evidence = matcher.evidence(records[n], items[j])
            if evidence:
                confirmed.add(n)
                hits[n].append(("embedding", items[j]["item_id"], sim, f"cosine {sim:.3f}, {evidence}"))
        return self._judge_hits(items, records, pending, hits, ctx) if judge.enabled else None

    def _judge_hits(self, items, records, pending, hits, ctx) -> dict[str, int]:
        """The LLM judge reads the candidates of records nothing else flagged (n-gram, cosine or answer)."""
        from taskseed.filter.decontam_judge import judge_candidates

        open_: dict[int, list[tuple[dict[str, Any], float]]] = defaultdict(list)
        for n, j, sim in pending:
            if not hits[n]:
                open_[n].append((items[j], sim))
        order = sorted(open_)
        answers = judge_candidates([(records[n], open_[n]) for n in order], ctx, self.config.judge)
        for n, (match, why) in zip(order, answers, strict=True):
            if match:
                item, sim = open_[n][match - 1]
                hits[n].append(("embedding", item["item_id"], sim, f"cosine {sim:.3f}, judge: {why}"))
        return {"asked": len(order), "flagged": sum(1 for match, _ in answers if match)}

    def report(self, records, hits, items, by_id) -> dict[str, Any]:
        out: dict[str, Any] = {
            b: {"items": 0, "flagged": 0, "by_layer": {"ngram": 0, "embedding": 0, "both": 0}, "examples": []}
            for b in sorted({i["benchmark"] for i in items})
        }
        for i in items:
            out[i["benchmark"]]["items"] += 1
        flags = []
        for r, r_hits in zip(records, hits, strict=True):
            for layer, item_id, score, detail in r_hits:
                flags.append({"record_id": r.get("id"), "layer": layer, "benchmark": by_id[item_id]["benchmark"],
                              "eval_item": item_id, "score": round(score, 4), "evidence": detail[:300]})  # fmt: skip
            per_bench: dict[str, list] = defaultdict(list)
            for h in r_hits:
                per_bench[by_id[h[1]]["benchmark"]].append(h)
            for bench, bench_hits in per_bench.items():
                entry = out[bench]
                entry["flagged"] += 1
                layers = {h[0] for h in bench_hits}
                entry["by_layer"]["both" if len(layers) == 2 else layers.pop()] += 1
                if len(entry["examples"]) < self.config.examples_per_benchmark:
                    layer, item_id, score, detail = max(bench_hits, key=lambda h: h[2])
                    entry["examples"].append({"record_id": r["id"], "task": r["task"], "question": r["question"][:300],
                                              "eval_item": item_id, "eval_question": by_id[item_id]["question"][:300],
                                              "layer": layer, "score": round(score, 4), "detail": detail[:200]})  # fmt: skip
        return {
            "settings": self.settings(),
            "records_checked": len(records),
            "benchmarks": out,
            "flags": flags,
        }
