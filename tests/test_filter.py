"""The filter stage's checks, through their public interfaces, on real records and real evaluation data."""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path

import pytest

from taskseed.core.schema import section
from taskseed.filter.base import CheckContext, CheckInputs
from taskseed.filter.config import (
    DecontamConfig,
    DecontamJudge,
    DedupConfig,
    EmbeddingConfig,
    SandboxConfig,
    VerifyConfig,
)
from taskseed.filter.dedup import DedupCheck
from taskseed.filter.format import FormatCheck
from taskseed.filter.quality import QualityCheck
from taskseed.filter.verify import VerifyCheck

from .conftest import MIRROR, artifact_of, error_line, taskseed

FIXTURE = Path(__file__).parent / "fixtures" / "smollm2_generated.jsonl"


def generated() -> list[dict]:
    """Real examples SmolLM2-135M generated (generate_smoke and smoke experiments); the first few enriched."""
    return [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]


def enriched() -> list[dict]:
    return [r for r in generated() if r.get("enrichment")]


def of_kind(kind: str) -> list[dict]:
    return [r for r in generated() if r["kind"] == kind]


def ctx(tmp_path, seeds=None) -> CheckContext:
    return CheckContext({}, tmp_path, seeds or {}, progress=False)


def reasons(verdicts) -> list[str]:
    return [v.code for v in verdicts]


def test_format_check_names_each_defect(tmp_path):
    base = enriched()[0]
    assert FormatCheck().check(base).passed, FormatCheck().check(base).reason

    def broken(change):
        record = copy.deepcopy(base)
        change(record)
        return record

    wrong = (base["answer_index"] + 1) % len(base["choices"])
    cases = {
        "missing-field": broken(lambda r: r.update(question="")),
        "duplicate-choices": broken(lambda r: r["choices"].__setitem__(wrong, r["answer_text"].upper())),
        "answer-not-in-choices": broken(lambda r: r.update(answer_index=wrong)),
        "answer-leak": broken(
            lambda r: r.update(question=f"{r['question']} (The answer is {r['answer_text']}.)")
        ),
        "wrong-language": broken(
            lambda r: r.update(question="Какой из этих вариантов правильный ответ на вопрос?")
        ),
        "too-short": broken(lambda r: r.update(question="Why?")),
    }
    enrichment_gap = broken(lambda r: r["enrichment"]["distractors"].clear())
    verdicts = FormatCheck().run([*cases.values(), enrichment_gap], ctx(tmp_path))
    assert reasons(verdicts) == [*cases, "missing-field"]
    assert "distractor" in verdicts[-1].reason


def test_quality_rejects_degenerate_text_and_keeps_real_examples(tmp_path):
    records = generated()
    loop = copy.deepcopy(enriched()[0])
    loop["enrichment"]["reasoning"] = "the answer is the answer is " * 20
    verdicts = QualityCheck().run([*records, loop], ctx(tmp_path))
    assert verdicts[-1].code == "low-quality" and "not-repetitive" in verdicts[-1].reason
    kept = sum(v.passed for v in verdicts[:-1])
    assert kept >= 0.5 * len(records), [v.reason for v in verdicts if not v.passed][:5]


def test_dedup_finds_exact_near_and_stale_copies(tmp_path):
    records = of_kind("mc")[:6]
    exact = copy.deepcopy(records[0]) | {"id": "exact-copy"}
    exact["question"] = exact["question"].upper()  # normalization ignores case
    near = copy.deepcopy(records[1]) | {"id": "near-copy"}
    words = near["question"].split()
    words[len(words) // 2] = "remarkably"
    near["question"] = " ".join(words)
    records[2]["seed_ids"] = ["seed-1"]  # a seed it barely changed
    seeds = {"seed-1": {"seed_id": "seed-1", "question": records[2]["question"] + " Explain."}}
    verdicts = DedupCheck(DedupConfig(threshold=0.7, ngram=3)).run(
        [*records, exact, near], ctx(tmp_path, seeds)
    )
    expected = [""] * len(records) + ["duplicate-exact", "duplicate-near"]
    expected[2] = "not-fresh"
    assert reasons(verdicts) == expected
    assert records[0]["id"] in verdicts[-2].reason and records[1]["id"] in verdicts[-1].reason


ADVERSARIAL = {
    "loops forever": "def f(x):\n    while True:\n        pass",
    "forks repeatedly": "import os\ndef f(x):\n    while True:\n        os.fork()",
    "opens a socket": "import socket\ndef f(x):\n    socket.create_connection(('127.0.0.1', 9))\n    return x",
    "allocates without bound": "def f(x):\n    data = []\n    while True:\n        data.append(bytearray(10**7))",
    "writes outside its folder": "def f(x):\n    open({target!r}, 'w').write('pwned')\n    return x",
}


def test_code_verification_contains_hostile_solutions(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("untouched")
    honest = {"id": "ok", "task": "mbpp", "kind": "code", "question": "Return x.",
              "reference": {"solution": "def f(x):\n    return x", "tests": ["assert f(1) == 1"]}}  # fmt: skip
    records = [honest] + [
        {
            **honest,
            "id": name,
            "reference": {"solution": code.format(target=str(target)), "tests": ["assert f(1) == 1"]},
        }
        for name, code in ADVERSARIAL.items()
    ]
    check = VerifyCheck(VerifyConfig(sandbox=SandboxConfig(wall_s=3, cpu_s=2, memory_mb=256)))
    verdicts = check.run(records, ctx(tmp_path))
    assert verdicts[0].passed
    assert not any(v.passed for v in verdicts[1:]), [
        (r["id"], v.reason) for r, v in zip(records, verdicts, strict=True)
    ]
    assert all(v.code == "tests-fail" for v in verdicts[1:])
    assert target.read_text() == "untouched"


# ---- decontamination: planted evaluation items --------------------------------------------------------

SYNONYMS = {
    "which": "what", "following": "listed", "calculate": "compute", "determine": "find", "find": "work out",
    "total": "overall", "each": "every", "every": "each", "buys": "purchases", "has": "owns", "many": "numerous",
    "most": "greatest", "likely": "probably", "correct": "right", "statement": "claim", "describes": "explains",
    "because": "since", "large": "big", "small": "little", "also": "as well", "then": "next", "uses": "employs",
}  # fmt: skip


def paraphrase(text: str, rng: random.Random) -> str:
    """A light rewording: a new opening, about one word in six swapped for a synonym, contractions."""
    words = text.split()
    for i, word in enumerate(words):
        key = word.lower().strip(".,?;:")
        if key in SYNONYMS and rng.random() < 0.6:
            words[i] = word.replace(key, SYNONYMS[key]).replace(key.capitalize(), SYNONYMS[key].capitalize())
    out = " ".join(words).replace("What is", "What's").replace("do not", "don't").replace("is not", "isn't")
    return rng.choice(["Consider this. ", "Here is a question: ", "Try this one. "]) + out


def _jsonl(rel: str, limit: int | None = None) -> list[dict]:
    rows = []
    with open(MIRROR / rel) as fh:
        for line in fh:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def planted(rng: random.Random, per_benchmark: int = 60) -> list[tuple[str, dict]]:
    """(benchmark, record) straight from the mirror's raw evaluation files: not through our own rendering."""
    out = []
    for row in rng.sample(_jsonl("TIGER-Lab/MMLU-Pro/default/test.jsonl"), per_benchmark):
        out.append(
            (
                "mmlu_pro",
                {"question": row["question"], "choices": row["options"], "answer_index": row["answer_index"]},
            )
        )
    for row in rng.sample(_jsonl("Idavidrein/gpqa/gpqa_main/train.jsonl"), per_benchmark):
        options = [
            row["Correct Answer"],
            row["Incorrect Answer 1"],
            row["Incorrect Answer 2"],
            row["Incorrect Answer 3"],
        ]
        out.append(
            (
                "gpqa",
                {"question": row["Question"], "choices": [o.strip() for o in options], "answer_index": 0},
            )
        )
    for row in rng.sample(_jsonl("openai/gsm8k/main/test.jsonl"), per_benchmark):
        out.append(("gsm8k", {"question": row["question"], "choices": None, "answer_text": row["answer"]}))
    records = []
    for n, (bench, r) in enumerate(out):
        if r["choices"]:
            r["answer_text"] = r["choices"][r["answer_index"]]
        records.append((bench, {"id": f"plant-{n}", "task": f"plant-{bench}", **r}))
    return records


def reworded(record: dict, rng: random.Random) -> dict:
    r = copy.deepcopy(record) | {
        "id": record["id"] + "-reworded",
        "question": paraphrase(record["question"], rng),
    }
    if r["choices"]:
        rng.shuffle(r["choices"])
        r["answer_index"] = r["choices"].index(r["answer_text"])
    return r


def clean_records(rng: random.Random, per_source: int = 200) -> list[dict]:
    """Training rows of datasets outside the evaluation suites, plus SmolLM2's own generated examples."""
    out = []
    for row in rng.sample(_jsonl("lighteval/siqa/default/train.jsonl", 5000), per_source):
        options = [row["answerA"], row["answerB"], row["answerC"]]
        out.append(
            {
                "question": f"{row['context']} {row['question']}",
                "choices": options,
                "answer_text": options[int(row["label"]) - 1],
            }
        )
    for row in rng.sample(_jsonl("EleutherAI/mutual/mutual/train.jsonl", 3000), per_source):
        options = row["options"]
        out.append(
            {
                "question": row["article"],
                "choices": options,
                "answer_text": options["ABCD".index(row["answers"])],
            }
        )
    for row in rng.sample(_jsonl("stanfordnlp/web_questions/default/train.jsonl"), per_source):
        out.append({"question": row["question"], "choices": None, "answer_text": row["answers"][0]})
    records = [{"id": f"clean-{n}", "task": "clean", **r} for n, r in enumerate(out)]
    return records + [r | {"id": f"generated-{n}"} for n, r in enumerate(generated())]


@pytest.fixture(scope="module")
def evalset(tmp_path_factory, mirror):
    """The evaluation set of the MMLU-Pro, GPQA and math suites, built by the real stage code."""
    from taskseed.core.config import compose, to_dict
    from taskseed.core.stage import Session
    from taskseed.filter.evalset import load_evalset
    from taskseed.sources.catalog import load_catalog
    from taskseed.sources.data import DataSource

    outputs = tmp_path_factory.mktemp("evalset")
    cfg = to_dict(compose([f"paths.outputs={outputs}", "progress=false", "tracking.enabled=false",
                           "eval.suites.knowledge=[mmlu_pro]", "filter.decontam.suites=[knowledge,science,math]"]))  # fmt: skip
    source = DataSource.from_config(cfg["data"], Path(cfg["paths"]["root"]))
    session = Session(cfg)
    return load_evalset(session, source, load_catalog(session, source))


@pytest.mark.slow
def test_planted_contamination_is_caught_and_clean_data_is_not(evalset, tmp_path):
    from taskseed.filter.decontam import DecontamCheck

    rng = random.Random(13)
    plants = planted(rng)
    verbatim = [r for _, r in plants]
    paraphrased = [reworded(r, rng) for r in verbatim]
    clean = clean_records(rng)
    check_ctx = ctx(tmp_path)
    verdicts = DecontamCheck(DecontamConfig(), CheckInputs(evalset)).run(
        verbatim + paraphrased + clean, check_ctx
    )
    flagged = [not v.passed for v in verdicts]
    n, m = len(verbatim), len(paraphrased)
    verbatim_recall = sum(flagged[:n]) / n
    paraphrase_recall = sum(flagged[n : n + m]) / m
    false_positive = sum(flagged[n + m :]) / len(clean)
    missed = [r["question"][:100] for r, f in zip(paraphrased, flagged[n : n + m], strict=True) if not f]
    false = [
        (r["question"][:80], v.reason[:120])
        for r, v in zip(clean, verdicts[n + m :], strict=True)
        if not v.passed
    ]
    print(f"\nplanted contamination: verbatim recall {verbatim_recall:.1%} ({n}), paraphrase recall "
          f"{paraphrase_recall:.1%} ({m}), false positives {false_positive:.2%} of {len(clean)} clean records")  # fmt: skip
    assert verbatim_recall == 1.0
    assert paraphrase_recall >= 0.9, missed[:5]
    assert false_positive <= 0.01, false[:5]
    # Every flag names the benchmark it came from; the report counts them per benchmark and layer.
    expected = [bench for bench, _ in plants]
    named = [re.match(r"contaminated: (\S+)", v.reason)[1].split("+") for v in verdicts[:n]]
    assert all(bench in names for bench, names in zip(expected, named, strict=True))
    report = check_ctx.reports["contamination"]["benchmarks"]
    assert report["gpqa"]["flagged"] >= 2 * 0.9 * 60 and report["gpqa"]["examples"]
    assert sum(b["by_layer"]["embedding"] + b["by_layer"]["both"] for b in report.values()) > 0
    # contamination.json names, per flag, the matched item, its score and the evidence
    flags = check_ctx.reports["contamination"]["flags"]
    assert {f["record_id"] for f in flags} >= {r["id"] for r in verbatim}
    assert all(f["eval_item"] and f["evidence"] and 0 < f["score"] <= 1.01 for f in flags)  # float16 cosines


# ---- decontamination: hand-written paraphrases (tests/fixtures/decontam_paraphrases.jsonl) -------------
# 100 MMLU-Pro, GPQA and GSM8K evaluation items disguised as a person would (restructured, reframed, options
# reworded and reshuffled, every fact and the answer kept), each with a same-topic different question.

HAND_WRITTEN = Path(__file__).parent / "fixtures" / "decontam_paraphrases.jsonl"


def _source_item(benchmark: str, row: dict) -> dict:
    """The evaluation item as its benchmark file holds it: question, options and the correct answer's text."""
    if benchmark == "mmlu_pro":
        return {
            "question": row["question"],
            "choices": row["options"],
            "answer_text": row["options"][row["answer_index"]],
        }
    if benchmark == "gpqa":
        options = [
            row["Correct Answer"],
            row["Incorrect Answer 1"],
            row["Incorrect Answer 2"],
            row["Incorrect Answer 3"],
        ]
        return {
            "question": row["Question"],
            "choices": [o.strip() for o in options],
            "answer_text": options[0].strip(),
        }
    return {"question": row["question"], "choices": None, "answer_text": row["answer"]}  # fmt: skip


def hand_written() -> list[dict]:
    """Per fixture row: its benchmark and the verbatim, disguised and same-topic negative records."""
    rows = [json.loads(line) for line in HAND_WRITTEN.read_text().splitlines() if line.strip()]
    files = {r["source"]: (MIRROR / r["source"]).read_text().splitlines() for r in rows}
    out = []
    for r in rows:
        source = _source_item(r["benchmark"], json.loads(files[r["source"]][r["line"]]))

        def record(kind: str, part: dict, r=r) -> dict:
            return {"id": f"{r['id']}-{kind}", "task": f"plant-{r['benchmark']}", "question": part["question"],
                    "choices": part["choices"] or None, "answer_text": part["answer"]}  # fmt: skip

        out.append({"benchmark": r["benchmark"], "source": source,
                    "verbatim": {"id": f"{r['id']}-verbatim", "task": f"plant-{r['benchmark']}", **source},
                    "disguised": record("paraphrase", r["paraphrase"]), "negative": record("negative", r["negative"])})  # fmt: skip
    return out


def longest_shared_run(a: str, b: str) -> int:
    """The longest run of consecutive words two texts share (lowercase, split on non-alphanumerics)."""
    wa, wb = re.findall(r"[a-z0-9]+", a.lower()), re.findall(r"[a-z0-9]+", b.lower())
    best, prev = 0, [0] * (len(wb) + 1)
    for x in wa:
        cur = [0] * (len(wb) + 1)
        for j, y in enumerate(wb, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def test_the_hand_written_paraphrases_share_little_wording_with_their_items():
    import statistics

    rows = hand_written()
    assert len(rows) >= 100 and {r["benchmark"] for r in rows} == {"mmlu_pro", "gpqa", "gsm8k"}
    runs = [longest_shared_run(r["disguised"]["question"], r["source"]["question"]) for r in rows]
    assert statistics.median(runs) <= 6 and max(runs) <= 8, (statistics.median(runs), max(runs))
    for r in rows:  # the disguise keeps the answer; the negative asks something else
        if r["benchmark"] == "gsm8k":
            assert (
                r["source"]["answer_text"].rsplit("####", 1)[-1].strip().replace(",", "")
                == r["disguised"]["answer_text"]
            )
        else:
            assert r["disguised"]["answer_text"] in r["disguised"]["choices"]
        assert r["negative"]["answer_text"] != r["disguised"]["answer_text"]


def _flag_rates(evalset, tmp_path, rows: list[dict], **embedding) -> dict[str, dict[str, float]]:
    from taskseed.filter.decontam import DecontamCheck

    kinds = ("verbatim", "disguised", "negative")
    records = [r[kind] for kind in kinds for r in rows]
    # switching confirmation off switches off both of its uses: flags from the cosine, vetoes of n-gram hits
    answers = embedding.get("confirm", True)
    config = DecontamConfig(embedding=EmbeddingConfig(**embedding), ngram_answer_check=answers)
    verdicts = DecontamCheck(config, CheckInputs(evalset)).run(records, ctx(tmp_path))
    flagged = {rec["id"]: not v.passed for rec, v in zip(records, verdicts, strict=True)}
    rates: dict[str, dict[str, float]] = {}
    for bench in ("mmlu_pro", "gpqa", "gsm8k", "all"):
        picked = [r for r in rows if bench in ("all", r["benchmark"])]
        rates[bench] = {k: sum(flagged[r[k]["id"]] for r in picked) / len(picked) for k in kinds}
    return rates


@pytest.mark.slow
def test_hand_written_paraphrases_are_caught_and_same_topic_questions_are_not(evalset, tmp_path):
    rows = hand_written()
    confirmed = _flag_rates(evalset, tmp_path, rows)
    cosine_only = _flag_rates(evalset, tmp_path, rows, confirm=False, threshold=0.88)
    print("\nhand-written paraphrases (confirmed | cosine only): benchmark  verbatim  disguised  negatives")
    for bench, rates in confirmed.items():
        print(f"  {bench:9s}" + "".join(f"  {rates[k]:6.1%} | {cosine_only[bench][k]:6.1%}" for k in rates))
    assert confirmed["all"]["verbatim"] == 1.0
    # issue 9's targets; measured 95% and 1% (cosine only at 0.88: 35% and 19%). The thresholds were chosen
    # on this set (there is no held-out one), so read these as regression bounds, not generalization.
    assert confirmed["all"]["disguised"] >= 0.95
    assert confirmed["all"]["negative"] <= 0.02
    assert confirmed["all"]["negative"] < cosine_only["all"]["negative"]


@pytest.mark.slow
def test_the_decontamination_judge_reads_only_unconfirmed_candidates(evalset, smoke_experiment, tmp_path):
    from taskseed.core.config import compose, to_dict
    from taskseed.filter.decontam import DecontamCheck
    from taskseed.filter.llm import CheckLLM

    rows = hand_written()[::5]
    records = [r[kind] for r in rows for kind in ("disguised", "negative")]
    without = DecontamCheck(DecontamConfig(), CheckInputs(evalset)).run(records, ctx(tmp_path))
    cfg = to_dict(compose([]))
    check_ctx = ctx(tmp_path)
    check_ctx.llm = CheckLLM(
        section(cfg, "filter").verify, cfg["model"], smoke_experiment["outputs"] / "cache", False
    )
    try:
        judge = DecontamJudge(enabled=True, candidates=3, max_new_tokens=64)
        verdicts = DecontamCheck(DecontamConfig(judge=judge), CheckInputs(evalset)).run(records, check_ctx)
    finally:
        check_ctx.llm.close()
    report = check_ctx.reports["contamination"]
    judged = [f for f in report["flags"] if "judge:" in f["evidence"]]
    print(f"\ndecontamination judge (SmolLM2-135M): asked on {report['judge']['asked']} of {len(records)} records, "
          f"flagged {report['judge']['flagged']}")  # fmt: skip
    assert 0 < report["judge"]["asked"] <= sum(v.passed for v in without)
    assert len(judged) == report["judge"]["flagged"]
    flagged_before = {rec["id"] for rec, v in zip(records, without, strict=True) if not v.passed}
    assert not flagged_before & {
        f["record_id"] for f in judged
    }  # the judge reads only what nothing confirmed
    assert all(not v.passed for rec, v in zip(records, verdicts, strict=True) if rec["id"] in flagged_before)


def test_filter_command_refuses_an_unknown_check(tmp_path):
    line = error_line(taskseed("filter", "filter.checks=[format,spelling]", outputs=tmp_path))
    assert "filter.checks='spelling' is not allowed" in line and "decontam" in line
    assert not (tmp_path / "artifacts").exists()


@pytest.mark.slow
def test_filter_command_writes_kept_rejected_report_and_funnel(smoke_experiment):
    # The smoke experiment computed every stage; the command finds its filter artifact (default settings).
    proc = taskseed("filter", "+experiment=smoke", outputs=smoke_experiment["outputs"])
    artifact = artifact_of(proc)
    assert "cache hit: filter" in proc.stderr
    from taskseed.core.artifacts import Artifact

    out = Artifact.load(artifact)
    kept, rejected = out.read_records("kept"), out.read_records("rejected")
    enriched = Artifact.load(out.manifest["inputs"]["examples"]["path"]).read_records()
    assert len(kept) + len(rejected) == len(enriched) > 0
    assert {r["id"] for r in kept} | {r["id"] for r in rejected} == {r["id"] for r in enriched}
    for r in rejected:
        assert r["rejection"]["check"] in r["checks"] and not r["checks"][r["rejection"]["check"]]["passed"]
    for r in kept:
        assert all(c["passed"] for c in r["checks"].values())
    report = json.loads((artifact / "contamination.json").read_text())
    assert set(report["benchmarks"]) == {"gpqa"}
    funnel = json.loads((artifact / "funnel.json").read_text())
    assert [s["check"] for s in funnel["steps"]] == ["format", "quality", "dedup", "decontam", "verify"]
    assert (artifact / "funnel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "filter yield" in proc.stdout


def _swapped(record: dict) -> dict:
    """The same example with a wrong option stored as its answer."""
    wrong = (record["answer_index"] + 1) % len(record["choices"])
    return copy.deepcopy(record) | {
        "id": record["id"] + "-swapped",
        "answer_index": wrong,
        "answer_text": record["choices"][wrong],
    }


@pytest.mark.slow
def test_verification_rejects_planted_wrong_answers(smoke_experiment, tmp_path):
    from taskseed.core.config import compose, to_dict
    from taskseed.filter.llm import CheckLLM

    cfg = to_dict(compose([]))
    cache = smoke_experiment["outputs"] / "cache"  # SmolLM2's copy is already there
    llm = CheckLLM(section(cfg, "filter").verify, cfg["model"], cache, show_progress=False)
    records = of_kind("mc")[:40]
    wrong = [_swapped(r) for r in records]
    check_ctx = ctx(tmp_path)
    check_ctx.llm = llm
    try:
        verdicts = VerifyCheck(
            VerifyConfig(k=3, min_agreement=0.6), CheckInputs(verifier=llm.describe())
        ).run(records + wrong, check_ctx)
    finally:
        llm.close()
    n = len(records)
    kept_rate = sum(v.passed for v in verdicts[:n]) / n
    caught = sum(not v.passed for v in verdicts[n:]) / n
    print(f"\nverification (SmolLM2-135M verifier, k=3 rotated option orders, min_agreement 0.6): planted wrong "
          f"answers rejected {caught:.0%}, SmolLM2's own stored answers kept {kept_rate:.0%}, of {n} each")  # fmt: skip
    assert all(v.passed or v.code == "disagrees" for v in verdicts)
    assert {round(3 * v.score) for v in verdicts} <= {0, 1, 2, 3}  # the share of k=3 votes
    # A question's option orders depend on the question alone, so the stored and the planted answer face the
    # same votes: each vote picks one option, so their agreement shares cannot add up to more than one, and
    # with a majority threshold at most one of the two is kept.
    for stored, planted in zip(verdicts[:n], verdicts[n:], strict=True):
        assert stored.score + planted.score <= 1 + 1e-9
        assert not (stored.passed and planted.passed)
