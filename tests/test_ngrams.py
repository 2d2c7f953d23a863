"""N-gram decontamination on real eval items from the mirror, checked against datatrove's own filter."""

from __future__ import annotations

import json

import pytest

from benchmarks.decontam import datatrove_filter, datatrove_flags, eval_items, plant, training_docs
from taskseed.filter.ngrams import EvalItem, NGramIndex, words


@pytest.fixture(scope="module")
def items(mirror) -> list[EvalItem]:
    return eval_items(mirror, mmlu_pro=1500)


@pytest.fixture(scope="module")
def index(items) -> NGramIndex:
    return NGramIndex.build(items, n=13)


def item(items, benchmark: str, min_words: int = 20, max_answer_words: int = 1000) -> EvalItem:
    return next(
        i
        for i in items
        if i.benchmark == benchmark
        and len(words(i.question)) >= min_words
        and len(words(i.answer)) <= max_answer_words
    )


def kinds_for(index: NGramIndex, text: str, it: EvalItem) -> set[str]:
    return {m.kind for m in index.matches(text) if (m.benchmark, m.item_id) == (it.benchmark, it.item_id)}


def test_normalization_is_datatrove_simplify_text(items, mirror):
    from datatrove.utils.text import PUNCTUATION, simplify_text  # bench extra: the reference implementation

    from taskseed.filter.ngrams import _PUNCTUATION

    assert _PUNCTUATION == PUNCTUATION
    texts = [i.question + " " + i.answer for i in items[::7]]
    texts += [r["Question"] for r in map(json.loads, open(mirror / "haonan-li/cmmlu/agronomy/test.jsonl"))]
    for lang in ("fr", "bn", "th"):  # diacritics, combining marks and non-ASCII digits
        texts += [r["question"] for r in map(json.loads, open(mirror / f"juletxara/mgsm/{lang}/test.jsonl"))]
    texts += ["Café naïve ﬁancé — “1,000.5” ١٢٣ items; Ω ΐ e\u0301 \u0301 x\u00a0y\u2003z\tend;\u037e 3rd"]
    for text in texts:
        assert words(text) == simplify_text(text).split(), text


@pytest.mark.parametrize("benchmark", ["gsm8k", "mmlu_pro", "arc_challenge"])
def test_verbatim_question_inside_other_text_is_flagged_as_query(index, items, benchmark):
    it = item(items, benchmark)
    doc = f"Here is a practice problem for you.\n\n{it.question}\n\nTry to solve it before reading on."
    found = [m for m in index.matches(doc) if m.kind == "query"]
    assert (benchmark, it.item_id) in {(m.benchmark, m.item_id) for m in found}
    ngram = next(m.ngram for m in found if m.item_id == it.item_id)
    assert len(ngram.split()) == 13 and ngram in " ".join(words(it.question))
    assert index.flags([doc]) == [True]


def test_question_answer_boundary_is_flagged_as_boundary(index, items):
    it = item(items, "gsm8k")
    q, a = words(it.question), words(it.answer)
    doc = "Worked solution. " + " ".join(q[-6:] + a[:7]) + " and so on."  # 6 + 7 words: one 13-gram
    assert kinds_for(index, doc, it) == {"boundary"}
    assert index.flags([doc]) == [True]


def test_answer_ngrams_are_indexed_like_datatrove(index, items):
    it = item(items, "gsm8k")
    assert kinds_for(index, f"Solution: {it.answer}", it) == {"answer"}
    assert kinds_for(index, f"{it.question} {it.answer}", it) == {"query", "boundary", "answer"}


def test_case_punctuation_whitespace_and_number_changes_still_match(index, items):
    it = item(items, "mmlu_pro")
    noisy = "\n  ".join(it.question.upper().replace(", ", " ;; ").replace(". ", "! ").split(" "))
    assert "query" in kinds_for(index, f"EXERCISE>>> {noisy} <<<", it)
    gsm = item(items, "gsm8k", min_words=25)
    renumbered = "".join("7" if c.isdigit() else c for c in gsm.question)  # numbers normalize to "0"
    assert "query" in kinds_for(index, renumbered, gsm)


def test_training_split_questions_are_not_flagged(index, mirror):
    rows = [json.loads(line) for line in open(mirror / "lighteval/siqa/default/train.jsonl")][:300]
    docs = [f"{r['context']} {r['question']} {r['answerA']} {r['answerB']} {r['answerC']}" for r in rows]
    assert index.flags(docs) == [False] * len(docs)
    assert all(index.matches(d) == [] for d in docs[:20])


def test_short_texts_never_match(index, items):
    it = item(items, "gsm8k")
    assert index.flags([" ".join(words(it.question)[:12]), ""]) == [False, False]
    short = NGramIndex.build([EvalItem("x", "1", "Is the sky blue?", "yes")])
    assert [u.item_id for u in short.unindexed] == ["1"] and short.flags(["Is the sky blue? yes"]) == [False]


@pytest.mark.parametrize(("n", "query"), [(13, True), (8, False)])
def test_same_flags_as_datatrove(items, mirror, tmp_path, n, query):
    from datatrove.data import Document

    docs = training_docs(mirror)[::100]  # every source, ~330 docs
    docs, planted = plant(docs, items, count=90)
    # whitespace-heavy and non-ASCII variants exercise the slow normalization paths on both sides
    docs += [d.replace(" ", " \u00a0").replace("e", "é") for d in docs[:60]]
    filt = datatrove_filter(items, tmp_path, n=n, find_query_ngrams=query)
    index = NGramIndex.build(items, n=n, find_query_ngrams=query)
    ours = index.flags(docs)
    assert ours == datatrove_flags(filt, docs)
    assert 40 <= sum(ours) < len(docs) and sum(ours[d] for d in planted) >= 40
    for text in [d for d, flagged in zip(docs, ours, strict=True) if flagged][:40]:
        doc = Document(text=text, id="0")
        filt.filter(doc)  # datatrove records the first contaminated n-gram of the doc and one task with it
        first = index.matches(text)[0]
        assert first.ngram == doc.metadata["contaminated_ngram"]
        assert doc.metadata["contaminated_task"] in {
            m.benchmark for m in index.matches(text) if m.ngram == first.ngram
        }


def test_numeric_ngrams_can_be_left_out_of_the_index():
    from taskseed.filter.ngrams import EvalItem, NGramIndex

    item = EvalItem(
        "math", "m:1", "Table: 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 what is the sum of the table", "135"
    )
    table = "scores 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 in a row"
    assert NGramIndex.build([item], n=13).flags([table]) == [True]  # datatrove's rule: "0 0 ... 0" matches
    assert NGramIndex.build([item], n=13, skip_numeric_ngrams=True).flags([table]) == [False]
    words = "what is the sum of the table"
    assert NGramIndex.build([item], n=7, skip_numeric_ngrams=True).flags([f"so {words} then"]) == [True]


def test_ngrams_of_single_letters_numbers_and_symbols_are_not_evidence():
    from taskseed.filter.ngrams import EvalItem, NGramIndex

    item = EvalItem(
        "mmlu_pro", "p:1", "Pick the row: A 1 B 2 C 3 D 4 E 5 F 6 G 7 H 8 × 9 which ratio is best", "B"
    )
    options = "listed as a 11 b 12 c 13 d 14 e 15 f 16 g 17 h 18 × 19 in this table"
    assert NGramIndex.build([item], n=13).flags([options]) == [True]  # datatrove's rule: "a 0 b 0 c 0 ..."
    assert NGramIndex.build([item], n=13, skip_numeric_ngrams=True).flags([options]) == [False]
    assert NGramIndex.build([item], n=5, skip_numeric_ngrams=True).flags(["it is 9 which ratio is best"]) == [
        True
    ]
