"""Megatron blends: the weighted sample stream that NeMo/Megatron trainers (and our CPU trainer) read.

megatron-core builds it (`BlendedMegatronDatasetBuilder` over one `GPTDataset` per prefix), so the CPU
reference trainer sees exactly the samples a NeMo trainer would for the same prefixes, weights, sequence
length and seed. Built in memory (no index cache on disk): the indexes of a CPU-sized mix take milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SURPLUS = 0.005  # megatron-core's mid_level_dataset_surplus: each source builds this many extra samples


@dataclass(frozen=True)
class BlendTokenizer:
    """What megatron-core's GPTDataset needs of a tokenizer: the end-of-document id and the vocabulary size."""

    name: str
    eod: int
    vocab_size: int

    @property
    def unique_identifiers(self) -> dict[str, Any]:  # goes into megatron's dataset description
        return {"class": "BlendTokenizer", "name": self.name, "eod": self.eod, "vocab_size": self.vocab_size}


@dataclass(frozen=True)
class Blend:
    """Sources (Megatron prefixes with weights) and the stream's shape."""

    prefixes: tuple[str, ...]
    weights: tuple[float, ...]
    seq_length: int
    num_samples: int
    seed: int
    tokenizer: BlendTokenizer

    @property
    def shares(self) -> list[float]:
        total = sum(self.weights)
        return [w / total for w in self.weights]

    def samples_per_source(self) -> list[int]:
        """Samples each source's GPTDataset is asked for (megatron's rule, surplus included)."""
        if len(self.prefixes) == 1:
            return [self.num_samples]
        return [int(math.ceil(math.ceil(self.num_samples * s) * (1 + SURPLUS))) for s in self.shares]


def samples_per_epoch(tokens: int, seq_length: int) -> int:
    """Full samples in one pass over `tokens` (each sample reads seq_length + 1 tokens, overlapping by one)."""
    return max(0, (tokens - 1) // seq_length)


@contextlib.contextmanager
def quiet_megatron():
    """megatron-core warns on import that Transformer Engine and Apex are missing, and prints while it
    builds indexes; neither is news on a CPU harness."""
    logging.getLogger("megatron").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def build(blend: Blend):
    """The megatron-core dataset for `blend`: index i gives sample i of the global order (a dict of tensors,
    `tokens`, `labels`, `loss_mask`, `position_ids`, and `dataset_id` when several sources are blended)."""
    with quiet_megatron():
        from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
        from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    weights = None if len(blend.prefixes) == 1 else list(blend.shares)
    config = GPTDatasetConfig(
        random_seed=blend.seed,
        sequence_length=blend.seq_length,
        blend=(list(blend.prefixes), weights),
        split="100,0,0",
        tokenizer=blend.tokenizer,
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,
        mid_level_dataset_surplus=SURPLUS,
    )
    with quiet_megatron():  # it logs every index it builds, and that it does not cache them on disk
        train, _, _ = BlendedMegatronDatasetBuilder(
            GPTDataset, [blend.num_samples, 0, 0], lambda: True, config
        ).build()
    return train


def source_of_samples(dataset, n: int) -> np.ndarray:
    """The source index of each of the first n samples of a built blend."""
    if hasattr(dataset, "dataset_index"):
        return np.asarray(dataset.dataset_index[:n])
    return np.zeros(min(n, len(dataset)), dtype=np.int64)


def shares_of(dataset, n: int, names: Sequence[str]) -> dict[str, float]:
    sources = source_of_samples(dataset, n)
    counts = np.bincount(sources, minlength=len(names))
    return {name: float(counts[i] / max(1, len(sources))) for i, name in enumerate(names)}


def absolute(artifact_path: Path, prefix: str) -> str:
    """A prefix as recorded in a mixture manifest (relative to the mix artifact, or absolute) made absolute."""
    path = Path(prefix)
    return str(path if path.is_absolute() else (artifact_path / path))
