"""`taskseed train`: continued pretraining on the mix; the artifact is a Hugging Face checkpoint.

Output: `model/` (config, safetensors weights, tokenizer: loadable by lm-eval's `hf` backend and by vLLM),
`train_log.jsonl` (one line per optimizer step: loss, learning rate, gradient norm, tokens, tokens/s, peak
memory), `samples/rank{r}.jsonl` (the blend indices each rank trained on, step by step). The work folder
keeps checkpoints while training runs, so a killed run resumes from the last one at the same data position.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, write_json_atomic
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.hardware import resolve_dtype
from taskseed.core.models import ensure_model, model_digest, trained_model_config
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.mix.stage import blend_of
from taskseed.training import automodel
from taskseed.training.config import TrainConfig
from taskseed.training.plots import loss_curve
from taskseed.training.process import free_port, launch

log = logging.getLogger(__name__)

STAGE = "train"
VERSION = "1"
LOG = "train_log.jsonl"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "generation_config.json", "vocab.json", "merges.txt", "tokenizer.model")  # fmt: skip


def check(cfg: dict[str, Any]) -> None:
    tc: TrainConfig = section(cfg, "train")
    trained_model_config(cfg)
    if tc.trainer == "automodel":
        automodel.check_environment(tc)


def plan_steps(tc: TrainConfig, num_samples: int) -> int:
    available = num_samples // tc.global_batch_size
    if available < 1:
        raise TaskseedError(
            f"the mix holds {num_samples} samples, fewer than one global batch (train.global_batch_size="
            f"{tc.global_batch_size}); raise mix.token_budget or lower the batch size"
        )
    if tc.max_steps is not None and tc.max_steps > available:
        raise TaskseedError(
            f"train.max_steps={tc.max_steps} needs {tc.max_steps * tc.global_batch_size} samples but the mix holds "
            f"{num_samples}; raise mix.token_budget or set train.max_steps<={available}"
        )
    return tc.max_steps or available


def train_spec(cfg: dict[str, Any], mix: Artifact, model_dir: Path) -> StageSpec:
    tc: TrainConfig = section(cfg, "train")
    config = dataclasses.asdict(tc)
    for key in ("log_every", "threads", "keep_checkpoints", "model"):
        config.pop(key)
    if tc.trainer == "cpu":
        config.pop("automodel")
    else:
        config["automodel"] = {"recipe": automodel.recipe_digest(tc), "overrides": tc.automodel.overrides}
    config["dtype"] = resolve_dtype(tc.dtype, "cuda" if tc.trainer == "automodel" else "cpu")
    config["steps"] = plan_steps(tc, json.loads((mix.path / "mixture.json").read_text())["num_samples"])
    config["base_model"] = {"name": trained_model_config(cfg).get("name"), "digest": model_digest(model_dir)}
    return StageSpec(STAGE, VERSION, config, inputs={"mix": mix}, resumable=True)


def run_train(session: Session, upstream: dict[str, Artifact]) -> Artifact:
    cfg = session.cfg
    check(cfg)
    mix = upstream["mix"]
    model_dir = ensure_model(trained_model_config(cfg), Path(cfg["paths"]["cache"]))
    spec = train_spec(cfg, mix, model_dir)
    return session.run(spec, lambda ctx: build_train(ctx, mix, model_dir))


def build_train(ctx: StageContext, mix: Artifact, model_dir: Path) -> None:
    tc: TrainConfig = section(ctx.cfg, "train")
    steps, dtype = ctx.spec.config["steps"], ctx.spec.config["dtype"]
    with ctx.timed("train"):
        if tc.trainer == "cpu":
            run_cpu_trainer(ctx.workdir, tc, mix, model_dir, steps, dtype)
        else:
            automodel.run(ctx.workdir, tc, mix, model_dir, steps, ctx.cfg, ctx.fingerprint)
    with ctx.timed("export"):
        export_model(ctx.workdir, model_dir)
    records = [json.loads(line) for line in (ctx.workdir / LOG).read_text().splitlines() if line]
    finish(ctx, records, steps, tc)


def run_cpu_trainer(
    out: Path, tc: TrainConfig, mix: Artifact, model_dir: Path, steps: int, dtype: str
) -> None:
    """torchrun (gloo) with `tc.nproc` workers of taskseed.training.cpu; resumes from `out`'s checkpoints."""
    if (out / "model.partial" / "config.json").is_file():
        return  # trained and saved before a kill during export
    blend = blend_of(mix)
    plan = {
        "out": str(out), "model": str(model_dir), "steps": steps, "dtype": dtype,
        "threads": tc.threads or max(1, (os.cpu_count() or 1) // tc.nproc), "grad_accum": tc.grad_accum,
        "train": dataclasses.asdict(tc),
        "blend": {"prefixes": list(blend.prefixes), "weights": list(blend.weights), "seq_length": blend.seq_length,
                  "num_samples": blend.num_samples, "seed": blend.seed, "tokenizer": dataclasses.asdict(blend.tokenizer)},
    }  # fmt: skip
    write_json_atomic(out / "plan.json", plan)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={tc.nproc}",
           "--master-addr=127.0.0.1", f"--master-port={free_port()}", "-m", "taskseed.training.cpu", str(out / "plan.json")]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(plan["threads"]), "TOKENIZERS_PARALLELISM": "false"}
    log.info("training %d steps on %d CPU process(es): %s", steps, tc.nproc, " ".join(cmd[2:]))
    launch(cmd, env, out / "trainer.log")


def export_model(out: Path, base_model: Path) -> None:
    """`model/`: the trained weights in Hugging Face format with the base model's tokenizer files."""
    staged = out / "model.partial"
    if not (staged / "config.json").is_file():
        raise TaskseedError(f"the trainer left no model in {staged}; see {out / 'trainer.log'}")
    for name in TOKENIZER_FILES:
        if (base_model / name).is_file():
            shutil.copy2(base_model / name, staged / name)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # the final weights are the artifact
    os.replace(staged, out / "model")


def finish(ctx: StageContext, records: list[dict[str, Any]], steps: int, tc: TrainConfig) -> None:
    if len(records) != steps or [r["step"] for r in records] != list(range(1, steps + 1)):
        raise TaskseedError(f"the training log has {len(records)} of {steps} steps; re-run to resume")
    loss_curve(
        records, ctx.workdir / "loss.png", f"continued pretraining: {tc.trainer} trainer, {steps} steps"
    )
    ctx.tracked_files += [LOG, "loss.png"]
    ctx.counts["steps"] = steps
    first, last = records[0], records[-1]
    window = max(1, min(10, steps // 4))
    start_loss = sum(r["loss"] for r in records[:window]) / window
    end_loss = sum(r["loss"] for r in records[-window:]) / window
    speed = sorted(r["tokens_per_s"] or 0 for r in records)[len(records) // 2]
    memory = max((r.get("peak_rss_mb") or r.get("peak_gpu_mem_mb") or 0) for r in records)
    ctx.series = {
        "file": LOG,
        "keys": ["loss", "lr", "grad_norm", "tokens_per_s", "peak_rss_mb", "peak_gpu_mem_mb"],
    }
    ctx.stats.update({"steps": steps, "tokens": last["tokens"], "loss_first": first["loss"], "loss_last": last["loss"],
                      "loss_start_mean": start_loss, "loss_end_mean": end_loss, "median_tokens_per_s": speed,
                      "peak_memory_mb": memory, "trainer": tc.trainer, "nproc": tc.nproc})  # fmt: skip
    ctx.metrics.update({"train.loss_first": first["loss"], "train.loss_last": last["loss"], "train.tokens": last["tokens"],
                        "train.median_tokens_per_s": speed, "train.peak_memory_mb": memory})  # fmt: skip
    rows = [["steps", steps], ["tokens", last["tokens"]], [f"loss, mean of first {window} steps", round(start_loss, 4)],
            [f"loss, mean of last {window} steps", round(end_loss, 4)], ["median tokens/s", speed],
            ["peak memory, MB (CPU: RSS of rank 0; GPU: allocated)", memory]]  # fmt: skip
    ctx.summary = summary_table(f"train ({tc.trainer}, {tc.nproc} process(es))", ["", "value"], rows)
