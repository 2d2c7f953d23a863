"""The in-process transformers backend: batched chat generation with left padding, the CPU default."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from taskseed.llm.base import Backend, ChatRequest, Completion

log = logging.getLogger(__name__)


def model_digest(path: Path) -> str:
    """A digest of a local model folder (configs, tokenizer, weight file names and sizes), cached beside it."""
    digest = hashlib.sha256()
    for file in sorted(path.iterdir()):
        if file.is_file() and not file.name.startswith("."):
            if file.suffix in (".json", ".jinja", ".model", ".txt"):
                digest.update(file.name.encode() + b"\0" + file.read_bytes())
            else:
                digest.update(f"{file.name}\0{file.stat().st_size}".encode())
    return digest.hexdigest()[:12]


class TransformersBackend(Backend):
    name = "transformers"

    def __init__(
        self,
        model_path: Path,
        model_name: str,
        dtype: str = "bfloat16",
        batch_size: int = 8,
        structured: bool = True,
        threads: int | None = None,
    ):
        self.model_path = Path(model_path)
        self.batch_size = max(1, int(batch_size))
        self.structured = bool(structured)
        self.dtype = dtype
        self.threads = threads
        self.model_id = f"{model_name}@{model_digest(self.model_path)}:{dtype}"
        self.model = None  # loaded on first use: a cache hit never pays for it

    def _load(self) -> None:
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads:
            torch.set_num_threads(int(self.threads))
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            str(self.model_path), dtype=getattr(torch, self.dtype)
        )
        self.model.eval()
        stop = {self.tokenizer.eos_token_id}
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            stop.add(im_end)
        self.stop_ids = sorted(i for i in stop if i is not None)

    def prompt_text(self, request: ChatRequest) -> str:
        self._load()
        return self.tokenizer.apply_chat_template(
            request.message_dicts(), add_generation_prompt=True, tokenize=False
        )

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        self._load()
        results: list[Completion | None] = [None] * len(requests)
        texts = [self.prompt_text(r) for r in requests]
        lengths = [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        # batch requests with equal sampling together, similar lengths side by side (less padding)
        order = sorted(range(len(requests)), key=lambda i: (repr(requests[i].sampling), lengths[i]))
        batch: list[int] = []
        for i in order:
            if batch and (
                requests[i].sampling != requests[batch[0]].sampling or len(batch) == self.batch_size
            ):
                self._run(batch, requests, texts, results)
                batch = []
            batch.append(i)
        if batch:
            self._run(batch, requests, texts, results)
        return results  # type: ignore[return-value]

    def _run(self, batch: list[int], requests: list[ChatRequest], texts: list[str], results: list) -> None:
        torch = self.torch
        sampling = requests[batch[0]].sampling
        encoded = self.tokenizer(
            [texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
        )
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.stop_ids,
        }
        if sampling.temperature > 0:
            kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
            # sampling depends on the batch it runs in; seed it from the batch's requests, so reruns repeat it
            torch.manual_seed(
                int(hashlib.sha256(repr([requests[i].messages for i in batch]).encode()).hexdigest()[:8], 16)
                + sampling.seed
            )
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if self.structured and any(requests[i].schema for i in batch):
            from transformers import LogitsProcessorList

            from taskseed.llm.constrain import SchemaLogitsProcessor

            kwargs["logits_processor"] = LogitsProcessorList(
                [SchemaLogitsProcessor(self.tokenizer, [requests[i].schema for i in batch])]
            )
        with torch.inference_mode():
            output = self.model.generate(**encoded, **kwargs)
        prompt_len = encoded["input_ids"].shape[1]
        for row, i in enumerate(batch):
            tokens = output[row, prompt_len:].tolist()
            finish = "length"
            for cut, token in enumerate(tokens):
                if token in self.stop_ids:
                    tokens, finish = tokens[:cut], "stop"
                    break
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            results[i] = Completion(text, finish, int(encoded["attention_mask"][row].sum()), len(tokens))
