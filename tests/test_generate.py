"""Generation and enrichment: balanced plans, real backends end to end, and resumption after SIGKILL."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from taskseed.core.artifacts import Artifact
from taskseed.synth.enrich import check_enrichment
from taskseed.synth.parsing import Reject
from taskseed.synth.prompts import example_json, kind_of, question_stem
from taskseed.synth.sampling import largest_remainder, task_quotas

from .conftest import ROOT, artifact_of, cli_env, taskseed

TINY = ["model=tiny_llama", "seeds.tasks=[copa,arc_easy,gsm8k,mbpp,webqs]", "seeds.max_rows_per_task=60",
        "generate.sampling.max_new_tokens=160", "enrich.sampling.max_new_tokens=160", "generate.max_attempts=2", "enrich.max_attempts=2"]  # fmt: skip


def test_quotas_are_exact_and_balanced():
    assert largest_remainder({"a": 1, "b": 1, "c": 1}, 10) == {"a": 4, "b": 3, "c": 3}
    sizes = {"big": 10_000, "small": 50, "mmlu_a": 100, "mmlu_b": 100, "mmlu_c": 100}
    groups = {"big": "big", "small": "small", "mmlu_a": "mmlu", "mmlu_b": "mmlu", "mmlu_c": "mmlu"}
    uniform = task_quotas(sizes, groups, 300, 0.0, 0.0)
    assert (
        sum(uniform.values()) == 300 and uniform["big"] == uniform["small"] == 100
    )  # groups first: mmlu's 3 subtasks share one third
    proportional = task_quotas(sizes, groups, 1035, 1.0, 1.0)
    assert proportional == {"big": 1000, "small": 5, "mmlu_a": 10, "mmlu_b": 10, "mmlu_c": 10}


def test_kinds_and_examples_come_from_the_seed_records():
    gsm = {"task": "gsm8k", "group": "gsm8k", "question": "Question: Ann has 2 pens and buys 3. How many?\nAnswer:", "choices": None,
           "answer_text": "She has 2+3=<<2+3=5>>5 pens.\n#### 5", "alt_answers": []}  # fmt: skip
    assert kind_of(gsm) == "math" and example_json(gsm, "math") == {
        "question": "Ann has 2 pens and buys 3. How many?",
        "solution": "She has 2+3=5 pens.",
        "final_answer": 5,
    }
    csqa = {"task": "commonsense_qa", "group": "commonsense_qa", "question": "Question: Where is a fish?\nA. pond\nB. tree\nAnswer:", "choices": ["pond", "tree"],
            "choice_labels": ["A", "B"], "answer_text": "pond", "answer_index": 0, "alt_answers": []}  # fmt: skip
    assert kind_of(csqa) == "mc" and question_stem(csqa) == "Where is a fish?"
    webqs = {
        **csqa,
        "task": "webqs",
        "group": "webqs",
        "choices": ["Jaxon Bieber", "Jazmyn Bieber"],
        "alt_answers": ["Jazmyn Bieber"],
        "choice_labels": None,
    }
    assert kind_of(webqs) == "short"


def test_sampling_overrides_per_kind_reach_the_requests():
    from taskseed.core.errors import TaskseedError
    from taskseed.core.schema import section
    from taskseed.synth.generate import job_spec, plan_jobs, sampling_by_kind

    given = {"seed": 3, "kinds": ["mc", "code"], "sampling": {"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 320},
             "sampling_by_kind": {"code": {"max_new_tokens": 512}}}  # fmt: skip
    by_kind = sampling_by_kind(section({"generate": given}, "generate"))
    assert by_kind["mc"]["max_new_tokens"] == 320 and by_kind["code"] == {
        **by_kind["mc"],
        "max_new_tokens": 512,
    }
    seeds = [{"task": t, "group": t, "family": "f", "output_type": o, "license": "MIT", "seed_id": f"{t}{i}", "question": f"Question {t} {i}?",
              "choices": c, "answer_text": a, "answer_index": x, "alt_answers": [], "choice_labels": None}
             for t, o, c, a, x in [("copa", "multiple_choice", ["yes", "no"], "yes", 0), ("mbpp", "generate_until", None, "def f(): pass", None)]
             for i in range(4)]  # fmt: skip
    config = {"sampling": by_kind["mc"], "sampling_by_kind": by_kind, "num_examples": 4, "few_shot": 1, "max_attempts": 1,
              "group_temperature": 0.0, "task_temperature": 0.0, "kinds": ["mc", "code"], "kind_overrides": {"mbpp": "code"}, "tasks": None}  # fmt: skip
    jobs = plan_jobs(seeds, config)
    spec = job_spec(config, {})
    tokens = {j.payload["kind"]: spec.request(j, 0).sampling.max_new_tokens for j in jobs}
    assert tokens == {"mc": 320, "code": 512}
    with pytest.raises(TaskseedError, match="generate.sampling_by_kind='cod' is not allowed; use one of mc"):
        section({"generate": {**given, "sampling_by_kind": {"cod": {"max_new_tokens": 9}}}}, "generate")
    with pytest.raises(TaskseedError, match="generate.sampling_by_kind.code.seed"):
        section({"generate": {**given, "sampling_by_kind": {"code": {"seed": 9}}}}, "generate")


MC = {
    "kind": "mc",
    "question": "Which planet is known as the red planet?",
    "choices": ["Venus", "Mars", "Saturn"],
    "answer_index": 1,
    "answer_text": "Mars",
}


@pytest.mark.parametrize(
    ("reasoning", "distractors", "reason"),
    [
        (
            "Mars looks red because of iron oxide. So the answer is Venus.",
            {"Venus": "too hot", "Saturn": "a gas giant"},
            "argues-for-distractor",
        ),
        (
            "Iron oxide makes the surface red. So the answer is Jupiter.",
            {"Venus": "too hot", "Saturn": "a gas giant"},
            "reasoning-misses-answer",
        ),
        ("Mars is red. So the answer is Mars.", {"Venus": "too hot"}, "missing-distractor-explanation"),
        (
            "Mars is red. So the answer is Mars.",
            {"Venus": "Venus is the correct answer here", "Saturn": "a gas giant"},
            "argues-for-distractor",
        ),
        (
            "Mars is red. So the answer is Mars.",
            {"Venus": "too hot", "Saturn": "gas", "Mars": "not red"},
            "explains-answer-as-wrong",
        ),
        (
            "Mars is red; some say Venus. So the answer is Venus, not Mars",
            {"Venus": "too hot", "Saturn": "gas"},
            "argues-for-distractor",
        ),
    ],
)
def test_enrichment_that_contradicts_the_answer_is_rejected(reasoning, distractors, reason):
    text = json.dumps(
        {"knowledge": "Planets differ in colour.", "reasoning": reasoning, "distractors": distractors}
    )
    with pytest.raises(Reject) as err:
        check_enrichment(MC, text, "stop")
    assert err.value.reason == reason


def test_consistent_enrichment_is_kept():
    text = json.dumps({"knowledge": "Iron oxide dust covers Mars.", "reasoning": "Its dust is rusty, so it looks red. So the answer is Mars.",
                       "distractors": {"Venus": "Venus is yellowish, not red.", "Saturn": "Saturn is pale gold and is not correct."}})  # fmt: skip
    out = check_enrichment(MC, text, "stop")
    assert set(out["distractors"]) == {"Venus", "Saturn"} and out["reasoning"].endswith("Mars.")


@pytest.mark.slow
def test_generate_and_enrich_end_to_end_with_a_real_model(outputs, mirror):
    gen = Artifact.load(artifact_of(taskseed("generate", *TINY, "generate.num_examples=10", outputs=outputs)))
    kept, rejected = gen.read_records(), gen.read_records("rejected")
    assert len(kept) + len(rejected) == 10 and gen.manifest["counts"] == {
        "kept": len(kept),
        "rejected": len(rejected),
    }
    for record in rejected:
        assert record["rejection"]["reason"] and record["rejection"]["attempts"]
    for record in kept:
        assert record["question"] and record["answer_text"] and record["generator"]["prompt_version"]
        if record["choices"] is not None:
            assert record["answer_text"] == record["choices"][record["answer_index"]]
        assert record["seed_ids"] and record["license"] and record["checks"]["format"]["passed"]
    assert set(gen.manifest["stats"]["tasks"]) == {
        "copa",
        "arc_easy",
        "gsm8k",
        "mbpp",
        "webqs",
    }  # balanced over every task
    assert gen.manifest["stats"]["llm"]["calls"] > 0
    if kept:
        proc = taskseed("enrich", *TINY, "generate.num_examples=10", outputs=outputs)
        enriched = Artifact.load(artifact_of(proc))
        assert enriched.manifest["counts"]["kept"] + enriched.manifest["counts"]["rejected"] == len(kept)
        for record in enriched.read_records("rejected"):
            assert record["rejection"]["reason"]
        for record in enriched.read_records():
            assert record["enrichment"]["reasoning"] and record["checks"]["enrichment"]["passed"]
    again = taskseed("generate", *TINY, "generate.num_examples=10", outputs=outputs)
    assert artifact_of(again) == gen.path and "cache hit" in again.stderr


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(outputs, mirror):
    args = [*TINY, "seeds.tasks=[copa,arc_easy]", "generate.kinds=[mc]", "generate.num_examples=24", "generate.shard_size=4",
            "generate.seed=7", "generate.sampling.max_new_tokens=120"]  # fmt: skip
    cmd = [sys.executable, "-m", "taskseed", "generate", *args, f"paths.outputs={outputs}", "progress=false"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    folder = outputs / "artifacts" / "generate"
    deadline = time.time() + 600
    committed: list = []
    while time.time() < deadline and proc.poll() is None:
        committed = list(folder.glob(".*.partial/kept/part-*.jsonl"))
        if len(committed) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = committed[0].parent.parent
    done_before = {json.loads(line)["job_id"] for p in (partial / "kept").glob("part-*.jsonl") for line in p.read_text().splitlines()
                   if (partial / "kept" / p.name).exists()}  # fmt: skip
    done_before |= {json.loads(line)["job_id"] for p in (partial / "rejected").glob("part-*.jsonl") if (partial / "kept" / p.name).exists()
                    for line in p.read_text().splitlines()}  # fmt: skip
    cache = outputs / "cache" / "llm_calls.sqlite"
    calls_before = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    artifact = Artifact.load(artifact_of(taskseed("generate", *args, outputs=outputs)))
    records = artifact.read_records() + artifact.read_records("rejected")
    job_ids = [r["job_id"] for r in records]
    assert len(job_ids) == 24 and len(set(job_ids)) == 24  # nothing lost, nothing twice
    assert done_before <= set(job_ids)
    stats = artifact.manifest["stats"]
    assert stats["resumed_jobs"] == len(done_before) > 0
    calls_after = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    # every call the resumed run made was for a prompt not in the cache: nothing already cached was paid twice
    assert stats["llm"]["calls"] == calls_after - calls_before
    assert stats["llm"]["calls"] < 2 * 24  # far fewer than a fresh run of 24 jobs with up to 2 attempts
