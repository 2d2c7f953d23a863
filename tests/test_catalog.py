"""`taskseed catalog`: the registry as seen by taskseed, against lm-eval's own index."""

from __future__ import annotations

from collections import Counter

import pytest

REQUIRED_KEYS = {
    "task",
    "group",
    "dataset_path",
    "dataset_name",
    "training_split",
    "output_type",
    "family",
    "license",
    "availability",
    "eligible",
    "reason",
}


@pytest.fixture(scope="module")
def by_task(catalog_json):
    return {r["task"]: r for r in catalog_json}


def test_every_registry_task_is_listed_with_the_interface_keys(catalog_json):
    from lm_eval.tasks import TaskManager

    index = TaskManager().task_index
    registered = {n for n, e in index.items() if e.kind.name in ("TASK", "PY_TASK")}
    assert {r["task"] for r in catalog_json} == registered
    for record in catalog_json:
        assert REQUIRED_KEYS <= record.keys()
        assert record["availability"] in ("mirror", "hub", "missing")
        assert record["family"] in ("knowledge", "reasoning")
        assert isinstance(record["eligible"], bool) and record["reason"]


def test_tasks_declaring_a_training_split_match_lm_eval(catalog_json):
    from lm_eval.tasks import TaskManager

    index = TaskManager().task_index
    declared = {n for n, e in index.items() if e.kind.name == "TASK" and (e.cfg or {}).get("training_split")}
    listed = {r["task"] for r in catalog_json if r["training_split"]}
    assert len(listed) >= 300  # hundreds
    # the mbpp variant (conf/catalog) adds its published train split; nothing else differs
    assert listed - declared == {"mbpp"} and declared <= listed


def test_at_least_twelve_seed_datasets_are_available_from_the_mirror(catalog_json):
    mirrored = {
        (r["dataset_path"], r["dataset_name"], r["training_split"])
        for r in catalog_json
        if r["training_split"] and r["availability"] == "mirror" and "firewall" not in r["reason"]
    }
    assert len(mirrored) >= 12, sorted(mirrored)
    eligible = {
        (r["dataset_path"], r["dataset_name"])
        for r in catalog_json
        if r["eligible"] and r["availability"] == "mirror"
    }
    assert len(eligible) >= 12, sorted(eligible)


def test_evaluation_sets_are_never_eligible(by_task):
    for name in (
        "gpqa_main_zeroshot",
        "gpqa_diamond_zeroshot",
        "leaderboard_gpqa_main",
        "gsm_plus",
        "ifeval",
        "humaneval",
        "mmlu_pro_biology",
    ):
        record = by_task[name]
        assert not record["eligible"], name
    assert "self-evaluated" in by_task["gpqa_main_zeroshot"]["reason"]
    assert "self-evaluated" in by_task["gsm_plus"]["reason"]  # declares training_split: test
    assert by_task["humaneval"]["reason"] == "no training split declared"


def test_curated_tables_fill_family_and_license(by_task):
    assert by_task["gsm8k"]["family"] == "reasoning"
    assert by_task["arc_easy"]["family"] == "knowledge"
    assert by_task["winogrande"]["family"] == "reasoning"
    assert by_task["arc_easy"]["license"] == "CC-BY-SA-4.0"
    assert by_task["gsm8k"]["license"] == "MIT"
    assert by_task["social_iqa"]["license"] == "unknown"  # no license in the release: stays unknown
    assert by_task["social_iqa"]["reason"].startswith("license[unknown]")


def test_group_and_variants(by_task):
    assert by_task["mmlu_abstract_algebra"]["group"] == "mmlu"
    assert by_task["copa"]["group"] == "super_glue"
    winogrande = by_task["winogrande"]
    assert winogrande["dataset_name"] == "winogrande_l" and winogrande["variant"] == {
        "dataset_name": "winogrande_l"
    }
    assert winogrande["availability"] == "mirror" and winogrande["eligible"]


def test_unavailable_tasks_say_why(catalog_json):
    reasons = Counter(
        r["reason"].split(":")[0]
        for r in catalog_json
        if r["training_split"] and r["availability"] == "missing"
    )
    assert reasons  # the mirror holds a fraction of the registry; the rest needs the Hub
    assert all(r["reason"] != "ok" for r in catalog_json if r["availability"] == "missing")
