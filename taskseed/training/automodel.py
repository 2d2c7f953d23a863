"""The GPU trainer: NeMo AutoModel, in its own environment, reading the same Megatron blend.

nemo-automodel pins a different transformers than the harness, so it runs from its own interpreter
(`train.automodel.python`, made by `make train-env-gpu`): the stage renders AutoModel's YAML recipe from the
template in train/automodel/ (data paths, batch sizes, steps, checkpointing, MLflow), launches
`torchrun -m nemo_automodel.recipes.llm.train_ft --config recipe.yaml`, converts AutoModel's per-step log to
ours and stages its consolidated Hugging Face checkpoint as the artifact's model. AutoModel resumes from its
own checkpoints in the work folder (`checkpoint.restore_from: LATEST`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from taskseed.core.artifacts import Artifact, file_digest
from taskseed.core.errors import TaskseedError
from taskseed.core.schema import section
from taskseed.core.settings import TrackingConfig
from taskseed.training.config import TrainConfig
from taskseed.training.process import launch

VALIDATOR = Path(__file__).resolve().parents[2] / "train" / "automodel" / "validate.py"


def check_environment(tc: TrainConfig) -> None:
    python = Path(tc.automodel.python)
    if not python.is_file():
        raise TaskseedError(
            f"NeMo AutoModel's environment is not at {python}; run `make train-env-gpu` on the GPU machine "
            "or set train.automodel.python to an interpreter with nemo-automodel installed"
        )
    if not Path(tc.automodel.recipe).is_file():
        raise TaskseedError(
            f"train.automodel.recipe={tc.automodel.recipe} does not exist; point it at a recipe template"
        )


def recipe_digest(tc: TrainConfig) -> str:
    return file_digest(Path(tc.automodel.recipe))[:16]


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    node = tree
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def render_recipe(tc: TrainConfig, mix: Artifact, model_dir: Path, steps: int, workdir: Path,
                  tracking: TrackingConfig, fingerprint: str) -> dict[str, Any]:  # fmt: skip
    """AutoModel's recipe for this run: the template with the mix, the model and the train section filled in."""
    recipe = yaml.safe_load(Path(tc.automodel.recipe).read_text())
    mixture = json.loads((mix.path / "mixture.json").read_text())
    paths: list[str] = []
    for weight, prefix in zip(mixture["data_paths"][::2], mixture["data_paths"][1::2], strict=True):
        paths += [f"{weight:g}", prefix]
    o = tc.optim
    values = {
        "seed": tc.seed,
        "step_scheduler.global_batch_size": tc.global_batch_size,
        "step_scheduler.local_batch_size": tc.micro_batch_size,
        "step_scheduler.max_steps": steps,
        "step_scheduler.ckpt_every_steps": tc.save_every,
        "model.pretrained_model_name_or_path": str(model_dir),
        "clip_grad_norm.max_norm": o.grad_clip or 1e9,
        "dataset.paths": paths,
        "dataset.index_mapping_dir": str(workdir / "index_mapping"),
        "dataset.tokenizer.pretrained_model_name_or_path": str(model_dir),
        "dataset.seq_length": mixture["seq_length"],
        "dataset.seed": mixture["seed"],
        "optimizer.lr": o.lr,
        "optimizer.betas": [o.beta1, o.beta2],
        "optimizer.eps": o.eps,
        "optimizer.weight_decay": o.weight_decay,
        "lr_scheduler.lr_warmup_steps": o.warmup_steps,
        "lr_scheduler.min_lr": o.lr * o.min_lr_ratio,
        "checkpoint.checkpoint_dir": str(workdir / "checkpoints"),
        "checkpoint.max_recent_checkpoints": tc.keep_checkpoints,
    }
    if tracking.enabled:
        values.update({"mlflow.experiment_name": tracking.experiment,
                       "mlflow.run_name": f"train-automodel-{fingerprint}",
                       "mlflow.tracking_uri": tracking.uri,
                       "mlflow.tags": {"taskseed.stage": "train", "fingerprint": fingerprint}})  # fmt: skip
    else:
        recipe.pop("mlflow", None)
    if (workdir / "checkpoints" / "LATEST").exists():
        values["checkpoint.restore_from"] = "LATEST"  # resume a killed run
    for key, value in values.items():
        set_dotted(recipe, key, value)
    for item in tc.automodel.overrides:
        key, value = item.split("=", 1)
        set_dotted(recipe, key.strip(), yaml.safe_load(value))
    return recipe


def run(workdir: Path, tc: TrainConfig, mix: Artifact, model_dir: Path, steps: int, cfg: dict[str, Any],
        fingerprint: str) -> None:  # fmt: skip
    check_environment(tc)
    recipe = render_recipe(tc, mix, model_dir, steps, workdir, section(cfg, "tracking"), fingerprint)
    (workdir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    cmd = [tc.automodel.python, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={tc.nproc}",
           "-m", "nemo_automodel.recipes.llm.train_ft", "--config", str(workdir / "recipe.yaml")]  # fmt: skip
    launch(cmd, dict(os.environ), workdir / "trainer.log")
    convert_log(workdir / "checkpoints" / "training.jsonl", workdir / "train_log.jsonl", tc, recipe)
    consolidated = workdir / "checkpoints" / "LATEST" / "model" / "consolidated"
    if not (consolidated / "config.json").is_file():
        raise TaskseedError(
            f"AutoModel wrote no consolidated checkpoint at {consolidated}; see {workdir / 'trainer.log'}"
        )
    shutil.rmtree(workdir / "model.partial", ignore_errors=True)
    shutil.copytree(consolidated, workdir / "model.partial")


def convert_log(source: Path, target: Path, tc: TrainConfig, recipe: dict[str, Any]) -> None:
    """AutoModel's training.jsonl (step from 0, mem in GiB, tps) as our train_log.jsonl."""
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    offset = 1 if rows and rows[0]["step"] == 0 else 0
    seq = recipe["dataset"]["seq_length"]
    with open(target, "w") as fh:
        for r in rows:
            step = int(r["step"]) + offset
            fh.write(json.dumps({
                "step": step, "loss": r["loss"], "lr": r["lr"], "grad_norm": r.get("grad_norm"),
                "tokens": step * tc.global_batch_size * seq, "samples_consumed": step * tc.global_batch_size,
                "tokens_per_s": r.get("tps"), "peak_rss_mb": None, "peak_gpu_mem_mb": r.get("mem", 0) * 1024,
            }) + "\n")  # fmt: skip
