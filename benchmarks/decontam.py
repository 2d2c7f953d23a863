"""N-gram decontamination (taskseed.filter.ngrams) vs datatrove's NGramsDecontFilter, same items, docs and n.

Index: real eval items from the mirror (GSM8K test, ARC-Challenge test, MMLU-Pro test), question + gold answer.
Docs: real training-split records (GSM8K, CommonsenseQA, ARC, OpenBookQA, MuTual), a few hundred of them with
an eval question, a question + answer, or a question/answer boundary planted (case and punctuation changed).
Both sides index 13-grams of query, answer and boundary with datatrove's default text normalization; only the
filtering phase is timed (index building is reported apart), on one core, best of three.

datatrove's English word tokenizer needs spaCy, which the bench extra does not install: its filter and its
indexer's `compute_hashes` run here with a whitespace tokenizer (see taskseed.filter.ngrams for what differs).
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from taskseed.filter.ngrams import EvalItem, NGramIndex

MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _rows(path: str, mirror: Path) -> Iterator[dict]:
    with open(mirror / path) as f:
        yield from map(json.loads, f)


def _choice(choices: dict, key: str) -> str:
    return choices["text"][choices["label"].index(key)]


def eval_items(mirror: Path = MIRROR, mmlu_pro: int = 3000) -> list[EvalItem]:
    """GSM8K test, ARC-Challenge test and the first `mmlu_pro` MMLU-Pro test items: question and gold answer."""
    items = [
        EvalItem("gsm8k", f"test-{i}", r["question"], r["answer"])
        for i, r in enumerate(_rows("openai/gsm8k/main/test.jsonl", mirror))
    ]
    items += [
        EvalItem("arc_challenge", r["id"], r["question"], _choice(r["choices"], r["answerKey"]))
        for r in _rows("allenai/ai2_arc/ARC-Challenge/test.jsonl", mirror)
    ]
    for r in _rows("TIGER-Lab/MMLU-Pro/default/test.jsonl", mirror):
        if len(items) >= 1319 + 1172 + mmlu_pro:
            break
        items.append(
            EvalItem("mmlu_pro", str(r["question_id"]), r["question"], r["options"][r["answer_index"]])
        )
    return items


def training_docs(mirror: Path = MIRROR) -> list[str]:
    """Training-split records of non-eval datasets, rendered as question + answer text."""
    docs = [f"{r['question']}\n{r['answer']}" for r in _rows("openai/gsm8k/main/train.jsonl", mirror)]
    docs += [
        f"{r['question']} {_choice(r['choices'], r['answerKey'])}"
        for r in _rows("tau/commonsense_qa/default/train.jsonl", mirror)
    ]
    for name in ("ARC-Easy", "ARC-Challenge"):
        docs += [
            f"Question: {r['question']}\nAnswer: {_choice(r['choices'], r['answerKey'])}"
            for r in _rows(f"allenai/ai2_arc/{name}/train.jsonl", mirror)
        ]
    docs += [
        f"{r['question_stem']} {_choice(r['choices'], r['answerKey'])}"
        for r in _rows("allenai/openbookqa/main/train.jsonl", mirror)
    ]
    docs += [r["article"] for r in _rows("EleutherAI/mutual/mutual/train.jsonl", mirror)]
    return docs


def plant(docs: list[str], items: list[EvalItem], count: int = 300) -> tuple[list[str], list[int]]:
    """Copy of `docs` where `count` spread-out docs embed an eval question, question + answer or the words
    around the question/answer boundary (by turns); the indices of those docs."""
    docs, rng = list(docs), np.random.default_rng(7)
    where = rng.choice(len(docs), count, replace=False).tolist()
    for k, d in enumerate(where):
        item = items[rng.integers(len(items))]
        q = item.question.split()
        planted = [
            item.question.upper(),
            f"{item.question}\n\n{item.answer}",
            " ".join(q[-12:] + [item.answer]),
        ][k % 3]
        docs[d] = f"{docs[d]}\n{planted.replace('?', ' ?!')}\nThat is all."
    return docs, where


class _SplitTokenizer:
    """Whitespace word tokenizer, standing in for spaCy's (not installed) inside datatrove's steps."""

    language = "en"

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()


@contextmanager
def _whitespace_tokenizer():
    from datatrove.pipeline.decont import n_grams

    load = n_grams.load_word_tokenizer
    n_grams.load_word_tokenizer = lambda language: _SplitTokenizer()
    try:
        yield
    finally:
        n_grams.load_word_tokenizer = load


def datatrove_filter(items: list[EvalItem], folder: Path, n: int = 13, find_query_ngrams: bool = True):
    """datatrove's NGramsDecontFilter over an index of `items` written by its own indexer code to `folder`.

    NGramsDecontIndexer cannot be instantiated without lighteval (it reads lighteval tasks), so its
    `compute_hashes` runs on a stand-in `self`; the files have its layout (`<task>.index.hashes`, uint64).
    """
    from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer
    from datatrove.utils.hashing import create_hash_func

    config = NGramsDecontConfig(n_grams=n, find_query_ngrams=find_query_ngrams, find_overlap_ngrams=True)
    indexer = SimpleNamespace(
        config=config, tokenizer=_SplitTokenizer(), hash_func=create_hash_func(config.hash_config)
    )
    hashes = defaultdict(set)
    for item in items:
        hashes[item.benchmark].update(NGramsDecontIndexer.compute_hashes(indexer, item.answer, item.question))
    for task, task_hashes in hashes.items():
        np.array(sorted(task_hashes), dtype=config.hash_config.np_descr).tofile(
            folder / f"{task}.index.hashes"
        )
    with _whitespace_tokenizer():
        filt = NGramsDecontFilter(index_folder=str(folder), config=config)
    filt.load_index_hashes()
    return filt


def datatrove_flags(filt, texts: list[str]) -> list[bool]:
    from datatrove.data import Document

    return [filt.filter(Document(text=t, id=str(i))) is not True for i, t in enumerate(texts)]


def _best(fn, repeats: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run() -> list[str]:
    items = eval_items()
    docs, planted = plant(training_docs(), items)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        filt = datatrove_filter(items, Path(tmp))
        base_build = time.perf_counter() - start
        start = time.perf_counter()
        index = NGramIndex.build(items, n=13)
        ours_build = time.perf_counter() - start
        base_s, base = _best(lambda: datatrove_flags(filt, docs))
        ours_s, ours = _best(lambda: index.flags(docs))
    same = sum(a == b for a, b in zip(base, ours, strict=True))
    n, caught = len(docs), sum(ours[d] for d in planted)
    return [
        f"| decontam vs datatrove (13-grams: query + boundary + answer; {len(items):,} eval items of GSM8K, ARC-Challenge, "
        f"MMLU-Pro test; {n:,} training docs, {len(planted)} planted; 1 core, filtering only) "
        f"| {n / base_s:,.0f} docs/s (NGramsDecontFilter; index {base_build:.1f} s) "
        f"| {n / ours_s:,.0f} docs/s (NGramIndex.flags; index {ours_build:.1f} s) "
        f"| {base_s / ours_s:.1f}x (identical flags {same}/{n}; {sum(ours):,} flagged, planted {caught}/{len(planted)}) |",
        confirmation_cost(),
    ]


def _mc(question: str, choices: dict | list, answer: str) -> dict:
    options = choices["text"] if isinstance(choices, dict) else list(choices)
    return {"question": question, "choices": options, "answer_text": answer}


def confirmation_cost(mirror: Path = MIRROR) -> str:
    """The embedding layer with and without answer-aware confirmation, per 1,000 records, on an evaluation set
    of MMLU-Pro, GPQA and GSM8K items: the hand-written disguises and negatives plus clean training rows."""
    from taskseed.core.artifacts import Artifact, ShardWriter, write_json_atomic
    from taskseed.filter.base import CheckContext, CheckInputs
    from taskseed.filter.config import DecontamConfig, EmbeddingConfig
    from taskseed.filter.decontam import DecontamCheck
    from taskseed.filter.embed import Embedder

    items = [_mc(r["question"], r["options"], r["options"][r["answer_index"]]) | {"benchmark": "mmlu_pro"}
             for r in itertools.islice(_rows("TIGER-Lab/MMLU-Pro/default/test.jsonl", mirror), 3000)]  # fmt: skip
    for r in _rows("Idavidrein/gpqa/gpqa_main/train.jsonl", mirror):
        options = [r["Correct Answer"]] + [r[f"Incorrect Answer {k}"] for k in (1, 2, 3)]
        items.append(
            _mc(r["Question"], [o.strip() for o in options], options[0].strip()) | {"benchmark": "gpqa"}
        )
    items += [{"question": r["question"], "choices": None, "answer_text": r["answer"], "benchmark": "gsm8k"}
              for r in _rows("openai/gsm8k/main/test.jsonl", mirror)]  # fmt: skip
    for n, item in enumerate(items):
        item["item_id"] = f"{item['benchmark']}:{n}"
    fixture = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "decontam_paraphrases.jsonl"
    records = []
    for row in map(json.loads, fixture.read_text().splitlines()):
        for kind in ("paraphrase", "negative"):
            part = row[kind]
            records.append({"id": f"{row['id']}-{kind}", "task": "bench", "question": part["question"],
                            "choices": part["choices"] or None, "answer_text": part["answer"]})  # fmt: skip
    for r in itertools.islice(_rows("tau/commonsense_qa/default/train.jsonl", mirror), 800):
        records.append(
            {
                "id": r["id"],
                "task": "bench",
                **_mc(r["question"], r["choices"], _choice(r["choices"], r["answerKey"])),
            }
        )
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "evalset" / "bench"
        writer = ShardWriter(folder / "data", fmt="jsonl")
        writer.write_many(items)
        writer.close()
        write_json_atomic(folder / "manifest.json", {"stage": "evalset", "fingerprint": "bench", "primary": "data",
                                                     "counts": {"data": len(items)}})  # fmt: skip
        evalset = Artifact.load(folder)
        seconds, flagged = {}, {}
        for confirm in (False, True):
            config = DecontamConfig(embedding=EmbeddingConfig(confirm=confirm), ngram_answer_check=confirm)
            check = DecontamCheck(config, CheckInputs(evalset))
            # untimed: loads the models and the indexes, and embeds the shortlisted items (kept for reuse)
            check.run(records, CheckContext({}, Path(tmp), progress=False))
            start = time.perf_counter()
            verdicts = check.run(records, CheckContext({}, Path(tmp), progress=False))
            seconds[confirm] = time.perf_counter() - start
            flagged[confirm] = sum(not v.passed for v in verdicts[:200:2])
    per_k = {k: 1000 * v / len(records) for k, v in seconds.items()}
    return (
        f"| decontam answer-aware confirmation ({len(records):,} records vs {len(items):,} MMLU-Pro, GPQA, GSM8K items; "
        f"n-gram + embedding layers, {embedder.dtype}) | {per_k[False]:.1f} s per 1,000 records (cosine only; "
        f"{flagged[False]}/100 disguises caught) | {per_k[True]:.1f} s per 1,000 records (top-5 + confirmation; "
        f"{flagged[True]}/100 caught) | +{per_k[True] - per_k[False]:.1f} s per 1,000 records |"
    )


if __name__ == "__main__":
    print("| comparison | baseline | taskseed | ratio |\n|---|---|---|---|")
    for row in run():
        print(row)
