"""The in-process transformers backend, the CPU default: batched chat generation.

Requests are grouped by sampling parameters and sorted by prompt length; each batch prefills every prompt on
its own (no compute spent on padding), stacks the caches left-padded into preallocated room (no per-step
copies), then decodes together, dropping each row from the batch as soon as it finishes. Greedy outputs
equal one-at-a-time `model.generate` in fp32 (bf16 rounding can differ with the batch's shape).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from taskseed.core.models import model_digest
from taskseed.llm.base import Backend, ChatRequest, Completion

log = logging.getLogger(__name__)


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

    @property
    def constraint(self) -> str | None:
        from taskseed.llm.constrain import ENGINE

        return ENGINE if self.structured else None

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

    def _prefill(self, input_ids, attention, room: int):
        """Prefill each prompt on its own (no padding to compute), then stack the caches left-padded.

        Padded prefill of mixed-length prompts wastes most of its compute on padding; prompts prefilled
        alone cost exactly what the one-at-a-time loop pays, and decoding still runs batched."""
        torch = self.torch
        from transformers import DynamicCache

        width = input_ids.shape[1]
        per_row, last_logits = [], []
        for row in range(input_ids.shape[0]):
            ids = input_ids[row : row + 1, width - int(attention[row].sum()) :]
            cache = DynamicCache()
            out = self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            per_row.append(cache)
            last_logits.append(out.logits[:, -1, :])
        from taskseed.llm.kvcache import preallocated_cache

        layers = []
        for layer in range(len(per_row[0].layers)):
            pad = lambda t: torch.nn.functional.pad(t, (0, 0, width - t.shape[2], 0))  # noqa: E731 - left padding
            layers.append(
                (
                    torch.cat([pad(c.layers[layer].keys) for c in per_row]),
                    torch.cat([pad(c.layers[layer].values) for c in per_row]),
                )
            )
        return preallocated_cache(layers, width + room), torch.cat(last_logits)

    def _run(self, batch: list[int], requests: list[ChatRequest], texts: list[str], results: list) -> None:
        """Prefill each prompt, then decode the batch together; a row that finishes leaves the batch (and the
        KV cache), so the others stop paying for it. Greedy output equals one-at-a-time `generate` (fp32)."""
        torch = self.torch
        from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

        sampling = requests[batch[0]].sampling
        encoded = self.tokenizer(
            [texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
        )
        input_ids, attention = encoded["input_ids"], encoded["attention_mask"]
        prompt_tokens = attention.sum(-1).tolist()
        processors = LogitsProcessorList()
        constraint = None
        if self.structured and any(requests[i].schema for i in batch):
            from taskseed.llm.constrain import SchemaLogitsProcessor

            constraint = SchemaLogitsProcessor(
                self.tokenizer, [requests[i].schema for i in batch], self.stop_ids
            )
            processors.append(constraint)
        generator = None
        if sampling.temperature > 0:
            processors.append(TemperatureLogitsWarper(sampling.temperature))
            if sampling.top_p < 1.0:
                processors.append(TopPLogitsWarper(sampling.top_p))
            # sampling depends on the batch it runs in; seed it from the batch's requests, so reruns repeat it
            seed = (
                int(hashlib.sha256(repr([requests[i].messages for i in batch]).encode()).hexdigest()[:8], 16)
                + sampling.seed
            )
            generator = torch.Generator().manual_seed(seed)

        rows = list(range(len(batch)))  # positions in `batch` still decoding
        tokens: list[list[int]] = [[] for _ in batch]
        finish = ["length"] * len(batch)
        stop = set(self.stop_ids)
        with torch.inference_mode():
            cache, logits = self._prefill(input_ids, attention, sampling.max_new_tokens)
            seen = input_ids
            for _ in range(sampling.max_new_tokens):
                scores = processors(seen, logits.float())
                if generator is not None:
                    chosen = torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)
                else:
                    chosen = scores.argmax(-1)
                keep = []
                for k, row in enumerate(rows):
                    token = int(chosen[k])
                    if token in stop:
                        finish[row] = "stop"
                        continue
                    tokens[row].append(token)
                    if len(tokens[row]) < sampling.max_new_tokens:
                        keep.append(k)
                if not keep:
                    break
                if len(keep) < len(rows):
                    index = torch.tensor(keep, dtype=torch.long)
                    cache.batch_select_indices(index)
                    attention, seen, chosen = attention[index], seen[index], chosen[index]
                    if constraint is not None:
                        constraint.select(keep)
                    rows = [rows[k] for k in keep]
                    # columns that are padding for every remaining row are dead weight in each attention step
                    cut = int((attention.cumsum(-1) == 0).sum(-1).min())
                    if (
                        cut
                    ):  # (`seen` keeps its padding: the schema enforcer tracks each row by its full sequence)
                        attention = attention[:, cut:]
                        for layer in cache.layers:
                            layer.drop_left(cut)
                seen = torch.cat([seen, chosen[:, None]], dim=-1)
                attention = torch.cat([attention, attention.new_ones((len(rows), 1))], dim=-1)
                positions = attention.sum(-1, keepdim=True) - 1
                logits = self.model(input_ids=chosen[:, None], attention_mask=attention, position_ids=positions, past_key_values=cache,
                                    use_cache=True).logits[:, -1, :]  # fmt: skip
        for row, i in enumerate(batch):
            text = self.tokenizer.decode(tokens[row], skip_special_tokens=True)
            results[i] = Completion(text, finish[row], int(prompt_tokens[row]), len(tokens[row]))
