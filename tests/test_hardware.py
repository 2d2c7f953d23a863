"""`dtype: auto`: bfloat16 only where the hardware computes it natively, and the resolved dtype is what the
fingerprints, the LLM call cache keys and the manifests record."""

from __future__ import annotations

import pytest

from taskseed.core.hardware import resolve_dtype


@pytest.mark.parametrize(("native", "expected"), [("1", "bfloat16"), ("0", "float32")])
def test_auto_follows_the_cpus_native_bf16(monkeypatch, native, expected):
    monkeypatch.setenv("TASKSEED_CPU_BF16", native)
    assert resolve_dtype("auto") == expected
    assert resolve_dtype("auto", "cuda:0") == "bfloat16"  # a GPU computes bf16
    assert resolve_dtype("float32") == "float32" and resolve_dtype("bfloat16") == "bfloat16"  # explicit wins


@pytest.mark.parametrize(("native", "expected"), [("1", "bfloat16"), ("0", "float32")])
def test_model_stages_key_their_work_by_the_resolved_dtype(monkeypatch, tmp_path, native, expected):
    from taskseed.core.artifacts import Artifact
    from taskseed.core.config import compose, to_dict
    from taskseed.core.schema import section
    from taskseed.filter.base import CheckInputs
    from taskseed.filter.decontam import DecontamCheck
    from taskseed.filter.embed import Embedder
    from taskseed.llm import make_backend

    monkeypatch.setenv("TASKSEED_CPU_BF16", native)
    cfg = to_dict(compose([f"paths.outputs={tmp_path}", "model=tiny_llama"]))
    assert cfg["generate"]["transformers"]["dtype"] == "auto"
    assert cfg["filter"]["decontam"]["embedding"]["dtype"] == "auto"
    evalset = Artifact(
        tmp_path / "evalset" / "0123456789abcdef", {"stage": "evalset", "fingerprint": "0123456789abcdef"}
    )
    check = DecontamCheck(section(cfg, "filter").decontam, CheckInputs(evalset))
    assert check.settings()["embedding_dtype"] == expected  # the filter's fingerprint and manifest
    assert Embedder().describe()["dtype"] == expected
    backend = make_backend(section(cfg, "generate"), cfg["model"], tmp_path / "cache")
    assert backend.model_id.endswith(f":{expected}")  # the generate/enrich fingerprints and LLM cache keys
