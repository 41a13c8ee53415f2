"""Tx signature checks spread over every core, feeding the executor's cache.

Replay's floor is Ed25519 verification. The executor checks each tx through
its ``SignatureCache``; here a process pool verifies a whole window of blocks
ahead of execution, and the verdicts seed a ``PreverifiedCache`` so the
executor never verifies a good signature twice. A bad signature is simply
not seeded: the executor then verifies it itself and rejects the block at
the exact height, with its usual message — one definition of "bad tx".

Workers receive encoded blocks (one bytes object each, cheap to pickle),
decode, hash and verify them, and build the suite by name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Executor as PoolExecutor
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from chain.crypto import CryptoSuite, get_suite
from chain.errors import DecodeError
from chain.types import Block, Tx, tx_hash, verify_tx_signature
from node.mempool import SignatureCache

__all__ = ["PreverifiedCache", "SignaturePool", "WindowVerdicts"]

WindowVerdicts = list[tuple[bytes, bytes]]
"""(tx hash, signature) pairs whose signature verified."""

_SUITE: CryptoSuite | None = None


def _init_worker(suite_name: str) -> None:
    global _SUITE
    _SUITE = get_suite(suite_name)


def _verify_blocks(encoded: Sequence[bytes]) -> WindowVerdicts:
    """Worker side: decode blocks, hash and verify every tx; return the good ones.

    Decoding and hashing happen here too, so the main process, which must
    execute serially, does as little per tx as possible.
    """
    suite = _SUITE
    assert suite is not None
    good: WindowVerdicts = []
    for raw in encoded:
        for tx in Block.decode(raw).txs:
            if verify_tx_signature(suite, tx):
                good.append((tx_hash(suite, tx), tx.signature))
    return good


class PreverifiedCache(SignatureCache):
    """A ``SignatureCache`` that also accepts verdicts reached elsewhere (the pool)."""

    def __init__(self, suite: CryptoSuite) -> None:
        super().__init__(suite)
        self._seeded: set[bytes] = set()

    def seed(self, verdicts: WindowVerdicts) -> None:
        """Remember that these (tx hash, signature) pairs verified."""
        self._seeded.update(digest + signature for digest, signature in verdicts)

    def check(self, tx: Tx, digest: bytes) -> bool:
        key = digest + tx.signature
        if key in self._seeded:
            self._seeded.discard(key)
            return True
        return super().check(tx, digest)


class SignaturePool:
    """A process pool verifying the tx signatures of block windows."""

    def __init__(self, suite: CryptoSuite, workers: int | None = None) -> None:
        self.suite = suite
        self.workers = workers or os.cpu_count() or 1
        self._pool: PoolExecutor = ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("fork"),
            initializer=_init_worker,
            initargs=(suite.name,),
        )

    def __enter__(self) -> SignaturePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, blocks: Sequence[tuple[Block, bytes]]) -> _PendingWindow:
        """Start verifying every tx of ``(block, its encoding)``; ``result()`` gives the good."""
        total = sum(len(b.txs) for b, _ in blocks)
        share = max(64, -(-total // (self.workers * 2)))
        futures, chunk, count = [], [], 0
        try:
            for block, raw in blocks:
                chunk.append(raw)
                count += len(block.txs)
                if count >= share:
                    futures.append(self._pool.submit(_verify_blocks, chunk))
                    chunk, count = [], 0
            if chunk:
                futures.append(self._pool.submit(_verify_blocks, chunk))
        except BrokenProcessPool:
            return _PendingWindow([])  # the executor verifies everything itself
        return _PendingWindow(futures)


class _PendingWindow:
    """Verdicts of one submitted window, collected on demand."""

    def __init__(self, futures: list[Future[WindowVerdicts]]) -> None:
        self._futures = futures

    def result(self) -> WindowVerdicts:
        """The good (hash, signature) pairs; a lost worker only costs speed: whatever is not
        seeded here the executor verifies itself."""
        good: WindowVerdicts = []
        for future in self._futures:
            try:
                good.extend(future.result())
            except (BrokenProcessPool, DecodeError):
                continue
        return good
