"""Layer (a) of decontamination: n-gram overlap with benchmark evaluation items.

Semantics are those of datatrove 0.10.1 `NGramsDecontIndexer` + `NGramsDecontFilter` (`NGramsDecontConfig`),
so both flag the same documents for the same items and `n`:

* Text is normalized as datatrove's `simplify_text` with the default `TextNormConfig`: lowercase, numbers
  (any script, with an optional decimal part) -> "0", datatrove's punctuation set -> space, diacritics dropped
  (NFD, then combining marks removed); words are the whitespace-separated tokens of that text.
* The index holds, for every item, the n-grams of its answer (datatrove always indexes those; kind "answer"),
  of its question (`find_query_ngrams`; kind "query") and the n-1 n-grams that straddle the question/answer
  boundary, i.e. the last n-1-i question words + the first i+1 answer words (`find_overlap_ngrams`; kind
  "boundary"). Each kind is a window over question+answer words, so one sequence per item serves all three.
* A document is contaminated if any of its n-grams is in the index. A document with fewer than n words has no
  n-gram and is never flagged; an item with fewer than n words in question+answer has none either and cannot
  be detected by this layer (listed in `NGramIndex.unindexed` so the report can say so).

Differences from datatrove, by design: datatrove's defaults are n=12 and no query n-grams (ours: 13, query on);
it reports one task per hash, we report every matching item and the kind. Its English word tokenizer is spaCy,
which after normalization splits on whitespace except for a few exceptions ("dont" -> "do nt", "0km" ->
"0 km"); we split on whitespace only (spaCy is not a project dependency). `find_answer_ngrams=False` indexes
query + boundary only, which datatrove cannot.

Caveat, shared with datatrove: numbers all become "0", so the "<<48/2=24>>24"-style calculator annotations of
GSM8K answers yield n-grams such as "a total of 0 0 0 0 0 0 0 0 0 0" that also occur in unrelated arithmetic
text (benchmark docs: 440 of the 470 flags outside the planted docs come from n-grams with >= 5 zeros).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import regex  # datatrove's engine for its number pattern; installed with transformers

# datatrove.utils.text.PUNCTUATION, copied so the filter stage does not need datatrove (a bench-only extra)
_PUNCTUATION = (
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
    + "".join(map(chr, (x for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b))))
)
_PUNCT_TO_SPACE = str.maketrans(_PUNCTUATION, " " * len(_PUNCTUATION))
# datatrove's NUMBERS_PATTERN, with the same `regex` engine: `re`'s \d follows an older Unicode table
_NUMBERS = regex.compile(r"\p{Nd}+([.,،٫⎖⎗⎘]{1}\p{Nd}+)?", regex.VERBOSE | regex.UNICODE)
KINDS = ("query", "boundary", "answer")


class _DropMarks(dict):
    """str.translate table deleting combining marks (category Mn), filled lazily: one lookup per new char."""

    def __missing__(self, code: int) -> int | None:
        self[code] = None if unicodedata.category(chr(code)) == "Mn" else code
        return self[code]


_DROP_MARKS = _DropMarks()


def _weak(word: str) -> bool:
    """A number ("0" after normalization), a single letter or a symbol: shared by unrelated formulas and
    option lists, so n-grams made mostly of them are not evidence of contamination."""
    return len(word) == 1 or not any(c.isalpha() for c in word)


def words(text: str) -> list[str]:
    """Normalized words of `text`, as datatrove's simplify_text + whitespace tokenization make them."""
    text = _NUMBERS.sub("0", text.lower()).translate(_PUNCT_TO_SPACE)
    if not text.isascii():  # NFD and mark removal are no-ops on ASCII, the common case: skip them
        text = unicodedata.normalize("NFD", text).translate(_DROP_MARKS)
    return text.split()  # same whitespace set as simplify_text's \s+ collapse and strip


@dataclass(frozen=True)
class EvalItem:
    benchmark: str
    item_id: str
    question: str
    answer: str


@dataclass(frozen=True)
class NGramMatch:
    benchmark: str
    item_id: str
    kind: str  # "query" | "boundary" | "answer"
    ngram: str  # the normalized n-gram found in the document (first one per item and kind)


class NGramIndex:
    """N-gram index of eval items; see the module docstring for what is indexed and what matches."""

    def __init__(
        self,
        n: int = 13,
        find_query_ngrams: bool = True,
        find_overlap_ngrams: bool = True,
        find_answer_ngrams: bool = True,
        skip_numeric_ngrams: bool = False,
    ):
        self.n = n
        # Numbers all normalize to "0": an n-gram that is half numbers ("0 0 0 ... 0" from a table or a
        # worked calculation) says nothing about its source. datatrove indexes them; the filter does not.
        self.skip_numeric_ngrams = skip_numeric_ngrams
        enabled = (find_query_ngrams, find_overlap_ngrams, find_answer_ngrams)
        self.kinds = {kind for kind, on in zip(KINDS, enabled, strict=True) if on}
        self.items: list[EvalItem] = []
        self.unindexed: list[EvalItem] = []  # items that yield no n-gram of the enabled kinds
        # word -> id >= 1; id 0 stands for any word no item has, so no window holding it can match
        self._vocab: dict[str, int] = {}
        self._words: list[str] = [""]
        self._seqs: list[np.ndarray] = []  # per item: ids of question + answer words
        self._qlen: list[int] = []
        self._starts: list[np.ndarray] = []  # per item: starts of its indexed windows in its sequence
        self._rng = np.random.default_rng(0x7A5C5EED)
        # n-gram fingerprint = sum_j K[j] * R[id_j] mod 2**64 (R: random value per word id): vectorizes over
        # a whole batch of documents; exactness comes from comparing the ids of every candidate window
        self._k = self._rng.integers(0, 2**64, n, dtype=np.uint64) | np.uint64(1)
        self._r = self._rng.integers(0, 2**64, 1024, dtype=np.uint64)
        self._hash: np.ndarray | None = None

    @classmethod
    def build(cls, items: Iterable[EvalItem], **kw) -> NGramIndex:
        index = cls(**kw)
        index.add(items)
        index._finalize()  # build the lookup arrays now rather than on the first query
        return index

    def add(self, items: Iterable[EvalItem]) -> None:
        n, vocab = self.n, self._vocab
        for item in items:
            q, a = words(item.question), words(item.answer)
            for w in q + a:
                if w not in vocab:
                    vocab[w] = len(self._words)
                    self._words.append(w)
            qlen, total = len(q), len(q) + len(a)
            starts = []
            if "query" in self.kinds:
                starts.append(np.arange(0, qlen - n + 1))
            if "boundary" in self.kinds and a:  # last n-1-i question words + first i+1 answer words
                starts.append(np.arange(max(0, qlen - n + 1), min(qlen, total - n + 1)))
            if "answer" in self.kinds:
                starts.append(np.arange(qlen, total - n + 1))
            starts = np.concatenate(starts) if starts else np.empty(0, np.int64)
            if (
                self.skip_numeric_ngrams and starts.size
            ):  # half or more numbers, letters, symbols: no evidence
                weak = np.cumsum([0] + [_weak(w) for w in q + a])
                starts = starts[(weak[starts + n] - weak[starts]) * 2 < n]
            if not starts.size:
                self.unindexed.append(item)
            self.items.append(item)
            self._seqs.append(np.fromiter((vocab[w] for w in q + a), np.int64, total))
            self._qlen.append(qlen)
            self._starts.append(starts)
        self._hash = None  # rebuilt lazily on the next lookup

    def _fingerprints(self, ids: np.ndarray) -> np.ndarray:
        """Fingerprint of every window of n ids (len(ids) - n + 1 of them)."""
        if len(self._r) < len(self._words):
            more = self._rng.integers(0, 2**64, 2 * len(self._words), dtype=np.uint64)
            self._r = np.concatenate([self._r, more])
        vals, m = self._r[ids], len(ids) - self.n + 1
        if m <= 0:
            return np.empty(0, np.uint64)
        out = vals[:m] * self._k[0]
        for j in range(1, self.n):
            out += vals[j : j + m] * self._k[j]
        return out

    def _finalize(self) -> None:
        tokens = np.concatenate(self._seqs) if self._seqs else np.empty(0, np.int64)
        offsets = np.cumsum([0] + [len(s) for s in self._seqs])
        pos = np.concatenate(
            [s + o for s, o in zip(self._starts, offsets[:-1], strict=True)] or [np.empty(0, np.int64)]
        )
        hashes = self._fingerprints(tokens)[pos]
        order = np.argsort(hashes, kind="stable")
        # sorted fingerprints with, aligned, the window start in `tokens` and its item
        self._hash, self._pos = hashes[order], pos[order]
        self._item = np.searchsorted(offsets, self._pos, side="right") - 1
        # presence bitmap on the top bits (~1/16 full): most windows are rejected by one gather, and only
        # the rest pay for a binary search in the sorted fingerprints
        self._bits = 64 - int(np.clip(np.ceil(np.log2(max(len(hashes), 1) * 16)), 16, 28))
        self._present = np.zeros(1 << (64 - self._bits), dtype=bool)
        self._present[hashes >> np.uint64(self._bits)] = True
        self._tokens, self._offsets = tokens, offsets

    def _hits(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(window start in `ids`, index entry) for every window of `ids` equal to an indexed n-gram."""
        if self._hash is None:
            self._finalize()
        h = self._fingerprints(ids)
        win = np.flatnonzero(self._present[h >> np.uint64(self._bits)])
        lo = np.searchsorted(self._hash, h[win], side="left")
        count = np.searchsorted(self._hash, h[win], side="right") - lo
        entry = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(count.sum())
        win = np.repeat(win, count)
        span = np.arange(self.n)
        same = (ids[win[:, None] + span] == self._tokens[self._pos[entry][:, None] + span]).all(axis=1)
        return win[same], entry[same]

    def _encode(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Word ids of all texts, each followed by a 0 (so no matching window spans two texts); text starts."""
        get, ids, starts, zero = self._vocab.get, [], [], repeat(0)
        for text in texts:
            starts.append(len(ids))
            ids.extend(map(get, words(text), zero))
            ids.append(0)
        return np.array(ids, dtype=np.int64), np.array(starts, dtype=np.int64)

    def matches(self, text: str) -> list[NGramMatch]:
        """Every (item, kind) whose n-grams occur in `text`, in order of first occurrence."""
        ids, _ = self._encode([text])
        win, entry = self._hits(ids)
        order = np.lexsort((entry, win))
        found: dict[tuple[int, str], NGramMatch] = {}
        for w, e in zip(win[order].tolist(), entry[order].tolist(), strict=True):
            i = int(self._item[e])
            start = int(self._pos[e] - self._offsets[i])
            qlen = self._qlen[i]
            kind = "query" if start + self.n <= qlen else "answer" if start >= qlen else "boundary"
            if (i, kind) not in found:
                gram = " ".join(self._words[t] for t in ids[w : w + self.n])
                found[i, kind] = NGramMatch(self.items[i].benchmark, self.items[i].item_id, kind, gram)
        return list(found.values())

    def flags(self, texts: list[str], batch: int = 4096) -> list[bool]:
        """Whether each text is contaminated; batches of texts share one vectorized lookup."""
        out = np.zeros(len(texts), dtype=bool)
        for b in range(0, len(texts), batch):
            ids, starts = self._encode(texts[b : b + batch])
            win, _ = self._hits(ids)
            out[b + np.searchsorted(starts, win, side="right") - 1] = True
        return out.tolist()
