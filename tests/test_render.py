"""Render: examples → documents whose surface formats follow render.formats, with the template share reported."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from taskseed.core.artifacts import Artifact
from taskseed.core.schema import section
from taskseed.mix.formats import draw_format, render_example, render_seed
from taskseed.mix.render import run_render

from .conftest import fixture_examples, make_artifact, session_for

EXAMPLES = fixture_examples()
SEEDS = [
    {"seed_id": f"s{i}", "task": "arc_easy", "family": "knowledge", "license": "CC-BY-SA-4.0",
     "question": f"Question: Which part of a plant takes in water number {i}?\nAnswer:", "answer_text": "the roots"}
    for i in range(20)
]  # fmt: skip


def _cfg(tmp_path, *overrides):
    return session_for(tmp_path, *overrides)


def _many(n: int) -> list[dict]:
    """n enriched multiple-choice records (the fixture's, under fresh ids)."""
    mc = [r for r in EXAMPLES if r["kind"] == "mc" and (r["enrichment"] or {}).get("knowledge")]
    return [{**mc[i % len(mc)], "id": f"rec-{i}"} for i in range(n)]


def test_format_mix_follows_the_configured_weights(tmp_path):
    s = _cfg(tmp_path, "render.formats.markers={question_answer:1,q_a:0,problem_solution:0,quiz:3,heading:0,dialogue:0,textbook:0}",
             "render.formats.options={letter_dot:2,letter_paren:0,lower_paren:0,number_paren:1,bullets:1,inline:0}",
             "render.formats.explanation={after:1,before:1}", "render.parts={knowledge:0.2,reasoning:1.0,distractors:0.5}")  # fmt: skip
    rc = section(s.cfg, "render")
    formats = [draw_format(r, rc) for r in _many(4000)]
    share = lambda attr, value: sum(getattr(f, attr) == value for f in formats) / len(formats)  # noqa: E731
    assert share("markers", "question_answer") == pytest.approx(0.25, abs=0.025)
    assert share("markers", "quiz") == pytest.approx(0.75, abs=0.025)
    assert share("options", "letter_dot") == pytest.approx(0.5, abs=0.025)
    assert share("options", "number_paren") == pytest.approx(0.25, abs=0.025)
    assert share("explanation", "before") == pytest.approx(0.5, abs=0.025)
    assert {f.markers for f in formats} == {"question_answer", "quiz"}  # weight 0 never drawn
    with_part = lambda part: sum(part in f.parts for f in formats) / len(formats)  # noqa: E731
    assert with_part("knowledge") == pytest.approx(0.2, abs=0.025)
    assert with_part("reasoning") == 1.0
    assert with_part("distractors") == pytest.approx(0.5, abs=0.025)


def test_format_is_a_function_of_id_and_seed(tmp_path):
    rc0 = section(_cfg(tmp_path).cfg, "render")
    rc1 = section(_cfg(tmp_path, "render.seed=1").cfg, "render")
    records = _many(300)
    first = [draw_format(r, rc0) for r in records]
    assert first == [
        draw_format(dict(r, question="changed"), rc0) for r in records
    ]  # content does not matter
    assert sum(a != b for a, b in zip(first, [draw_format(r, rc1) for r in records], strict=True)) > 150


def test_documents_carry_labels_answers_and_explanations():
    mc = next(r for r in EXAMPLES if r["kind"] == "mc" and (r["enrichment"] or {}).get("distractors"))
    from taskseed.mix.formats import Format

    doc = render_example(
        mc, Format("quiz", "letter_paren", "after", ("knowledge", "reasoning", "distractors"))
    )
    letter = "ABCDEFGH"[mc["answer_index"]]
    assert doc.startswith("Quiz question: ")
    assert f"Correct answer: ({letter}) {mc['answer_text']}" in doc
    for i, choice in enumerate(mc["choices"]):
        assert f"({'ABCDEFGH'[i]}) {choice}" in doc
    wrong = [c for i, c in enumerate(mc["choices"]) if i != mc["answer_index"]]
    assert all(f"{c}: {mc['enrichment']['distractors'][c].strip()}" in doc for c in wrong)
    before = render_example(mc, Format("heading", "bullets", "before", ("reasoning",)))
    assert before.index(mc["enrichment"]["reasoning"].strip()) < before.index("## Answer")
    assert (
        mc["enrichment"]["knowledge"].strip() not in before
        or mc["enrichment"]["knowledge"] in mc["enrichment"]["reasoning"]
    )
    math = next(r for r in EXAMPLES if r["kind"] == "math")
    text = render_example(math, Format("problem_solution", "-", "after", ()))
    assert f"Final answer: {math['reference']['final_answer']}" in text and "Solution: " in text
    code = next(r for r in EXAMPLES if r["kind"] == "code")
    assert "```python\n" in render_example(code, Format("q_a", "-", "after", ()))
    assert render_seed(SEEDS[0]) == SEEDS[0]["question"] + " the roots"


def test_render_stage_reports_the_verbatim_template_share(tmp_path):
    filt = make_artifact(tmp_path / "given", "filter", EXAMPLES, primary="kept")
    seeds = make_artifact(tmp_path / "given", "seeds", SEEDS, fmt="parquet")
    s = _cfg(tmp_path, "render.include_seeds=true")
    art = run_render(s, {"filter": Artifact.load(filt), "seeds": Artifact.load(seeds)})
    docs = art.read_records()
    assert set(docs[0]) >= {
        "id",
        "text",
        "source",
        "task",
        "family",
        "format",
        "n_chars",
        "license",
        "templates",
    }
    synthetic = [d for d in docs if d["source"] == "synthetic"]
    assert len(synthetic) == len(EXAMPLES) and sum(d["source"] == "seeds" for d in docs) == len(SEEDS)
    assert all(d["n_chars"] == len(d["text"]) for d in docs)
    # The report counts exactly the documents in which an lm-eval prompt shape occurs.
    lm_eval_qa = re.compile(r"Question: [\s\S]+?\nAnswer:")
    for d in docs:
        assert ("Question: …\nAnswer:" in d["templates"]) == bool(lm_eval_qa.search(d["text"])), d["text"][
            :200
        ]
    share = sum(bool(d["templates"]) for d in synthetic) / len(synthetic)
    assert art.manifest["stats"]["template_share"]["synthetic"] == pytest.approx(share, abs=1e-4)
    assert art.manifest["stats"]["template_share"]["seeds"] == 1.0  # seeds keep lm-eval's own prompt
    assert 0 < share < 0.3  # the default weights keep lm-eval's shapes a small share
    assert "prompt template verbatim" in art.manifest["summary"]["title"]
    assert (art.path / "DATACARD.md").read_text().count("CC-BY-SA-4.0") >= 2


def test_answer_only_documents_have_no_explanations(tmp_path):
    def explained(r):
        wrong = [c for i, c in enumerate(r.get("choices") or []) if i != r.get("answer_index")]
        return {**r, "enrichment": {"knowledge": f"Background fact number {r['id']}.",
                                    "reasoning": f"Step by step for {r['id']}.",
                                    "distractors": {c: f"Not {c} because of {r['id']}." for c in wrong}}}  # fmt: skip

    records = [explained(r) for r in EXAMPLES]
    filt = make_artifact(tmp_path / "given", "filter", records, primary="kept")
    with_all = run_render(_cfg(tmp_path), {"filter": Artifact.load(filt)}).read_records()
    assert any("Background fact number" in d["text"] for d in with_all)
    s = _cfg(tmp_path, "render.parts={knowledge:0,reasoning:0,distractors:0}")
    docs = run_render(s, {"filter": Artifact.load(filt)}).read_records()
    assert {d["format"].rsplit("/", 1)[1] for d in docs} == {"answer-only"}
    for marker in ("Background fact number", "Step by step for", "Why the other options are wrong"):
        assert not any(marker in d["text"] for d in docs)
    assert len(Counter(d["format"].split("/")[0] for d in docs)) > 3  # the other axes still vary
