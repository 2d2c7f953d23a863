"""JSON-schema constrained decoding for the transformers backend, through llguidance.

llguidance compiles a schema into a lexer and parser in Rust and computes each step's allowed-token bitmask
in microseconds, counting string lengths exactly (lm-format-enforcer, used before, walked the tokenizer's
prefix tree in Python and miscounted partial UTF-8). Decoding speed is the model's: on 16 real generate
requests (SmolLM2-135M, dtype auto = bf16 on this AVX-512 BF16 CPU, 2 cores) 46 tokens/s before, 39 to 47 after; examples/s rose from 0.32 to 0.51
because compact separators and the schema's key order give shorter outputs. Engine name and version key
the LLM call cache and the fingerprints (`ENGINE`), since they decide the outputs.
"""

from __future__ import annotations

import functools
import json
from importlib.metadata import version

ENGINE = f"llguidance-{version('llguidance')}"


@functools.lru_cache(maxsize=4)
def _ll_tokenizer(tokenizer, stop_ids: tuple[int, ...]):
    """The tokenizer in llguidance's form (about a second to build, so once per tokenizer)."""
    import llguidance.hf

    return llguidance.hf.from_tokenizer(tokenizer, n_vocab=len(tokenizer), eos_token=list(stop_ids))


@functools.lru_cache(maxsize=64)
def _grammar(schema: str) -> str:
    from llguidance import LLMatcher

    # the separators models write (`{"a": 1, "b": 2}`), no free whitespace: a model cannot stall in it
    compact = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
    return LLMatcher.grammar_from_json_schema(json.loads(schema), overrides=compact)


class SchemaLogitsProcessor:
    """A transformers logits processor with one matcher per batch row (rows may use different schemas, or
    none). Each call first feeds every matcher the token its row chose last step, then masks what it
    forbids next; a matcher whose JSON is complete allows only the stop tokens, so its row ends."""

    def __init__(self, tokenizer, schemas: list[str | None], stop_ids: list[int]):
        import torch
        from llguidance import LLMatcher
        from llguidance.torch import allocate_token_bitmask

        ll = _ll_tokenizer(tokenizer, tuple(stop_ids))
        self.matchers = [LLMatcher(ll, _grammar(s), log_level=0) if s else None for s in schemas]
        self.bitmask = allocate_token_bitmask(len(schemas), ll.vocab_size)
        self.stop_ids = list(stop_ids)
        self.shifts = torch.arange(32, dtype=torch.int32)
        self.steps = 0

    def select(self, rows: list[int]) -> None:
        """Keep the matchers of these rows, in this order (rows that finished left the batch)."""
        self.matchers = [self.matchers[r] for r in rows]

    def __call__(self, input_ids, scores):
        import torch
        from llguidance.torch import fill_next_token_bitmask

        if self.steps:  # the last column is the token each row chose at the previous step
            for row, matcher in enumerate(self.matchers):
                if matcher is not None:
                    matcher.consume_token(int(input_ids[row, -1]))
        self.steps += 1
        rows = [row for row, matcher in enumerate(self.matchers) if matcher is not None]
        if not rows:
            return scores
        for row in rows:
            if self.matchers[
                row
            ].is_error():  # cannot happen with its own masks; end the row (the parser rejects it)
                self.bitmask[row] = 0
                for stop in self.stop_ids:
                    self.bitmask[row, stop // 32] |= 1 << (stop % 32)
            else:
                fill_next_token_bitmask(self.matchers[row], self.bitmask, row)
        # one unpack for the whole batch: bit j of word w allows token 32 w + j
        packed = self.bitmask[rows]
        allowed = ((packed.unsqueeze(-1) >> self.shifts) & 1).flatten(1).bool()
        width = scores.shape[-1]
        if allowed.shape[1] < width:  # logits wider than the vocabulary: padding ids, never allowed
            allowed = torch.nn.functional.pad(allowed, (0, width - allowed.shape[1]))
        index = torch.tensor(rows)
        scores[index] = scores[index].masked_fill(~allowed[:, :width], float("-inf"))
        return scores
