"""The index structures of ``FaqMatcher``: sparse postings by feature and their dense part.

``_Postings`` holds a sparse (row x feature) matrix by column, so a query multiplies only the
postings of its own features (``_Postings.dot``).  ``_DenseCommon`` copies the most frequent
features into dense matrices; ``_batch_dot`` uses it to score many queries at once (the per-FAQ
shift estimate of ``FaqMatcher._unseen_intent_shift``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

_DENSE_COLS = 256  # for the estimate, features this frequent are multiplied as dense matrices (speed only)
_DENSE_MIN_POSTINGS = 64


def _ranges(starts: np.ndarray, lens: np.ndarray, total: int | None = None) -> np.ndarray:
    """The concatenation of ``arange(s, s + n)`` for every ``s, n`` in ``starts, lens`` (without a Python loop)."""
    if total is None:
        total = int(lens.sum())
    return np.repeat(starts, lens) + (np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens))


@dataclass(slots=True)
class _Postings:
    """A sparse matrix stored by column (feature): rows[ptr[f]:ptr[f+1]] hold the feature's rows."""

    ptr: np.ndarray
    rows: np.ndarray
    vals: tuple[np.ndarray, ...] = field(default_factory=tuple)

    @classmethod
    def build(cls, cols: np.ndarray, rows: np.ndarray, vals: Sequence[np.ndarray], n_cols: int) -> _Postings:
        order = np.argsort(cols, kind="stable")
        ptr = np.zeros(n_cols + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n_cols), out=ptr[1:])
        return cls(ptr, rows[order].astype(np.int32), tuple(v[order].astype(np.float64) for v in vals))

    def dot(self, qcols: Sequence[int], qvals: Sequence[float], n_rows: int) -> list[np.ndarray]:
        """Matrix-vector products of every value array with the sparse query vector."""
        if len(qcols) == 0:
            return [np.zeros(n_rows) for _ in self.vals]
        qc = np.asarray(qcols, dtype=np.int64)
        starts = self.ptr[qc]
        lens = self.ptr[qc + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return [np.zeros(n_rows) for _ in self.vals]
        idx = _ranges(starts, lens, total)
        reps = np.repeat(np.asarray(qvals, dtype=np.float64), lens)
        rows = self.rows[idx]
        return [np.bincount(rows, weights=v[idx] * reps, minlength=n_rows) for v in self.vals]


@dataclass(slots=True)
class _DenseCommon:
    """The ``_DENSE_COLS`` features with the longest postings as dense (feature x row) matrices."""

    index: np.ndarray  # feature -> row of ``mats`` (-1: not dense)
    cols: np.ndarray
    mats: tuple[np.ndarray, ...]

    @classmethod
    def build(cls, post: _Postings, width: int) -> _DenseCommon:
        plens = np.diff(post.ptr)
        cols = np.argsort(-plens, kind="stable")[:_DENSE_COLS]
        cols = cols[plens[cols] >= _DENSE_MIN_POSTINGS]
        index = np.full(len(plens), -1, dtype=np.int64)
        index[cols] = np.arange(len(cols))
        lens = plens[cols]
        pos = _ranges(post.ptr[cols], lens)
        k_of = np.repeat(np.arange(len(cols)), lens)
        mats = []
        for val in post.vals:
            mat = np.zeros((len(cols), width))
            mat[k_of, post.rows[pos]] = val[pos]
            mats.append(mat)
        return cls(index, cols, tuple(mats))


def _batch_dot(
    post: _Postings, common: _DenseCommon, c: np.ndarray, v: np.ndarray, q_of: np.ndarray, n_q: int, width: int
) -> list[np.ndarray]:
    """Products of every value array of ``post`` with ``n_q`` sparse queries at once, as (n_q x width) arrays.

    The queries are given as triplets: feature ``c``, weight ``v`` and query number ``q_of``.  The
    most frequent features (``common``) go through a dense matrix product, the rest through the postings.
    """
    k = common.index[c]
    is_common = k >= 0
    qd = np.zeros((n_q, len(common.cols)))
    qd[q_of[is_common], k[is_common]] = v[is_common]
    rc, rv, rq = c[~is_common], v[~is_common], q_of[~is_common]
    plens = post.ptr[rc + 1] - post.ptr[rc]
    idx = _ranges(post.ptr[rc], plens)
    key = np.repeat(rq, plens) * width + post.rows[idx]
    w = np.repeat(rv, plens)
    return [
        np.bincount(key, weights=w * val[idx], minlength=n_q * width).reshape(n_q, width) + qd @ mat
        for val, mat in zip(post.vals, common.mats, strict=True)
    ]
