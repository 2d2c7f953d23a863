"""The lexical shortlist and the evaluation-item vectors kept for reuse (taskseed.filter.neighbors)."""

from __future__ import annotations

import numpy as np

from taskseed.filter.embed import Embedder
from taskseed.filter.neighbors import ItemVectors, LexicalIndex

ITEMS = [
    {"question": "What is the capital of Australia?", "choices": ["Sydney", "Canberra", "Melbourne"],
     "answer_text": "Canberra"},
    {"question": "Which gas do plants absorb during photosynthesis?", "choices": None, "answer_text": "carbon dioxide"},
    {"question": "A train travels 120 km in 2 hours. What is its average speed?", "choices": None,
     "answer_text": "60 km/h"},
    {"question": "Who wrote the novel Pride and Prejudice?", "choices": None, "answer_text": "Jane Austen"},
]  # fmt: skip


def test_the_shortlist_finds_a_reworded_item_and_skips_items_sharing_no_word():
    index = LexicalIndex(ITEMS)
    reworded = {"question": "Covering 120 km took a train 2 hours; at what speed did it go on average?",
                "choices": None, "answer_text": "60 km/h"}  # fmt: skip
    unrelated = {"question": "Zebras xylophone quokka?", "choices": None, "answer_text": "vuvuzela"}
    first, second = index.shortlist([reworded, unrelated], size=1)
    assert first.tolist() == [2]
    assert second.tolist() == []  # no shared word, no candidate
    assert len(index.shortlist([reworded], size=10)[0]) < len(ITEMS)  # only items sharing a word


def test_item_vectors_embed_each_item_once_and_reload_from_their_parts(tmp_path):
    embedder = Embedder(dtype="float32")
    questions = [i["question"] for i in ITEMS]
    vectors = ItemVectors(questions, embedder, tmp_path / "vectors")
    first = vectors.get(np.array([2, 0]))
    assert vectors.computed == 2 and len(list((tmp_path / "vectors").glob("part-*.npz"))) == 1
    again = vectors.get(np.array([0, 1, 2]))
    assert vectors.computed == 3  # only item 1 was new
    np.testing.assert_array_equal(again[[2, 0]], first)
    reloaded = ItemVectors(questions, embedder, tmp_path / "vectors")
    np.testing.assert_array_equal(reloaded.get(np.array([0, 1, 2])), again)  # reused, not recomputed
    assert reloaded.computed == 0
    direct = embedder.encode(questions[:3])
    assert np.allclose((again * direct).sum(axis=1), 1.0, atol=2e-3)  # float16-rounded unit vectors
