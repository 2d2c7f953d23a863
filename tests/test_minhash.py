"""taskseed.filter.minhash on real text from the data mirror: exact keys, shingles, MinHash, LSH, clusters."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from taskseed.filter.minhash import (
    LSHIndex,
    MinHasher,
    duplicate_clusters,
    exact_key,
    near_duplicate_pairs,
    near_duplicates_against,
    normalize,
    optimal_params,
    shingle_batch,
    shingles,
)


def shingle_set(text: str, n: int) -> set[str]:
    """Reference shingling on strings, independent of the hashed implementation."""
    words = normalize(text).split()
    return {" ".join(words[i : i + n]) for i in range(max(len(words) - n + 1, 1))}


def true_jaccard(a: str, b: str, n: int) -> float:
    sa, sb = shingle_set(a, n), shingle_set(b, n)
    return len(sa & sb) / len(sa | sb)


def edit(text: str, rng: random.Random, edits: int, vocab: list[str]) -> str:
    words = text.split()
    for _ in range(edits):
        i = rng.randrange(len(words))
        if rng.random() < 0.5:
            words[i] = rng.choice(vocab)
        else:
            words.insert(i, rng.choice(vocab))
    return " ".join(words)


@pytest.fixture(scope="module")
def passages(mirror: Path) -> list[str]:
    """60-word paragraphs of real prose (BoolQ passages)."""
    out = []
    for line in open(mirror / "aps/super_glue/boolq/validation.jsonl"):
        words = json.loads(line)["passage"].split()
        if len(words) >= 60:
            out.append(" ".join(words[:60]))
    return out


@pytest.fixture(scope="module")
def qa_docs(mirror: Path) -> list[str]:
    """~100-word Q&A records (GSM8K question + worked answer)."""
    rows = [json.loads(line) for line in open(mirror / "openai/gsm8k/main/train.jsonl")]
    return [r["question"] + "\n" + r["answer"] for r in rows[:400]]


def test_exact_key_ignores_case_punctuation_and_whitespace():
    assert normalize("  Hello,\tWORLD!!  It's\n me. ") == "hello world it s me"
    assert normalize("Ｈｅｌｌｏ， Ｗｏｒｌｄ") == "hello world"  # NFKC folds full-width forms
    assert exact_key("Hello, world!") == exact_key("hello   WORLD") == exact_key("Ｈｅｌｌｏ，ｗｏｒｌｄ")
    assert exact_key("Hello, world!") != exact_key("Hello, word!")
    assert len(exact_key("x")) == 32


def test_shingles_per_text_and_batched_agree(passages):
    text = passages[0]
    assert len(shingles(text, 3)) == len(normalize(text).split()) - 2 and len(
        set(shingles(text, 3).tolist())
    ) == len(shingle_set(text, 3))
    assert len(shingles("two words", 5)) == 1 and len(shingles("", 5)) == 1  # short text: one shingle
    # the byte-level path for ASCII and the normalize() path for other text give the same hashes
    assert np.array_equal(shingles("Ｔｈｅ QUICK, brown fox!", 2), shingles("the quick brown fox", 2))
    batch = ["", "one", passages[1], "Déjà vu — again", passages[2]]
    hashes, starts = shingle_batch(batch, 4)
    ends = [*starts[1:], len(hashes)]
    for text, lo, hi in zip(batch, starts, ends, strict=True):
        assert np.array_equal(hashes[lo:hi], shingles(text, 4))


def test_lightly_edited_paragraph_is_a_near_duplicate(passages):
    words = passages[0].split()
    words[30] = "zebra" if words[30] != "zebra" else "yak"
    edited = " ".join(words)
    texts = [passages[0], passages[1], edited, passages[2], passages[3]]
    pairs = near_duplicate_pairs(texts, threshold=0.7, ngram=3)
    assert [(i, j) for i, j, _ in pairs] == [(0, 2)]
    assert pairs[0][2] == pytest.approx(true_jaccard(passages[0], edited, 3))


def test_estimated_jaccard_tracks_true_jaccard(passages):
    rng = random.Random(0)
    vocab = passages[10].split()
    hasher = MinHasher(num_perm=128, ngram=3)
    for k, base in enumerate(passages[:8]):
        other = edit(base, rng, edits=k + 1, vocab=vocab)
        sigs = hasher.signatures([base, other])
        estimate = float((sigs[0] == sigs[1]).mean())
        assert abs(estimate - true_jaccard(base, other, 3)) < 0.1
    unrelated = hasher.signatures(passages[20:22])
    assert (unrelated[0] == unrelated[1]).mean() < 0.1


def test_lsh_params_and_estimate_verified_candidates(passages):
    from datasketch.lsh import _optimal_param

    # with datasketch's weights the banding is datasketch's; the default favours recall
    assert optimal_params(0.8, 128, (0.5, 0.5)) == _optimal_param(0.8, 128, 0.5, 0.5)
    assert optimal_params(0.5, 128, (0.5, 0.5)) == _optimal_param(0.5, 128, 0.5, 0.5)
    index = LSHIndex(threshold=0.7, num_perm=128)
    assert index.bands * index.rows <= 128 and 1 - (1 - 0.7**index.rows) ** index.bands > 0.98
    texts = passages[:30] + [edit(passages[5], random.Random(1), 1, ["zebra"])]
    sigs = MinHasher(ngram=3).signatures(texts)
    assert index.candidate_pairs(sigs) == {(5, 30)}
    assert index.query(sigs[:30], sigs[30:]) == {(0, 5)}


def test_query_against_reference_flags_examples_too_close_to_seeds(passages):
    seeds = passages[:40]
    rng = random.Random(2)
    fresh = passages[40:50]
    copied = [edit(seeds[7], rng, 1, ["zebra"]), edit(seeds[23], rng, 2, ["yak"])]
    texts = [fresh[0], copied[0], *fresh[1:], copied[1]]
    matches = near_duplicates_against(texts, seeds, threshold=0.7, ngram=3)
    assert [(i, j) for i, j, _ in matches] == [(1, 7), (11, 23)]
    assert all(s == pytest.approx(true_jaccard(texts[i], seeds[j], 3)) for i, j, s in matches)


def test_clusters_keep_the_first_occurrence(passages):
    assert duplicate_clusters(6, [(3, 5, 0.9), (1, 3, 0.8), (0, 2, 1.0)]) == [0, 1, 0, 1, 4, 1]
    texts = [passages[0], passages[1], passages[0].upper(), passages[2], passages[1] + "!", passages[0]]
    clusters = duplicate_clusters(len(texts), near_duplicate_pairs(texts, threshold=0.9, ngram=3))
    assert clusters == [0, 1, 0, 3, 1, 0]
    assert [i for i, c in enumerate(clusters) if c == i] == [0, 1, 3]


def test_recall_of_datasketch_pairs(qa_docs):
    datasketch = pytest.importorskip("datasketch")
    rng = random.Random(3)
    vocab = sorted({w for d in qa_docs for w in d.split()})
    texts = qa_docs + [edit(rng.choice(qa_docs), rng, rng.randint(1, 3), vocab) for _ in range(150)]
    threshold, ngram = 0.8, 5

    minhashes = datasketch.MinHash.bulk(
        [[s.encode() for s in shingle_set(t, ngram)] for t in texts], num_perm=128
    )
    lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=128)
    for i, m in enumerate(minhashes):
        lsh.insert(i, m)
    theirs = {(i, j) for i, m in enumerate(minhashes) for j in lsh.query(m) if j > i}
    # datasketch returns unverified band collisions; its duplicates are those really above threshold
    theirs_true = {p for p in theirs if true_jaccard(texts[p[0]], texts[p[1]], ngram) >= threshold}
    ours = near_duplicate_pairs(texts, threshold=threshold, ngram=ngram)
    assert all(
        s >= threshold and s == pytest.approx(true_jaccard(texts[i], texts[j], ngram)) for i, j, s in ours
    )
    assert len(theirs_true) >= 50
    assert len(theirs_true & {(i, j) for i, j, _ in ours}) / len(theirs_true) >= 0.99


def test_no_candidates_gives_no_pairs():
    texts = ["the cat sat on the mat today", "quantum fields obey gauge symmetry rules"]
    assert near_duplicate_pairs(texts, threshold=0.8, ngram=3) == []
    assert near_duplicate_pairs([], threshold=0.8) == []
