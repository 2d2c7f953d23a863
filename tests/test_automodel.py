"""NeMo AutoModel: the recipe rendered from train/automodel/pretrain.yaml for a real mix, checked by
AutoModel's own loader in its own environment (`make train-env`), datasets built from the mix's prefixes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from taskseed.core.models import ensure_model, trained_model_config
from taskseed.core.schema import section
from taskseed.training.automodel import VALIDATOR, render_recipe

from .conftest import ROOT, TINY, session_for

AUTOMODEL_PYTHON = ROOT / "train" / ".venv-automodel" / "bin" / "python"


def _recipe(outputs: Path, mix, *overrides: str) -> dict:
    session = session_for(outputs, *TINY, "train.trainer=automodel", "train.global_batch_size=8",
                          "train.micro_batch_size=2", "train.save_every=5", "tracking.enabled=true", *overrides)  # fmt: skip
    tc = section(session.cfg, "train")
    model = ensure_model(trained_model_config(session.cfg), Path(session.cfg["paths"]["cache"]))
    return render_recipe(tc, mix, model, 12, outputs / "work", section(session.cfg, "tracking"), "abc123")


def test_the_recipe_carries_the_mix_and_the_train_section(small_mix):
    outputs, mix = small_mix
    recipe = _recipe(outputs, mix, 'train.automodel.overrides=["distributed.tp_size=2"]')
    mixture = json.loads((mix.path / "mixture.json").read_text())
    assert recipe["dataset"]["paths"] == [f"{mixture['data_paths'][0]:g}", mixture["data_paths"][1],
                                          f"{mixture['data_paths'][2]:g}", mixture["data_paths"][3]]  # fmt: skip
    assert recipe["dataset"]["seq_length"] == 64 and recipe["dataset"]["seed"] == mixture["seed"]
    steps = recipe["step_scheduler"]
    assert (
        steps["max_steps"],
        steps["global_batch_size"],
        steps["local_batch_size"],
        steps["ckpt_every_steps"],
    ) == (12, 8, 2, 5)
    assert recipe["lr_scheduler"]["min_lr"] == pytest.approx(1e-5) and recipe["optimizer"][
        "lr"
    ] == pytest.approx(1e-4)
    assert recipe["checkpoint"]["checkpoint_dir"] == str(outputs / "work" / "checkpoints")
    assert (
        recipe["checkpoint"]["save_consolidated"] == "final"
        and recipe["checkpoint"]["model_save_format"] == "safetensors"
    )
    assert (
        recipe["mlflow"]["tracking_uri"].startswith("sqlite:///")
        and recipe["mlflow"]["tags"]["fingerprint"] == "abc123"
    )
    assert recipe["distributed"]["tp_size"] == 2  # an override, parsed as YAML
    assert "restore_from" not in recipe["checkpoint"]  # nothing to resume yet


@pytest.mark.slow
def test_automodel_loads_the_recipe_and_builds_its_datasets(small_mix, tmp_path):
    if not AUTOMODEL_PYTHON.is_file():
        if os.environ.get("TASKSEED_REQUIRE_AUTOMODEL") == "1":
            pytest.fail(f"{AUTOMODEL_PYTHON} is missing; CI builds it with `make train-env`")
        pytest.skip("NeMo AutoModel's environment is not built (make train-env)")
    outputs, mix = small_mix
    good = tmp_path / "recipe.yaml"
    good.write_text(yaml.safe_dump(_recipe(outputs, mix)))
    proc = subprocess.run([str(AUTOMODEL_PYTHON), str(VALIDATOR), str(good), "--build-datasets"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and not report["failed"], report
    batch = next(step["dataset"] for step in report["passed"] if isinstance(step, dict) and "dataset" in step)
    assert batch["input_ids"] == [
        2,
        64,
    ]  # local batch x mix.seq_length, read from the mix's Megatron prefixes
    # The loader is strict: a key AutoModel does not know fails, so the pass above means something.
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_recipe(outputs, mix, 'train.automodel.overrides=["dataset.seq_len=64"]')))
    proc = subprocess.run(
        [str(AUTOMODEL_PYTHON), str(VALIDATOR), str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 1 and "seq_len" in json.dumps(report["failed"])
