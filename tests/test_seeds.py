"""`taskseed seeds`: records per DESIGN §3, compared with lm-eval's own rendering of the same rows."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from copy import deepcopy

import pytest

from taskseed.core.artifacts import Artifact
from taskseed.sources.normalize import extract_labelled_options, is_bare_label

from .conftest import MIRROR, artifact_of, taskseed

SEED_KEYS = {"seed_id", "task", "group", "family", "output_type", "dataset_path", "dataset_name", "split", "row_index",
             "license", "question", "choices", "answer_text", "answer_index"}  # fmt: skip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def by_task(seed_rows):
    out = defaultdict(list)
    for row in seed_rows:
        out[row["task"]].append(row)
    return out


def test_seeds_cover_every_available_eligible_task(full_seeds, catalog_json, by_task):
    eligible = [r for r in catalog_json if r["eligible"] and r["availability"] == "mirror"]
    manifest = Artifact.load(full_seeds["path"]).manifest
    datasets = {(r["dataset_path"], r["dataset_name"], r["training_split"]) for r in eligible}
    seeded = {
        (rows[0]["dataset_path"], rows[0]["dataset_name"], rows[0]["split"]) for rows in by_task.values()
    }
    assert seeded == datasets  # one task per dataset split, every one of them
    for record in eligible:
        assert record["task"] in by_task or "duplicate" in manifest["stats"]["excluded"][record["task"]]
    assert (full_seeds["path"] / "DATACARD.md").is_file()
    assert full_seeds["proc"].stdout.strip().splitlines()[-1] == f"artifact: {full_seeds['path']}"


def test_records_follow_the_contract(seed_rows):
    assert len(seed_rows) > 50_000
    ids = set()
    for row in seed_rows:
        assert SEED_KEYS <= row.keys()
        assert row["question"] and row["answer_text"]
        assert row["license"] and row["license"] != "unknown"
        assert row["seed_id"] not in ids
        ids.add(row["seed_id"])


def test_multiple_choice_answers_are_semantic(seed_rows):
    checked = 0
    for row in seed_rows:
        if row["choices"] is None:
            assert row["answer_index"] is None
            continue
        checked += 1
        assert row["answer_text"] == row["choices"][row["answer_index"]]
        # bare labels are allowed only when the options themselves are labels (no "A. text" to map them to)
        if all(is_bare_label(c) for c in row["choices"]):
            assert extract_labelled_options(row["question"], row["choices"]) is None, row
    assert checked > 50_000


def test_labelled_options_are_mapped_to_their_text(by_task):
    for row in by_task["commonsense_qa"]:
        assert row["choice_labels"] == ["A", "B", "C", "D", "E"]
        assert not re.fullmatch(r"[A-E]", row["answer_text"])
        assert f"{row['choice_labels'][row['answer_index']]}. {row['answer_text']}" in row["question"]


def _lm_eval_task(name: str, dataset_name: str | None = None):
    """The task as lm-eval builds it: its full registered YAML (functions resolved), data from the mirror."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    entry = TaskManager().task_index[name]
    cfg = deepcopy(load_yaml(entry.yaml_path, resolve_func=True))
    for key in ("tag", "group", "task_list"):
        cfg.pop(key, None)
    folder = MIRROR / cfg["dataset_path"] / (dataset_name or cfg.get("dataset_name") or "default")
    files = {}
    for key in ("training_split", "validation_split", "test_split"):
        split = cfg.get(key)
        if split and (folder / f"{split}.jsonl").is_file():
            files[split] = str(folder / f"{split}.jsonl")
        elif split:
            cfg[key] = None
    if not cfg.get("validation_split") and not cfg.get("test_split"):
        cfg["test_split"] = cfg["training_split"]
    if (cfg.get("fewshot_config") or {}).get("split") not in (None, *files):
        cfg["fewshot_config"]["split"] = None
    cfg.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": files})
    return ConfigurableTask(config=cfg)


@pytest.mark.parametrize("task_name", ["arc_easy", "arc_challenge", "gsm8k", "commonsense_qa", "winogrande"])
def test_spot_records_match_lm_eval_rendering(by_task, task_name):
    rows = by_task[task_name]
    task = _lm_eval_task(task_name, "winogrande_l" if task_name == "winogrande" else None)
    docs = task.training_docs()
    for row in rows[:: max(1, len(rows) // 40)]:  # ~40 rows spread over the split
        doc = docs[row["row_index"]]
        target = task.doc_to_target(doc)
        if task_name == "winogrande":
            contexts, gold = task.doc_to_choice(doc), task.doc_to_text(doc)
            assert row["answer_index"] == gold
            for option, context in zip(row["choices"], contexts, strict=True):
                filled = row["question"].replace("_", option, 1)
                assert " ".join(filled.split()) == " ".join(
                    f"{context}{task.config.target_delimiter}{target}".split()
                )
            continue
        assert row["question"] == task.doc_to_text(doc)
        if task_name == "gsm8k":
            assert row["answer_text"] == target.strip() and row["choices"] is None
            assert re.search(r"#### -?[\d,.]+$", row["answer_text"])
        elif task_name == "commonsense_qa":
            assert row["choice_labels"] == task.doc_to_choice(doc)
            assert row["choice_labels"][row["answer_index"]] == target
            assert row["choices"] == doc["choices"]["text"]
        else:
            choices = task.doc_to_choice(doc)
            assert row["choices"] == [c.strip() for c in choices]
            assert row["answer_text"] == choices[target].strip()


def test_code_seeds_carry_the_reference_solution(by_task):
    row = by_task["mbpp"][0]
    assert "def " in row["answer_text"] and "[DONE]" not in row["answer_text"]
    assert "assert" in row["question"]


def test_second_run_is_a_cache_hit(full_seeds):
    start = time.perf_counter()
    proc = taskseed("seeds", outputs=full_seeds["outputs"])
    seconds = time.perf_counter() - start
    assert artifact_of(proc) == full_seeds["path"]
    assert "cache hit" in proc.stderr
    assert seconds < 0.10 * full_seeds["seconds"], (seconds, full_seeds["seconds"])


def test_output_affecting_fields_change_the_fingerprint(full_seeds):
    one = artifact_of(taskseed("seeds", "seeds.tasks=[copa]", outputs=full_seeds["outputs"]))
    two = artifact_of(taskseed("seeds", "seeds.tasks=[copa,wsc]", outputs=full_seeds["outputs"]))
    capped = artifact_of(
        taskseed("seeds", "seeds.tasks=[copa]", "seeds.max_rows_per_task=50", outputs=full_seeds["outputs"])
    )
    assert len({one, two, capped, full_seeds["path"]}) == 4
    assert Artifact.load(capped).manifest["counts"]["data"] == 50
    # a field that does not change output (progress bars, log level) keeps the fingerprint
    again = artifact_of(
        taskseed("seeds", "seeds.tasks=[copa]", "log_level=WARNING", outputs=full_seeds["outputs"])
    )
    assert again == one


def test_manifest_and_datacard(full_seeds):
    artifact = Artifact.load(full_seeds["path"])
    manifest = artifact.manifest
    assert manifest["stage"] == "seeds" and manifest["fingerprint"] == artifact.path.name
    assert manifest["inputs"]["catalog"]["stage"] == "catalog"
    assert {"lm_eval", "datasets", "python"} <= manifest["library_versions"].keys()
    assert manifest["counts"]["data"] == sum(s.get("seeds", 0) for s in manifest["stats"]["tasks"].values())
    card = (artifact.path / "DATACARD.md").read_text()
    for heading in ("## Tasks", "## Licenses", "## Splits used", "## Split firewall", "## Excluded"):
        assert heading in card
    assert "license[unknown]" in card  # social_iqa and friends are excluded, with the reason
    assert "openai/gsm8k/main:train" in card


def test_mlflow_run_records_config_counts_artifacts_and_dataset(full_seeds):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{full_seeds['outputs'] / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("taskseed")
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.fingerprint = '{full_seeds['path'].name}'",
        order_by=["attributes.start_time ASC"],
    )
    run = runs[0]
    assert run.data.tags["taskseed.stage"] == "seeds" and run.data.tags["cache_hit"] == "false"
    params = run.data.params
    assert params["seeds.license_policy"] == "commercial" and params["seeds.tasks"] == "all"
    assert "data.mirror" in params and json.loads(params["eval.suites.math"]) == ["taskseed_math"]
    assert json.loads(params["eval.protected_only.math"]) == ["minerva_math"]
    manifest = Artifact.load(full_seeds["path"]).manifest
    for task, stats in manifest["stats"]["tasks"].items():
        assert run.data.metrics[f"seeds.{task}"] == stats["seeds"]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"manifest.json", "DATACARD.md"} <= names
    inputs = run.inputs.dataset_inputs
    outputs = [
        i for i in inputs if any(t.key == "mlflow.data.context" and t.value == "output" for t in i.tags)
    ]
    assert outputs and outputs[0].dataset.digest == full_seeds["path"].name
    assert any(i.dataset.name.startswith("catalog-") for i in inputs)
    manifest_copy = json.loads(open(client.download_artifacts(run.info.run_id, "manifest.json")).read())
    assert manifest_copy["fingerprint"] == full_seeds["path"].name
