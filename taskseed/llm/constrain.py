"""JSON-schema constrained decoding for transformers' generate, through lm-format-enforcer's TokenEnforcer.

lm-format-enforcer 0.11's own transformers integration imports a module that transformers 5 removed; its core
(TokenEnforcer, JsonSchemaParser) works as is, so this file is the few lines of glue between the two.
"""

from __future__ import annotations

import functools
import json

_PACKED: dict[int, tuple[list[int], object]] = {}


def _fast_bitmask_extend() -> None:
    """lm-format-enforcer ORs a Python list of token ids into its bitmask one element at a time (a torch op
    per token: most of a constrained step's time). The lists are its prefix tree's, fixed for the life of
    the tokenizer data, so each is packed into a bitmask once and then ORed in one tensor op."""
    import numpy as np
    import torch
    from lmformatenforcer.tokenlist import TokenList

    if getattr(TokenList.extend, "_taskseed", False):
        return
    original = TokenList.extend

    def extend(self, token_ids):
        if self.use_bitmask and isinstance(token_ids, list) and len(token_ids) > 8:
            cached = _PACKED.get(id(token_ids))
            if cached is None or cached[0] is not token_ids:
                ids = np.asarray(token_ids, dtype=np.int64)
                packed = np.zeros(len(self.allowed_tokens), dtype=np.uint32)
                np.bitwise_or.at(packed, ids >> 5, (np.uint32(1) << (ids & 31).astype(np.uint32)))
                cached = _PACKED[id(token_ids)] = (
                    token_ids,
                    torch.from_numpy(packed.view(np.int32)),
                )  # keeps the list alive
            token_ids = cached[1]
        return original(self, token_ids)

    extend._taskseed = True
    TokenList.extend = extend


@functools.lru_cache(maxsize=4)
def _tokenizer_data(tokenizer):
    from lmformatenforcer.tokenenforcer import TokenEnforcerTokenizerData

    special = set(tokenizer.all_special_ids)
    zero = tokenizer.encode("0", add_special_tokens=False)[-1]
    regular = []
    for token_id in range(len(tokenizer)):
        if token_id in special:
            continue
        # decoding after "0" reveals a leading space that decoding the token alone would drop
        after_zero = tokenizer.decode([zero, token_id])[1:]
        alone = tokenizer.decode([token_id])
        regular.append((token_id, after_zero, len(after_zero) > len(alone)))

    def decode(ids: list[int]) -> str:
        return tokenizer.decode(ids).rstrip("\ufffd")

    return TokenEnforcerTokenizerData(
        regular, decode, tokenizer.eos_token_id, True, len(tokenizer)
    )  # bitmask token lists


class SchemaLogitsProcessor:
    """A transformers logits processor with one enforcer per batch row (rows may use different schemas).
    Allowed tokens come as packed bitmasks and are unpacked with tensor ops, so a step stays cheap."""

    def __init__(self, tokenizer, schemas: list[str | None]):
        import torch
        from lmformatenforcer import JsonSchemaParser
        from lmformatenforcer.tokenenforcer import TokenEnforcer

        _fast_bitmask_extend()
        data = _tokenizer_data(tokenizer)
        self.enforcers = [
            TokenEnforcer(data, JsonSchemaParser(json.loads(s))) if s else None for s in schemas
        ]
        self.shifts = torch.arange(32, dtype=torch.int32)

    def select(self, rows: list[int]) -> None:
        """Keep the enforcers of these rows, in this order (rows that finished left the batch)."""
        self.enforcers = [self.enforcers[r] for r in rows]

    def __call__(self, input_ids, scores):
        import torch

        for row, enforcer in enumerate(self.enforcers):
            if enforcer is not None:
                packed = enforcer.get_allowed_tokens(input_ids[row].tolist()).allowed_tokens
                allowed = ((packed.unsqueeze(1) >> self.shifts) & 1).flatten().bool()[: scores.shape[-1]]
                scores[row] = torch.where(
                    allowed, scores[row], torch.tensor(float("-inf"), dtype=scores.dtype)
                )
        return scores
