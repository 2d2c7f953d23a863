"""Typed configuration: one bad setting at a time, as a new user would try it, on a fresh outputs folder.

Each is refused by the real CLI before any stage runs: exit code 2, one `error:` line naming the key, no
traceback, nothing written under paths.outputs, within seconds (the check must not compute the catalog).
"""

from __future__ import annotations

import time

import pytest

from .conftest import error_line, taskseed

SECONDS = 5.0

# (command, overrides, the key the error line must name)
BAD = [
    # catalog and data
    ("catalog", ["catalog.families=/no/such/families.yaml"], "catalog.families"),
    ("catalog", ["catalog.include_paths=[/no/such/folder]"], "catalog.include_paths"),
    ("catalog", ["catalog.variants=5"], "catalog.variants"),
    ("catalog", ["data.hub=maybe"], "data.hub"),
    ("catalog", ["data.mirror=/no/such/mirror"], "data.mirror"),
    # seeds: types, ranges, empty lists, unknown keys, task names
    ("seeds", ["seeds.tasks=[]"], "seeds.tasks"),
    ("seeds", ["seeds.tasks=42"], "seeds.tasks"),
    ("seeds", ["seeds.tasks=[arc_easy,arc_easy]"], "seeds.tasks"),
    ("seeds", ["seeds.tasks=[no_such_task]"], "seeds.tasks"),
    ("seeds", ["seeds.tasks=[mmlu_pro]"], "seeds.tasks"),
    ("seeds", ["seeds.taks=[copa]"], "seeds.taks"),
    ("seeds", ["seeds.license_policy=whatever"], "seeds.license_policy"),
    ("seeds", ["seeds.max_rows_per_task=0"], "seeds.max_rows_per_task"),
    ("seeds", ["seeds.row_firewall.min_words=0"], "seeds.row_firewall.min_words"),
    ("seeds", ["seeds.one_task_per_dataset=maybe"], "seeds.one_task_per_dataset"),
    # generate
    ("generate", ["generate.num_examples=-5"], "generate.num_examples"),
    ("generate", ["generate.num_examples=abc"], "generate.num_examples"),
    ("generate", ["generate.seed=xyz"], "generate.seed"),
    ("generate", ["generate.few_shot=-1"], "generate.few_shot"),
    ("generate", ["generate.max_attempts=0"], "generate.max_attempts"),
    ("generate", ["generate.backend=gpt5"], "generate.backend"),
    ("generate", ["model.source=onnx"], "model.source"),
    ("generate", ["model=tiny_llama", "model.num_attention_heads=3"], "model.num_attention_heads"),
    ("generate", ["+model.hiden_size=32"], "model.hiden_size"),
    ("generate", ["generate.kinds=[]"], "generate.kinds"),
    ("generate", ["generate.kinds=[mc,essay]"], "generate.kinds"),
    ("generate", ["generate.group_temperature=-1"], "generate.group_temperature"),
    ("generate", ["generate.sampling.temperature=-0.1"], "generate.sampling.temperature"),
    ("generate", ["generate.sampling.top_p=0"], "generate.sampling.top_p"),
    ("generate", ["generate.sampling.max_new_tokens=0"], "generate.sampling.max_new_tokens"),
    ("generate", ["generate.sampling_by_kind.code.seed=9"], "generate.sampling_by_kind.code.seed"),
    ("generate", ["generate.transformers.dtype=fp8"], "generate.transformers.dtype"),
    ("generate", ["generate.transformers.batch_size=0"], "generate.transformers.batch_size"),
    ("generate", ["generate.backend=openai", "generate.openai.base_url=localhost:8000"], "generate.openai.base_url"),
    ("generate", ["generate.tasks=[]"], "generate.tasks"),
    ("generate", ["seeds.tasks=[arc_easy]", "generate.tasks=[copa]"], "generate.tasks"),
    # enrich
    ("enrich", ["enrich.max_attempts=0"], "enrich.max_attempts"),
    ("enrich", ["enrich.sampling.temperature=-1"], "enrich.sampling.temperature"),
    ("enrich", ["enrich.backend=claude"], "enrich.backend"),
    ("enrich", ["enrich.shard_size=0"], "enrich.shard_size"),
    # filter: every check's section, enums and contradictory pairs
    ("filter", ["filter.checks=[format,spelling]"], "filter.checks"),
    ("filter", ["filter.checks=[format,format]"], "filter.checks"),
    ("filter", ["filter.format.min_question_words=0"], "filter.format.min_question_words"),
    ("filter", ["filter.quality.min_score=1.5"], "filter.quality.min_score"),
    ("filter", ["filter.quality.judge.min_score=9"], "filter.quality.judge.min_score"),
    ("filter", ["filter.dedup.ngram=0"], "filter.dedup.ngram"),
    ("filter", ["filter.dedup.threshold=0"], "filter.dedup.threshold"),
    ("filter", ["filter.decontam.ngram=0"], "filter.decontam.ngram"),
    ("filter", ["filter.decontam.suites=[astrology]"], "filter.decontam.suites"),
    ("filter", ["filter.decontam.embedding.threshold=1.2"], "filter.decontam.embedding.threshold"),
    ("filter", ["filter.decontam.embedding.candidate_threshold=0.99"], "filter.decontam.embedding.candidate_threshold"),
    ("filter", ["filter.decontam.embedding.top_k=0"], "filter.decontam.embedding.top_k"),
    ("filter", ["filter.decontam.embedding.dtype=int8"], "filter.decontam.embedding.dtype"),
    ("filter", ["filter.decontam.judge.enabled=true", "filter.decontam.embedding.confirm=false"], "filter.decontam.judge.enabled"),
    ("filter", ["filter.decontam.find_query_ngrams=false", "filter.decontam.find_overlap_ngrams=false",
                "filter.decontam.embedding.enabled=false"], "filter.decontam.embedding.enabled"),
    ("filter", ["filter.verify.k=0"], "filter.verify.k"),
    ("filter", ["filter.verify.min_agreement=1.5"], "filter.verify.min_agreement"),
    ("filter", ["filter.verify.sandbox.wall_s=0"], "filter.verify.sandbox.wall_s"),
    ("filter", ["filter.verify.backend=gpt5"], "filter.verify.backend"),
    # render, mix, train, eval
    ("render", ["render.parts.knowledge=1.5"], "render.parts.knowledge"),
    ("render", ["render.shard_rows=0"], "render.shard_rows"),
    ("mix", ["mix.token_budget=abc"], "mix.token_budget"),
    ("mix", ["mix.seq_length=4"], "mix.seq_length"),
    ("mix", ["mix.weights.seeds=0.5"], "mix.weights.seeds"),
    ("train", ["train.trainer=megatron"], "train.trainer"),
    ("train", ["train.global_batch_size=6", "train.micro_batch_size=4"], "train.global_batch_size"),
    ("train", ["train.optim.lr=0"], "train.optim.lr"),
    ("eval", ["eval.target=base", "eval.variant=huge"], "eval.variant"),
    ("eval", ["eval.target=base", "eval.backend=local-completions"], "eval.base_url"),
    ("eval", ["eval.target=base", "eval.tasks=[no_such_task]"], "eval.tasks"),
    ("eval", ["eval.target=base", "eval.score=[astrology]"], "eval.score"),
    ("eval", ["eval.target=base", "eval.bootstrap.confidence=1.5"], "eval.bootstrap.confidence"),
    # paths, tracking, the pipeline
    ("seeds", ["tracking.uri=mysql://db/x"], "tracking.uri"),
    ("seeds", ["tracking.wandb.mode=sometimes"], "tracking.wandb.mode"),
    ("run", ["pipeline.stages=[seeds,bake]"], "pipeline.stages"),
]  # fmt: skip


def test_the_table_covers_every_stage():
    assert len(BAD) >= 40
    assert {"catalog", "seeds", "generate", "enrich", "filter", "render", "mix", "train", "eval"} <= {
        c for c, _, _ in BAD
    }


@pytest.mark.parametrize(("command", "overrides", "key"), BAD, ids=[" ".join(o) for _, o, _ in BAD])
def test_a_bad_setting_is_one_line_before_anything_runs(tmp_path, command, overrides, key):
    outputs = tmp_path / "outputs"
    start = time.perf_counter()
    proc = taskseed(command, *overrides, outputs=outputs, timeout=60)
    seconds = time.perf_counter() - start
    line = error_line(proc)  # exit code 2, exactly one `error:` line, no traceback
    assert key in line, line
    assert not outputs.exists() or not any(outputs.iterdir()), sorted(outputs.rglob("*"))
    assert seconds < SECONDS, f"{seconds:.1f}s: {line}"


def test_config_prints_every_default_of_the_typed_sections(tmp_path):
    proc = taskseed("config", "generate", "generate.num_examples=5", outputs=tmp_path / "outputs", timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import yaml

    cfg = yaml.safe_load(proc.stdout)
    assert cfg["generate"]["num_examples"] == 5
    assert cfg["filter"]["dedup"]["seed"] == 1 and cfg["filter"]["verify"]["sandbox"]["wall_s"] == 10.0
    assert cfg["enrich"]["transformers"] == cfg["generate"]["transformers"]  # enrich follows generate
    assert not (tmp_path / "outputs").exists()


def test_config_refuses_what_the_command_would_refuse(tmp_path):
    line = error_line(taskseed("config", "seeds", "seeds.tasks=[]", outputs=tmp_path / "outputs", timeout=60))
    assert "seeds.tasks" in line and "empty" in line and "license_policy" not in line
