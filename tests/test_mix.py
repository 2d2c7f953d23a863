"""Mix: Megatron files that read back to the rendered text, a blend whose shares follow the weights,
budgets checked against the data, and the license policy applied to the replay corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from taskseed.core.artifacts import Artifact
from taskseed.core.errors import TaskseedError
from taskseed.mix import blend
from taskseed.mix.render import run_render
from taskseed.mix.stage import blend_of, run_mix
from taskseed.mix.tokenize import read_prefix

from .conftest import fixture_examples, make_artifact, session_for

REPLAY = ["mix.replay.max_documents=150"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, Artifact]:
    outputs = tmp_path_factory.mktemp("mix")
    filt = make_artifact(outputs / "given", "filter", fixture_examples(), primary="kept")
    return outputs, run_render(session_for(outputs), {"filter": Artifact.load(filt)})


def _mix(outputs: Path, rendered: Artifact, *overrides: str) -> Artifact:
    return run_mix(session_for(outputs, *REPLAY, *overrides), {"render": rendered})


def test_megatron_files_read_back_as_the_rendered_text(rendered):
    outputs, render = rendered
    art = _mix(outputs, render, "mix.token_budget=20000", "mix.seq_length=64")
    manifest = json.loads((art.path / "mixture.json").read_text())
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(manifest["tokenizer"]["path"])
    eod = manifest["tokenizer"]["eod"]
    data = read_prefix(art.path / "data" / "synthetic")
    docs = [d for d in render.read_records() if d["source"] == "synthetic"]
    assert len(data) == len(docs) == manifest["sources"]["synthetic"]["documents"]
    for i, doc in enumerate(docs):
        ids = data[i].tolist()
        assert ids[-1] == eod and eod not in ids[:-1]
        assert tok.decode(ids[:-1], skip_special_tokens=False) == doc["text"]
    assert int(data.sequence_lengths.sum()) == manifest["sources"]["synthetic"]["tokens"]
    replay = read_prefix(art.path / "data" / "replay")
    assert len(replay) == manifest["sources"]["replay"]["documents"] == 150
    # Megatron's data-path list: [w1, prefix1, w2, prefix2], prefixes absolute and complete
    weights, prefixes = manifest["data_paths"][::2], manifest["data_paths"][1::2]
    assert weights == pytest.approx([0.7, 0.3]) and all(
        Path(p + ".bin").is_file() and Path(p + ".idx").is_file() for p in prefixes
    )


def test_blend_shares_follow_the_weights_over_the_first_10000_samples(rendered):
    outputs, render = rendered
    art = _mix(outputs, render, "mix.token_budget=480000", "mix.seq_length=32", "mix.allow_repeat=true",
               "mix.weights.synthetic=0.25", "mix.weights.replay=0.75")  # fmt: skip
    manifest = json.loads((art.path / "mixture.json").read_text())
    assert manifest["num_samples"] == 15000
    dataset = blend.build(blend_of(art))  # what a trainer reads, rebuilt from the manifest
    sources = blend.source_of_samples(dataset, 10_000)
    shares = np.bincount(sources, minlength=2) / len(sources)
    names = list(manifest["sources"])
    assert shares[names.index("synthetic")] == pytest.approx(0.25, abs=0.01)
    assert shares[names.index("replay")] == pytest.approx(0.75, abs=0.01)
    assert manifest["sources"]["synthetic"]["observed_share_first_10k"] == pytest.approx(0.25, abs=0.01)
    assert manifest["sources"]["synthetic"]["epochs"] > 1  # the small synthetic source repeats, as allowed
    families = manifest["sources"]["synthetic"]["tokens_drawn_by_family"]
    assert set(families) == {"knowledge", "reasoning"}
    assert sum(families.values()) == pytest.approx(manifest["sources"]["synthetic"]["tokens_drawn"], rel=0.01)
    assert set(manifest["sources"]["synthetic"]["tokens_by_task"]) >= {"arc_easy", "gsm8k", "mbpp"}
    sample = dataset[0]
    assert sample["tokens"].shape[0] == 32 and bool((sample["labels"][:-1] == sample["tokens"][1:]).all())


def test_a_budget_larger_than_the_data_is_refused_without_repeats(rendered):
    outputs, render = rendered
    with pytest.raises(TaskseedError, match=r"needs .* tokens of 'synthetic' .* mix\.allow_repeat=true"):
        _mix(outputs, render, "mix.token_budget=100000", "mix.seq_length=64")
    assert not [p for p in (outputs / "artifacts" / "mix").iterdir() if not p.name.startswith(".")
                and json.loads((p / "manifest.json").read_text())["config"]["token_budget"] == 100000]  # fmt: skip
    assert not list((outputs / "artifacts" / "mix").glob(".*.partial"))


def test_the_license_policy_applies_to_replay_records(rendered):
    outputs, render = rendered
    art = _mix(outputs, render, "mix.token_budget=20000", "mix.seq_length=64", "seeds.license_policy=permissive",
               "mix.replay.max_documents=3000")  # fmt: skip
    licenses = json.loads((art.path / "mixture.json").read_text())["sources"]["replay"]["licenses"]
    assert set(licenses["kept"]) <= {"Public Domain", "PSF-2.0", "PostgreSQL"}
    assert {"GPL-2.0-or-later", "GFDL-1.1-or-later"} <= set(licenses["dropped"])
    card = (art.path / "DATACARD.md").read_text()
    assert "GPL-2.0-or-later" in card and "dropped" in card


def test_an_existing_megatron_prefix_serves_as_the_replay_source(rendered):
    """On a cluster the replay share is often an already tokenized corpus: named by its prefix, used in place."""
    outputs, render = rendered
    first = _mix(outputs, render, "mix.token_budget=20000", "mix.seq_length=64")
    external = first.path / "data" / "replay"
    art = _mix(outputs, render, "mix.token_budget=20000", "mix.seq_length=64", f"mix.replay.prefix={external}",
               "mix.replay.license=CC-BY-4.0")  # fmt: skip
    manifest = json.loads((art.path / "mixture.json").read_text())
    replay = manifest["sources"]["replay"]
    assert replay["prefix"] == str(external) and not (art.path / "data" / "replay.bin").exists()
    assert replay["documents"] == 150 and replay["licenses"]["kept"] == {"CC-BY-4.0": 150}
    assert str(external) in manifest["data_paths"]
    with pytest.raises(TaskseedError, match="not admitted by the license policy"):
        _mix(outputs, render, "mix.token_budget=20000", "mix.seq_length=64", f"mix.replay.prefix={external}",
             "mix.replay.license=CC-BY-NC-4.0")  # fmt: skip
