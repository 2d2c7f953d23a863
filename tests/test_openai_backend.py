"""The `openai` backend against a real OpenAI-compatible server started here: `transformers serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from taskseed.core.artifacts import Artifact
from taskseed.core.config import compose, to_dict
from taskseed.core.models import ensure_model
from taskseed.llm import ChatRequest, Sampling
from taskseed.llm.openai import OpenAIBackend

from .conftest import artifact_of, taskseed

SECRET = "sk-taskseed-test-secret-0451"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(outputs):
    """`transformers serve` on 127.0.0.1 with the tiny random Llama (its knowledge is not needed)."""
    model = ensure_model(to_dict(compose(["model=tiny_llama"]))["model"], outputs / "cache")
    port = _free_port()
    serve = Path(sys.executable).with_name("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(outputs / "hf_hub")}
    proc = subprocess.Popen([str(serve), "serve", str(model), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--dtype", "float32"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"transformers serve exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("transformers serve did not come up within 180 s")
    yield {"base_url": base, "model": str(model)}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_chat_completions_come_back_in_order(server):
    backend = OpenAIBackend(server["base_url"], server["model"], concurrency=3, timeout_s=120)
    requests = [
        ChatRequest.of([{"role": "user", "content": f"Count to {i}."}], Sampling(0.0, 1.0, 12, 0))
        for i in range(5)
    ]
    completions = backend.generate(requests)
    assert len(completions) == 5
    for completion in completions:
        assert completion.finish_reason in ("stop", "length") and completion.error is None
        assert completion.completion_tokens > 0 and completion.prompt_tokens > 0
    again = backend.generate(requests[:1])  # greedy: the same text again
    assert again[0].text == completions[0].text


def test_transport_failures_are_retried_then_reported(tmp_path):
    port = _free_port()  # nothing listens here
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "any", max_retries=2, backoff_s=0.01, timeout_s=2)
    start = time.perf_counter()
    [completion] = backend.generate([ChatRequest.of([{"role": "user", "content": "hi"}], Sampling())])
    assert completion.finish_reason == "error" and completion.error.startswith("transport")
    assert time.perf_counter() - start < 10


def test_the_api_key_is_sent_but_never_shown(monkeypatch):
    monkeypatch.setenv("TASKSEED_TEST_KEY", SECRET)
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "m", api_key_env="TASKSEED_TEST_KEY", max_retries=0)
    assert backend._headers() == {"Authorization": f"Bearer {SECRET}"}
    assert SECRET not in repr(backend) and SECRET not in json.dumps(backend.describe())


@pytest.mark.slow
def test_generate_stage_through_the_server(server, outputs, mirror):
    env_key = {"OPENAI_API_KEY": SECRET}
    args = ["generate", "model=tiny_llama", "generate.backend=openai", f"generate.openai.base_url={server['base_url']}",
            f"generate.openai.model={server['model']}", "generate.openai.concurrency=2", "seeds.tasks=[copa,webqs]",
            "seeds.max_rows_per_task=40", "generate.num_examples=4", "generate.max_attempts=1", "generate.sampling.max_new_tokens=64"]  # fmt: skip
    os.environ.update(env_key)
    try:
        proc = taskseed(*args, outputs=outputs)
    finally:
        os.environ.pop("OPENAI_API_KEY", None)
    artifact = Artifact.load(artifact_of(proc))
    assert artifact.manifest["counts"]["kept"] + artifact.manifest["counts"]["rejected"] == 4
    assert artifact.manifest["stats"]["llm"]["calls"] == 4
    assert artifact.manifest["config"]["backend"]["backend"] == "openai"
    for record in artifact.read_records("rejected"):
        assert record["rejection"][
            "reason"
        ]  # the tiny model's free text rarely parses; each failure says why
    # the key reached neither the logs, the artifact, nor the tracking store
    haystacks = [proc.stdout, proc.stderr, (artifact.path / "manifest.json").read_text()]
    haystacks += [p.read_text(errors="ignore") for p in artifact.path.rglob("*.jsonl")]
    haystacks.append((outputs / "mlflow.db").read_bytes().decode("latin-1"))
    assert not any(SECRET in h for h in haystacks)


@pytest.mark.slow
def test_eval_through_local_completions(server, outputs, mirror):
    """lm-eval's `local-completions` model against the served checkpoint, as clusters run `vllm serve`."""
    proc = taskseed("eval", f"eval.target={server['model']}", "eval.backend=local-completions", "eval.tasks=[gsm8k]",
                    f"eval.base_url={server['base_url']}/completions", "eval.smoke.generate=2", "eval.max_gen_toks=8",
                    "eval.batch_size=1", "model=tiny_llama", outputs=outputs)  # fmt: skip
    results = json.loads((artifact_of(proc) / "results.json").read_text())
    gsm8k = results["tasks"]["gsm8k"]
    assert gsm8k["n"] == 2 and gsm8k["primary"] == "exact_match,strict-match"
    samples = [
        json.loads(line)
        for line in (artifact_of(proc) / "lm_eval_samples" / "gsm8k.jsonl").read_text().splitlines()
    ]
    assert all(s["resps"] for s in samples)  # the server's completions, scored by lm-eval
