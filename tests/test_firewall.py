"""The split firewall: refused seed requests (one-line errors naming the rule) and dropped rows."""

from __future__ import annotations

import json

import pytest

from taskseed.core.artifacts import Artifact
from taskseed.core.errors import FirewallError
from taskseed.sources.firewall import EvalIndex, QuestionIndex, check_task, template_affixes

from .conftest import artifact_of, error_line, mirror_copy, taskseed


@pytest.mark.parametrize(
    ("request_", "extra", "rule"),
    [
        ("gpqa_main_zeroshot", [], "self-evaluated"),  # GPQA's only split, `train`, is its evaluation set
        ("gsm_plus", [], "self-evaluated"),  # declares training_split: test
        ("arc_easy:validation", [], "undeclared-split"),
        ("humaneval", [], "no-training-split"),
    ],
)
def test_refused_seed_requests_name_the_rule(outputs, mirror, request_, extra, rule):
    proc = taskseed("seeds", f"seeds.tasks=[{request_}]", *extra, outputs=outputs)
    line = error_line(proc)
    assert f"split firewall [{rule}]" in line
    assert not [p for p in (outputs / "artifacts" / "seeds").glob("*") if not p.name.startswith(".")]


def test_gpqa_stays_refused_even_when_its_config_is_bent(outputs, mirror):
    # Drop GPQA's self-evaluation: the eval-only dataset rule still refuses it ...
    bent = "+catalog.variants.gpqa_main_zeroshot={validation_split:null}"
    line = error_line(taskseed("seeds", "seeds.tasks=[gpqa_main_zeroshot]", bent, outputs=outputs))
    assert "split firewall [eval-only-dataset]" in line
    # ... and without that list, the GPQA evaluation suite protects the split.
    line = error_line(
        taskseed(
            "seeds", "seeds.tasks=[gpqa_main_zeroshot]", bent, "eval.eval_only_datasets=[]", outputs=outputs
        )
    )
    assert "split firewall [eval-suite]" in line and "gpqa_main_zeroshot (science)" in line


@pytest.mark.slow
def test_planted_evaluation_rows_are_dropped_and_reported(tmp_path, mirror):
    arc_test = (mirror / "allenai/ai2_arc/ARC-Easy/test.jsonl").read_text().splitlines()
    gsm_test = (mirror / "openai/gsm8k/main/test.jsonl").read_text().splitlines()
    planted_arc = [json.loads(arc_test[7]), json.loads(arc_test[99])]
    planted_arc[1]["id"] = "renamed-id"  # a copied row keeps its content even when its id changes
    planted_gsm = json.loads(gsm_test[5])
    arc_train = (mirror / "allenai/ai2_arc/ARC-Easy/train.jsonl").read_text() + "".join(
        json.dumps(r) + "\n" for r in planted_arc
    )
    gsm_train = (mirror / "openai/gsm8k/main/train.jsonl").read_text() + json.dumps(planted_gsm) + "\n"
    planted = mirror_copy(
        mirror,
        tmp_path / "mirror",
        {"allenai/ai2_arc/ARC-Easy/train.jsonl": arc_train, "openai/gsm8k/main/train.jsonl": gsm_train},
    )

    outputs = tmp_path / "outputs"
    artifact = Artifact.load(
        artifact_of(
            taskseed("seeds", "seeds.tasks=[arc_easy,gsm8k]", f"data.mirror={planted}", outputs=outputs)
        )
    )
    questions = {r["question"] for r in artifact.read_records()}
    for row in planted_arc:
        assert f"Question: {row['question']}\nAnswer:" not in questions
    assert f"Question: {planted_gsm['question']}\nAnswer:" not in questions
    stats = artifact.manifest["stats"]["tasks"]
    reported = {e["question"] for task in ("arc_easy", "gsm8k") for e in stats[task]["firewall_examples"]}
    assert f"Question: {planted_gsm['question']}\nAnswer:"[:200] in reported
    assert any(
        origin.startswith("gsm8k:test") or "gsm8k/main/test" in origin
        for origin in stats["gsm8k"]["firewall_matches"]
    )
    assert stats["gsm8k"]["dropped_firewall"] >= 1 and stats["arc_easy"]["dropped_firewall"] >= 2
    card = (artifact.path / "DATACARD.md").read_text()
    assert "| gsm8k |" in card.split("## Split firewall")[1]


def test_check_task_rules():
    cfg = {
        "dataset_path": "d",
        "dataset_name": None,
        "training_split": "train",
        "validation_split": "validation",
        "test_split": "test",
    }
    check_task("t", cfg, {})
    with pytest.raises(FirewallError, match="undeclared-split"):
        check_task("t", cfg, {}, requested_split="validation")
    with pytest.raises(FirewallError, match="self-evaluated"):
        check_task("t", {**cfg, "training_split": "test"}, {})
    with pytest.raises(FirewallError, match="eval-suite"):
        check_task("t", cfg, {"d/default:train": ["x (suite)"]})
    with pytest.raises(FirewallError, match="eval-only-dataset"):
        check_task("t", cfg, {}, eval_only_datasets=["d"])
    with pytest.raises(FirewallError, match="no-training-split"):
        check_task("t", {**cfg, "training_split": None}, {})


def test_eval_index_matches_copied_rows_not_rows_sharing_a_field():
    index = EvalIndex(min_words=5)
    index.add_rows(
        [
            {
                "scenario": "Martha hired a new babysitter and was totally at ease with her.",
                "trait": "cynical",
                "label": 0,
            }
        ],
        "virtue/test",
    )
    copied = {
        "label": 1,
        "trait": "cynical",
        "scenario": "martha hired a new babysitter and was totally at ease with her",
        "group_id": 7,
    }
    assert index.match(copied) == "virtue/test"  # same text content (case, punctuation, order and ids aside)
    assert (
        index.match(
            {
                "scenario": "Martha hired a new babysitter and was totally at ease with her.",
                "trait": "trustful",
            }
        )
        is None
    )
    index.add_rows([{"question": "Too short", "answer": "x"}], "tiny")
    assert (
        index.match({"question": "Too short", "answer": "x"}) is None
    )  # under min_words: too generic to count
    # nested choices count as content, so a question reused with other options is not a copy
    index.add_rows(
        [
            {
                "question": "Which of these is a function of all cells?",
                "choices": {"text": ["a", "b"], "label": ["A", "B"]},
            }
        ],
        "arc/test",
    )
    assert (
        index.match(
            {
                "question": "Which of these is a function of all cells?",
                "choices": {"text": ["c", "d"], "label": ["A", "B"]},
            }
        )
        is None
    )
    assert (
        index.match(
            {
                "id": "x",
                "question": "Which of these is a function of all cells?",
                "choices": {"text": ["a", "b"], "label": ["A", "B"]},
            }
        )
        == "arc/test"
    )


def test_question_index_strips_the_template():
    questions = [
        "Question: Which gas do plants absorb from the air?\nAnswer:",
        "Question: What is the boiling point of water at sea level?\nAnswer:",
    ]
    assert template_affixes(questions) == ("Question: ", "?\nAnswer:")
    index = QuestionIndex(questions, min_words=5)
    for q in questions:
        index.add(q, "task:test")
    assert index.match("Question: Which gas do plants absorb from the air?\nAnswer:") == "task:test"
    assert index.match("Question: Which gas do plants release at night?\nAnswer:") is None
