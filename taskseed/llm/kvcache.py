"""A KV cache layer with preallocated room for the tokens still to decode.

transformers' DynamicLayer grows by `torch.cat`, copying the whole cache at every decoding step; for a batch
of long few-shot prompts that copy costs more than the step itself. This layer writes each new token into
spare capacity and hands attention a view, and supports the two batch edits decoding needs: dropping rows
that finished and dropping left-padding columns no remaining row uses.
"""

from __future__ import annotations

from transformers.cache_utils import DynamicCache, DynamicLayer


class PreallocatedLayer(DynamicLayer):
    def __init__(self, keys, values, capacity: int):
        super().__init__()
        batch, heads, length, _ = keys.shape
        self._keys = keys.new_zeros((batch, heads, capacity, keys.shape[-1]))
        self._values = values.new_zeros((batch, heads, capacity, values.shape[-1]))
        self._keys[:, :, :length] = keys
        self._values[:, :, :length] = values
        self._start, self._end = 0, length
        self.dtype, self.device = keys.dtype, keys.device
        self.is_initialized = True
        self._view()

    def _view(self) -> None:
        self.keys = self._keys[:, :, self._start : self._end]
        self.values = self._values[:, :, self._start : self._end]

    def update(self, key_states, value_states, *args, **kwargs):
        n = key_states.shape[-2]
        if self._end + n > self._keys.shape[2]:
            raise RuntimeError("KV cache capacity exceeded; allocate for prompt + max_new_tokens")
        self._keys[:, :, self._end : self._end + n] = key_states
        self._values[:, :, self._end : self._end + n] = value_states
        self._end += n
        self._view()
        return self.keys, self.values

    def batch_select_indices(self, indices) -> None:
        self._keys, self._values = self._keys[indices], self._values[indices]
        self._view()

    def drop_left(self, columns: int) -> None:
        self._start += columns
        self._view()


def preallocated_cache(layers: list[tuple], capacity: int) -> DynamicCache:
    """A DynamicCache whose layers hold these (keys, values) with room for `capacity` positions in all."""
    cache = DynamicCache()
    cache.layers = [PreallocatedLayer(k, v, capacity) for k, v in layers]
    return cache
