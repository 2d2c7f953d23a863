"""Normalization into the seed schema, on real lm-eval tasks built from the mirror and on edge cases."""

from __future__ import annotations

import pytest

from taskseed.sources.data import DataSource
from taskseed.sources.lmeval import build_task
from taskseed.sources.normalize import (
    NormalizeError,
    _choice,
    _multiple_input,
    extract_labelled_options,
    normalize_doc,
)


def test_labelled_options_are_extracted_in_order():
    q = "Question: Pick one\nA. first thing\nB) second thing\n(C) third thing\nD: fourth\nAnswer:"
    assert extract_labelled_options(q, ["A", "B", "C", "D"]) == [
        "first thing",
        "second thing",
        "third thing",
        "fourth",
    ]
    assert extract_labelled_options("Is it true?", ["A", "B"]) is None


def test_choice_targets_as_index_label_text_or_list():
    assert _choice("q\nA. cat\nB. dog", ["A", "B"], "B").answer_text == "dog"
    assert _choice("q", [" yes", " no"], 1).answer_text == "no"
    multi = _choice("q", ["x", "y", "z"], [2, 0])
    assert (multi.answer_text, multi.alt_answers) == ("z", ["x"])
    with pytest.raises(NormalizeError, match="target-not-among-choices"):
        _choice("q", ["x", "y"], "w")
    with pytest.raises(NormalizeError, match="out-of-range"):
        _choice("q", ["x", "y"], 5)


def test_multiple_input_contexts_become_a_blank():
    n = _multiple_input(
        1,
        [
            "The trophy didn't fit in the suitcase because the trophy",
            "The trophy didn't fit in the suitcase because the suitcase",
        ],
        "was too small.",
        " ",
    )
    assert n.question == "The trophy didn't fit in the suitcase because the _ was too small."
    assert n.choices == ["trophy", "suitcase"] and n.answer_text == "suitcase"
    with pytest.raises(NormalizeError, match="indistinct"):
        _multiple_input(0, ["same", "same"], "x", " ")


@pytest.fixture(scope="module")
def source(mirror):
    return DataSource(mirror=mirror, hub=False)


@pytest.mark.parametrize(
    ("task", "check"),
    [
        ("webqs", lambda n: n.alt_answers == ["Jazmyn Bieber"] and n.answer_text == "Jaxon Bieber"),
        (
            "copa",
            lambda n: n.choices == ["the sun was rising.", "the grass was cut."] and n.answer_index == 0,
        ),
        (
            "winogrande",
            lambda n: "_" in n.question and n.choices == ["Ian", "Dennis"] and n.answer_text == "Dennis",
        ),
        (
            "commonsense_qa",
            lambda n: n.choice_labels == ["A", "B", "C", "D", "E"] and n.answer_text == "ignore",
        ),
        ("mbpp", lambda n: n.answer_text.startswith("class Pair(object):") and n.choices is None),
    ],
)
def test_real_tasks_first_row(catalog_json, source, task, check):
    record = next(r for r in catalog_json if r["task"] == task)
    built, _ = build_task(record, source)
    assert check(normalize_doc(built, built.training_docs()[0]))
