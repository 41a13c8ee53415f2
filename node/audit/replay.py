"""``audit replay``: verify a whole chain from genesis and rebuild its state locally.

Theory of operation
-------------------
Replay trusts only genesis. For each height, in order:

1. the source's block is the one expected (its height; its ``parent_hash``
   is the hash of the block we accepted before it: the hash chain);
2. its certificate names this block and carries a quorum of valid COMMIT
   signatures of the validator set in force at that height; the set is read
   from the replayed state, so every governance change on the way is
   followed, not taken from the source;
3. the node's own ``Executor`` re-executes the block into a local LevelDB:
   tx root, each tx's signature and chain id, header rules, the sender's role
   and every contract rule, then the receipts root and the state root.

Signatures dominate the cost, so a process pool verifies the txs of the
next window of blocks while the main process executes the current one;
verdicts seed the executor's signature cache (``node.audit.sigpool``).

The local store is the checkpoint: a second run opens it and continues
from its head. The first failure stops replay with a ``Mismatch`` naming
the height, the check that failed and who signed the certificate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chain.errors import CertificateError
from chain.genesis import Genesis
from chain.types import Block, CommitCertificate, ReceiptStatus, header_hash
from chain.validators import ValidatorSet, certificate_signers, verify_certificate
from node.audit.errors import Mismatch, SourceError
from node.audit.sigpool import PreverifiedCache, SignaturePool
from node.audit.source import Fetched, Source
from node.executor import BlockRejected, Execution, Executor
from storage.store import Store

__all__ = ["ReplayReport", "apply_block", "replay", "signer_names"]

WINDOW_TXS = 4_000
"""Roughly how many txs the pool verifies ahead of execution."""
WINDOW_BLOCKS = 500
FETCH_STEP = 4


@dataclass
class ReplayReport:
    """What a replay checked and found; ``mismatch`` is None when everything verified."""

    chain_id: str
    genesis_hash: str
    data_dir: str
    resumed_from: int
    head: int = 0
    blocks: int = 0
    txs: int = 0
    rejected_txs: int = 0
    validator_set_changes: list[int] = field(default_factory=list)
    state_root: str = ""
    head_hash: str = ""
    seconds: float = 0.0
    execute_s: float = 0.0
    """Time the main process spent checking and re-executing blocks."""
    signature_wait_s: float = 0.0
    """Time it waited for the signature pool (near zero: execution is the bound)."""
    mismatch: Mismatch | None = None

    @property
    def ok(self) -> bool:
        return self.mismatch is None

    @property
    def tx_per_s(self) -> float:
        return self.txs / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ok=self.ok, tx_per_s=round(self.tx_per_s, 1), seconds=round(self.seconds, 3),
                    execute_s=round(self.execute_s, 3),
                    signature_wait_s=round(self.signature_wait_s, 3))
        data["mismatch"] = None if self.mismatch is None else self.mismatch.to_json()
        return data


def replay(
    genesis: Genesis,
    genesis_hash: bytes,
    source: Source,
    data_dir: Path,
    workers: int | None = None,
    on_block: Callable[[int], None] = lambda _: None,
    on_start: Callable[[int, int], None] = lambda _a, _b: None,
) -> ReplayReport:
    """Replay ``source`` into the store at ``data_dir``; see the module docstring.

    ``on_start(first, last)`` announces the heights to replay; ``on_block(txs)``
    is called after each verified block (for progress bars).
    """
    store = Store.open(data_dir, genesis.suite, genesis.chain_id, genesis_hash)
    try:
        executor = Executor(store, genesis, genesis_hash)
        executor.signatures = PreverifiedCache(executor.suite)
        report = ReplayReport(
            genesis.chain_id, genesis_hash.hex(), str(data_dir), executor.head.height
        )
        started = time.perf_counter()
        first, last = executor.head.height + 1, source.head()
        on_start(first, last)
        with SignaturePool(executor.suite, workers) as pool:
            for pairs, pending in _windows(source, pool, first, last):
                waited = time.perf_counter()
                executor.signatures.seed(pending.result())
                applied = time.perf_counter()
                report.signature_wait_s += applied - waited
                ok = _apply_window(executor, pairs, report, on_block)
                report.execute_s += time.perf_counter() - applied
                if not ok:
                    break
        report.seconds = time.perf_counter() - started
        head = executor.head
        report.head, report.head_hash, report.state_root = (
            head.height, head.block_hash.hex(), head.state_root.hex())
        return report
    finally:
        store.close()


def _windows(source: Source, pool: SignaturePool, first: int, last: int) -> Iterator[Any]:
    """Yield (blocks, pending verdicts) per window, submitting the next before yielding."""
    ahead = None
    height = first
    while height <= last or ahead is not None:
        current, ahead = ahead, None
        if height <= last:
            pairs = _fetch_window(source, height, last)
            ahead = (pairs, pool.submit([(f.block, f.raw) for f in pairs]))
            height += len(pairs)
        if current is not None:
            yield current


def _fetch_window(source: Source, start: int, last: int) -> list[Fetched]:
    """Blocks from ``start`` until about ``WINDOW_TXS`` txs (fetched in small steps, so
    a window of big blocks never decodes blocks it will not use)."""
    pairs: list[Fetched] = []
    txs = 0
    while start <= last and txs < WINDOW_TXS and len(pairs) < WINDOW_BLOCKS:
        step = source.fetch(start, min(last, start + FETCH_STEP - 1))
        if not step:
            raise SourceError(f"the source has no block {start} although its head is {last}")
        pairs += step
        txs += sum(len(f.block.txs) for f in step)
        start += len(step)
    return pairs


def _apply_window(
    executor: Executor, pairs: list[Fetched], report: ReplayReport,
    on_block: Callable[[int], None],
) -> bool:
    """Apply blocks in order; on the first failure record it and return False."""
    for block, cert, _ in pairs:
        before = executor.validator_set()
        outcome = apply_block(executor, block, cert)
        if isinstance(outcome, Mismatch):
            report.mismatch = outcome
            return False
        report.blocks += 1
        report.txs += len(block.txs)
        report.rejected_txs += sum(r.status == ReceiptStatus.REJECTED for r in outcome.receipts)
        if executor.validator_set() != before:
            report.validator_set_changes.append(block.header.height + 1)
        on_block(len(block.txs))
    return True


def apply_block(
    executor: Executor, block: Block, cert: CommitCertificate | None
) -> Mismatch | Execution:
    """Check and commit one block on the executor's head: its execution, or the failure."""
    header = block.header
    expected = executor.head.height + 1
    digest = header_hash(executor.suite, header)
    valset = executor.validator_set()

    def fail(what: str, detail: str) -> Mismatch:
        names = signer_names(valset, cert) if cert is not None else []
        return Mismatch(expected, what, detail, digest.hex(), names)

    if header.height != expected:
        return fail("height", f"the source gave block {header.height} where {expected} belongs")
    if header.parent_hash != executor.head.block_hash:
        return fail("hash_chain", "parent hash is not the hash of the previous verified block")
    if cert is None:
        return fail("certificate", "the block has no commit certificate")
    if cert.block_hash != digest or cert.height != header.height:
        return fail("certificate", "the certificate is for another block than this header")
    try:
        verify_certificate(executor.suite, executor.chain_id, valset, cert)
    except CertificateError as exc:
        return fail("certificate", exc.message)
    try:
        return executor.commit(block, cert)
    except BlockRejected as exc:
        return fail(_classify(exc.message), exc.message)


_CATEGORIES = (
    ("tx_root", "tx_root"),
    ("lists a tx twice", "tx_root"),
    ("bad signature", "tx_signature"),
    ("receipts root", "receipts_root"),
    ("state root", "state_root"),
)


def _classify(message: str) -> str:
    """The stable category of an executor rejection (its messages are prose)."""
    return next((what for needle, what in _CATEGORIES if needle in message), "header")


def signer_names(valset: ValidatorSet, cert: CommitCertificate) -> list[str]:
    """Names of the validators a certificate's bitmap claims; unknown bits named by index."""
    try:
        indices = certificate_signers(valset, cert.signers)
    except CertificateError:
        bits = [i for i in range(len(cert.signers) * 8) if cert.signers[i // 8] >> (i % 8) & 1]
        return [
            valset.validators[i].name if i < len(valset) else f"#{i} (outside the set)"
            for i in bits
        ]
    return [valset.validators[i].name for i in indices]
