"""The CPU reference trainer (tiny Llama, torchrun + gloo): loss goes down, the checkpoint loads in lm-eval,
two ranks read disjoint samples and match one process, and a killed run resumes where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskseed.core.artifacts import Artifact
from taskseed.training.stage import run_train

from .conftest import ROOT, cli_env, session_for

TINY = [
    "train.model=tiny_llama",
    "mix.replay.max_documents=200",
    "mix.seq_length=64",
    "mix.allow_repeat=true",
]


def _log(artifact: Artifact) -> list[dict]:
    return [json.loads(line) for line in (artifact.path / "train_log.jsonl").read_text().splitlines()]


def _samples(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_loss_goes_down_and_the_checkpoint_loads_in_lm_eval(small_mix):
    outputs, mix = small_mix
    session = session_for(outputs, *TINY, "mix.token_budget=25600", "train.optim.lr=3e-3", "train.optim.warmup_steps=2",
                          "train.global_batch_size=8", "train.micro_batch_size=4", "train.save_every=20")  # fmt: skip
    art = run_train(session, {"mix": mix})
    log = _log(art)
    assert [r["step"] for r in log] == list(range(1, 51))  # 25600 tokens / (8 x 64)
    first, last = sum(r["loss"] for r in log[:5]) / 5, sum(r["loss"] for r in log[-5:]) / 5
    assert last < first - 1.0, (first, last)
    assert log[-1]["tokens"] == 50 * 8 * 64 and all(
        r["tokens_per_s"] > 0 and r["peak_rss_mb"] > 0 for r in log
    )
    assert [r["lr"] for r in log[:2]] == pytest.approx([1.5e-3, 3e-3]) and log[-1][
        "lr"
    ] < 4e-4  # warmup, cosine
    assert not (art.path / "checkpoints").exists()  # the final weights are the artifact
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(art.path / "model"), device="cpu", batch_size=1)
    ((logprob, _),) = lm.loglikelihood(
        [Instance("loglikelihood", {}, ("The capital of France is", " Paris"), 0)]
    )
    assert -60 < logprob < 0


def test_two_ranks_read_disjoint_samples_and_match_one_process(small_mix):
    outputs, mix = small_mix
    common = [*TINY, "mix.token_budget=25600", "train.optim.lr=3e-3", "train.dtype=float32", "train.max_steps=6",
              "train.global_batch_size=8", "train.micro_batch_size=2", "train.threads=1"]  # fmt: skip
    one = run_train(session_for(outputs, *common, "train.nproc=1"), {"mix": mix})
    two = run_train(session_for(outputs, *common, "train.nproc=2"), {"mix": mix})
    assert one.path != two.path
    rank0, rank1 = (
        _samples(two.path / "samples" / "rank0.jsonl"),
        _samples(two.path / "samples" / "rank1.jsonl"),
    )
    single = _samples(one.path / "samples" / "rank0.jsonl")
    for a, b, s in zip(rank0, rank1, single, strict=True):
        assert not set(a["indices"]) & set(b["indices"])
        assert sorted(a["indices"] + b["indices"]) == sorted(s["indices"])  # together: the same global batch
    for r1, r2 in zip(_log(one), _log(two), strict=True):
        assert r2["loss"] == pytest.approx(r1["loss"], rel=2e-4)
        assert r2["grad_norm"] == pytest.approx(r1["grad_norm"], rel=2e-3)


def test_sigkill_mid_run_then_resume_continues_where_it_stopped(small_mix, tmp_path):
    """The whole `taskseed train` process group is SIGKILLed after a checkpoint; the re-run resumes from it,
    recomputes the steps after it identically, and every sample of the run is trained on exactly once."""
    outputs, mix = small_mix
    overrides = [*TINY, "mix.token_budget=25600", "train.save_every=5", "train.global_batch_size=8",
                 "train.micro_batch_size=4", "train.optim.lr=3e-3", "tracking.enabled=false", "progress=false"]  # fmt: skip
    driver = tmp_path / "train.py"  # the train stage on the module's mix (its upstream is built in-process)
    driver.write_text(
        "import sys\nfrom taskseed.core.artifacts import Artifact\nfrom taskseed.training.stage import run_train\n"
        "from tests.conftest import session_for\n"
        f"art = run_train(session_for({str(outputs)!r}, *sys.argv[1:]), {{'mix': Artifact.load({str(mix.path)!r})}})\n"
        "print('artifact:', art.path)\n"
    )
    cmd = [sys.executable, str(driver), *overrides]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**cli_env(), "PYTHONPATH": str(ROOT)}, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    workdirs = outputs / "artifacts" / "train"
    deadline, before = time.time() + 300, []
    while time.time() < deadline and proc.poll() is None:
        partial = [p for p in workdirs.glob(".*.partial")] if workdirs.exists() else []
        if partial and list((partial[0] / "checkpoints").glob("step_*")):
            log = partial[0] / "train_log.jsonl"
            before = log.read_text().splitlines() if log.exists() else []
            if len(before) >= 13:  # past the step-10 checkpoint, mid-way to the next
                os.killpg(proc.pid, signal.SIGKILL)
                break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read()[-3000:]
    time.sleep(1)  # the workers notice their launcher is gone and stop
    partial = next(workdirs.glob(".*.partial"))
    checkpoint = max(int(p.name.split("_")[1]) for p in (partial / "checkpoints").glob("step_*"))
    assert checkpoint in (10, 15) and len(before) > checkpoint

    resumed = subprocess.run(
        cmd, cwd=ROOT, env={**cli_env(), "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    art = Artifact.load(resumed.stdout.strip().splitlines()[-1].split("artifact: ")[1])
    assert (
        f"resuming from step_{checkpoint:08d}: step {checkpoint}, data position {checkpoint * 8}"
        in (art.path / "trainer.log").read_text()
    )
    log = _log(art)
    assert [r["step"] for r in log] == list(range(1, 51))  # nothing lost, nothing twice
    for old, new in zip([json.loads(line) for line in before], log, strict=False):
        assert new["loss"] == pytest.approx(old["loss"], abs=1e-6), new["step"]  # same state, same samples
    seen = [i for r in _samples(art.path / "samples" / "rank0.jsonl") for i in r["indices"]]
    assert seen == list(range(50 * 8))  # every sample of the run once, in order
