"""Exact and near-duplicate detection for synthetic records: normalized-text keys and MinHash LSH.

Scheme, all numpy-vectorized over a whole batch of documents:
- Text is normalized (NFKC, lowercase, punctuation to spaces, whitespace collapsed) and split into words.
  Each distinct word is hashed once (blake2b, so hashes are stable across processes); the hash of a
  word n-gram is a position-weighted sum of its word hashes mod 2^64 followed by the MurmurHash3
  finalizer, computed for every n-gram of every document in `ngram` array passes.
- MinHash uses the affine permutations h_k(x) = a_k * x + b_k mod 2^32 with a_k odd (a bijection,
  the scheme datasketch >= 2.0 defaults to), evaluated as one (shingles x num_perm) array per chunk
  of documents and reduced to per-document minima with np.minimum.reduceat.
- LSH cuts the signature into `bands` bands of `rows` rows and hashes each band to one uint64; equal
  keys are joined by sorting. (bands, rows) minimize a weighted false positive + false negative
  area like datasketch's `_optimal_param`, weighted towards recall because every candidate is then
  verified: by the signature estimate in `LSHIndex`, by the exact shingle Jaccard in the high-level
  functions, so what they return has Jaccard >= threshold.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

_PUNCT = re.compile(r"[^\w\s]+")
_CHUNK = 4096  # shingles per signature block: 4096 x 128 uint32 = 2 MiB, stays in L2
# bytes of \w in normalized text: [a-z0-9_] and all UTF-8 bytes of non-ASCII characters
_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _WORD_BYTE[_c] = True
_WORD_BYTE[0x80:] = True
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # low k bytes of a chunk


def normalize(text: str) -> str:
    """Lowercased NFKC text with punctuation turned into spaces and whitespace collapsed."""
    return " ".join(_PUNCT.sub(" ", unicodedata.normalize("NFKC", text).lower()).split())


def exact_key(text: str) -> str:
    """Stable hex key of the normalized text: equal keys are exact duplicates up to case/punctuation."""
    return hashlib.blake2b(normalize(text).encode(), digest_size=16).hexdigest()


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finalizer (a bijection that spreads the linear n-gram combination)."""
    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _lower(chunks: np.ndarray) -> np.ndarray:
    """Set bit 0x20 of every ASCII byte of 8-byte word chunks: A-Z become a-z, a-z and 0-9 stay, and
    '_' becomes DEL, which occurs in no word; non-ASCII bytes (already lowercased text) are kept."""
    return chunks | ((~chunks & np.uint64(0x8080808080808080)) >> np.uint64(2))


def _word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """uint64 hash of every word of the normalized texts, concatenated, and the word count of each text.

    Python's per-word string objects cost more than all the hashing, so words never become objects:
    ASCII texts (already NFKC) are lowercased and split on non-word bytes as one numpy byte array, which
    is what `normalize` does to them; other texts go through `normalize` first. A word is hashed by
    folding its 8-byte little-endian chunks through the MurmurHash3 finalizer (a bijection: words of
    up to 8 bytes never collide), one array pass per chunk position over the words that long.
    """
    encoded = [(t if t.isascii() else normalize(t)).encode() for t in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    # one leading space so every word has a non-word byte before it, and 8 after for the last chunk read
    data = np.frombuffer(b" " + b" ".join(encoded) + b" " * 9, dtype=np.uint8)
    is_word = _WORD_BYTE[data]
    starts = np.flatnonzero(is_word[1:] > is_word[:-1]) + 1
    size = np.flatnonzero(is_word[:-1] > is_word[1:]) + 1 - starts
    # unaligned 8-byte view: chunk[i] is the little-endian uint64 of data[i : i + 8]
    chunk = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    hashes = _fmix64(_lower(chunk[starts]) & _MASKS[np.minimum(size, 8)])
    active, offset = np.flatnonzero(size > 8), 8
    while len(active):  # words longer than 8 bytes: fold in their next 8-byte chunk
        left = np.minimum(size[active] - offset, 8)
        hashes[active] = _fmix64(hashes[active] ^ (_lower(chunk[starts[active] + offset]) & _MASKS[left]))
        active, offset = active[size[active] > offset + 8], offset + 8
    words_before = np.searchsorted(starts, np.cumsum(lengths + 1))  # the space after text d
    return hashes, np.diff(words_before, prepend=0)


def shingle_batch(texts: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """uint64 hashes of the word n-grams of all texts, concatenated, and each text's start offset.

    A text shorter than n words gives one shingle of its whole text (an empty text one shingle too).
    """
    word_h, n_words = _word_hashes(texts)
    # zero-hash padding after each text (>= n - 1, and a full window for short texts) keeps every
    # window inside its own text
    pad = np.maximum(n - n_words, n - 1)
    padded_starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum((n_words + pad)[:-1], out=padded_starts[1:])
    padded = np.zeros(int((n_words + pad).sum()), dtype=np.uint64)
    padded[np.arange(len(word_h)) + np.repeat(padded_starts - (np.cumsum(n_words) - n_words), n_words)] = (
        word_h
    )
    coef = np.random.default_rng(0x5EED).bit_generator.random_raw(n)  # fixed: stable across processes
    m = len(padded) - n + 1
    acc = padded[:m] * coef[0]
    for k in range(1, n):  # one array pass per n-gram position: sum_k coef_k * word_hash_k mod 2^64
        acc += padded[k : k + m] * coef[k]
    counts = np.maximum(n_words - n + 1, 1)  # shingles per text
    starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    windows = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(padded_starts - starts, counts)
    return _fmix64(acc[windows]), starts


def shingles(text: str, n: int) -> np.ndarray:
    """uint64 hashes of the word n-grams of one text (one hash per n-gram occurrence)."""
    return shingle_batch([text], n)[0]


class MinHasher:
    """MinHash signatures (n_texts, num_perm) uint32 over word n-gram shingles."""

    def __init__(self, num_perm: int = 128, ngram: int = 5, seed: int = 1) -> None:
        self.num_perm, self.ngram, self.seed = num_perm, ngram, seed
        raw = np.random.default_rng(seed).bit_generator.random_raw(2 * num_perm)
        self.a = (raw[:num_perm] | 1).astype(np.uint32)  # odd: x -> a*x + b is a bijection mod 2^32
        self.b = raw[num_perm:].astype(np.uint32)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        return self.from_shingles(*shingle_batch(texts, self.ngram))

    def from_shingles(self, hashes: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Signatures of texts whose shingle hashes are hashes[starts[d]:starts[d + 1]]."""
        x = (hashes >> np.uint64(32)).astype(np.uint32)  # the finalizer's high bits are the best mixed
        n, total = len(starts), len(x)
        # (num_perm, shingles) layout: reduceat along the contiguous axis is ~5x faster than along rows
        sigs = np.empty((self.num_perm, n), dtype=np.uint32)
        a, b = self.a[:, None], self.b[:, None]
        d0 = 0
        while d0 < n:  # blocks of whole texts, ~_CHUNK shingles each, so the product stays in cache
            d1 = max(int(np.searchsorted(starts, starts[d0] + _CHUNK)), d0 + 1)
            s0, s1 = int(starts[d0]), int(starts[d1]) if d1 < n else total
            block = np.multiply(a, x[None, s0:s1])  # uint32 wraparound is the mod 2^32
            block += b
            sigs[:, d0:d1] = np.minimum.reduceat(block, starts[d0:d1] - s0, axis=1)
            d0 = d1
        return np.ascontiguousarray(sigs.T)


def optimal_params(
    threshold: float, num_perm: int, weights: tuple[float, float] = (0.01, 0.99)
) -> tuple[int, int]:
    """(bands, rows) minimizing fp_weight * FP area + fn_weight * FN area of the LSH S-curve.

    The default weights favour recall: a false candidate costs one verification, a missed one is lost.
    """
    below, above = np.linspace(0.0, threshold, 401), np.linspace(threshold, 1.0, 401)
    best, params = np.inf, (1, num_perm)
    for b in range(1, num_perm + 1):
        r = np.arange(1, num_perm // b + 1)[:, None]
        fp = np.trapezoid(1 - (1 - below**r) ** b, below, axis=1)
        fn = np.trapezoid((1 - above**r) ** b, above, axis=1)
        err = weights[0] * fp + weights[1] * fn
        if err.min() < best:
            best, params = float(err.min()), (b, int(err.argmin()) + 1)
    return params


def _join(q_keys: np.ndarray, r_keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (q, r) with q_keys[q] == r_keys[r]; r_keys=None: pairs q != r within q_keys, once."""
    order = np.argsort(q_keys if r_keys is None else r_keys, kind="stable")
    ordered = (q_keys if r_keys is None else r_keys)[order]
    if r_keys is None:  # pair each sorted position with the later ones of its run of equal keys
        first = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        run_end = np.repeat(np.append(first[1:], len(ordered)), np.diff(first, append=len(ordered)))
        pos = np.arange(len(ordered))
        cnt = run_end - pos - 1
        left = np.repeat(pos, cnt)
        right = left + 1 + np.arange(len(left)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return order[left], order[right]
    lo = np.searchsorted(ordered, q_keys, "left")
    cnt = np.searchsorted(ordered, q_keys, "right") - lo
    q = np.repeat(np.arange(len(q_keys)), cnt)
    return q, order[np.arange(len(q)) - np.repeat(np.cumsum(cnt) - cnt - lo, cnt)]


class LSHIndex:
    """Banded MinHash LSH; candidates are verified with the signature Jaccard estimate."""

    def __init__(
        self, threshold: float = 0.8, num_perm: int = 128, weights: tuple[float, float] = (0.01, 0.99)
    ) -> None:
        self.threshold, self.num_perm = threshold, num_perm
        self.bands, self.rows = optimal_params(threshold, num_perm, weights)
        # one random 64-bit coefficient per (band, row): two different bands (or the same rows in
        # different bands) collide with probability <= 2^-32, and verification removes those
        self._coef = np.random.default_rng(0xBA4D).bit_generator.random_raw((self.bands, self.rows))

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n * bands,) uint64 keys, row-major: key i * bands + k is band k of signature i."""
        used = sigs[:, : self.bands * self.rows].astype(np.uint64).reshape(len(sigs), self.bands, self.rows)
        return (used * self._coef).sum(axis=2, dtype=np.uint64).ravel()

    def candidates(self, sigs: np.ndarray, ref_sigs: np.ndarray | None = None) -> np.ndarray:
        """Unverified (m, 2) pairs sharing a band: (i, j), i < j within sigs, or (i, ref j)."""
        keys = self.band_keys(sigs)
        q, r = _join(keys, None if ref_sigs is None else self.band_keys(ref_sigs))
        q //= self.bands
        r //= self.bands
        if ref_sigs is None:  # (i, j) with i < j; drop a text meeting itself in two bands
            q, r = np.minimum(q, r), np.maximum(q, r)
            keep = q < r
            q, r = q[keep], r[keep]
        width = len(sigs) if ref_sigs is None else len(ref_sigs)
        codes = np.unique(q * width + r)  # a pair shares several bands: count it once
        return np.stack([codes // width, codes % width], axis=1)

    def _verified(self, pairs: np.ndarray, sigs: np.ndarray, ref_sigs: np.ndarray) -> set[tuple[int, int]]:
        est = (sigs[pairs[:, 0]] == ref_sigs[pairs[:, 1]]).mean(axis=1)
        return {(int(i), int(j)) for i, j in pairs[est >= self.threshold]}

    def candidate_pairs(self, sigs: np.ndarray) -> set[tuple[int, int]]:
        """Pairs (i, j), i < j, of signatures whose estimated Jaccard is >= threshold."""
        return self._verified(self.candidates(sigs), sigs, sigs)

    def query(self, ref_sigs: np.ndarray, sigs: np.ndarray) -> set[tuple[int, int]]:
        """Pairs (i, ref j) of a signature and a reference signature with estimated Jaccard >= threshold."""
        return self._verified(self.candidates(sigs, ref_sigs), sigs, ref_sigs)


def _gather(hashes: np.ndarray, starts: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shingle hashes of texts `docs`, concatenated, and how many each has."""
    sizes = np.diff(starts, append=len(hashes))[docs]
    first = np.cumsum(sizes) - sizes
    return hashes[np.arange(int(sizes.sum())) + np.repeat(starts[docs] - first, sizes)], sizes


def _exact_jaccard(
    pairs: np.ndarray, shingled: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Exact Jaccard of the shingle sets of each pair (text i, reference j), all pairs in one sort.

    Each shingle becomes the key (hash ^ mix(pair)) with its lowest bit replaced by its side (0: text,
    1: reference): after sorting, distinct keys are the per-side sets, and a value seen with both
    sides is in the intersection. Keys of different pairs meet with probability 2^-63.
    """
    if len(pairs) == 0:
        return np.zeros(0)
    left, left_n = _gather(*shingled, pairs[:, 0])
    right, right_n = _gather(*ref, pairs[:, 1])
    ids = np.arange(len(pairs))
    pair = np.concatenate([np.repeat(ids, left_n), np.repeat(ids, right_n)])
    side = np.concatenate([np.zeros(len(left), np.uint64), np.ones(len(right), np.uint64)])
    key = (np.concatenate([left, right]) ^ _fmix64(pair.astype(np.uint64) + np.uint64(1))) & ~np.uint64(1)
    order = np.argsort(key | side)
    key, pair = (key | side)[order], pair[order]
    distinct = np.concatenate([[True], key[1:] != key[:-1]])  # sets, not multisets
    key, pair = key[distinct], pair[distinct]
    both = (key[1:] >> np.uint64(1)) == (key[:-1] >> np.uint64(1))
    inter = np.bincount(pair[1:][both], minlength=len(pairs))
    return inter / (np.bincount(pair, minlength=len(pairs)) - inter)


def _near(
    texts: Sequence[str],
    reference: Sequence[str] | None,
    threshold: float,
    ngram: int,
    num_perm: int,
    seed: int,
) -> list[tuple[int, int, float]]:
    hasher, index = MinHasher(num_perm, ngram, seed), LSHIndex(threshold, num_perm)
    shingled = shingle_batch(texts, ngram)
    sigs = hasher.from_shingles(*shingled)
    ref = shingled if reference is None else shingle_batch(reference, ngram)
    pairs = index.candidates(sigs, None if reference is None else hasher.from_shingles(*ref))
    jac = _exact_jaccard(pairs, shingled, ref)
    keep = jac >= threshold
    return [(int(i), int(j), float(s)) for (i, j), s in zip(pairs[keep], jac[keep], strict=True)]


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = 0.8, ngram: int = 5, num_perm: int = 128, seed: int = 1
) -> list[tuple[int, int, float]]:
    """(i, j, jaccard), i < j, sorted: pairs of texts whose n-gram shingle Jaccard is >= threshold."""
    return _near(texts, None, threshold, ngram, num_perm, seed)


def near_duplicates_against(
    texts: Sequence[str],
    reference_texts: Sequence[str],
    threshold: float = 0.8,
    ngram: int = 5,
    num_perm: int = 128,
    seed: int = 1,
) -> list[tuple[int, int, float]]:
    """(i, ref j, jaccard) for each text and reference text (e.g. its seeds) at Jaccard >= threshold."""
    return _near(texts, reference_texts, threshold, ngram, num_perm, seed)


def jaccard(a: str, b: str, n: int) -> float:
    """Exact Jaccard similarity of two texts' shingle sets: for a few known pairs (MinHash finds pairs)."""
    sa, sb = np.unique(shingles(a, n)), np.unique(shingles(b, n))
    union = len(np.union1d(sa, sb))
    return len(np.intersect1d(sa, sb, assume_unique=True)) / union if union else 0.0


def duplicate_clusters(n: int, pairs: Iterable[Sequence[int | float]]) -> list[int]:
    """Cluster representative of each of n items: the smallest index connected to it by pairs.

    Keep item i iff clusters[i] == i: the first occurrence of each cluster stays, the rest are rejected.
    """
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for i, j, *_ in pairs:
        a, b = find(int(i)), find(int(j))
        if a != b:  # link the larger root under the smaller: every root is its cluster's minimum
            parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(n)]
