"""JSON-schema constrained decoding for transformers' generate, through lm-format-enforcer's TokenEnforcer.

lm-format-enforcer 0.11's own transformers integration imports a module that transformers 5 removed; its core
(TokenEnforcer, JsonSchemaParser) works as is, so this file is the few lines of glue between the two.
"""

from __future__ import annotations

import functools
import json


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

        data = _tokenizer_data(tokenizer)
        self.enforcers = [
            TokenEnforcer(data, JsonSchemaParser(json.loads(s))) if s else None for s in schemas
        ]
        self.shifts = torch.arange(32, dtype=torch.int32)

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
