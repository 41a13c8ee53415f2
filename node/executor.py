"""The executor: where consensus, contracts and storage meet (the node's ABCI).

Theory of operation
-------------------
Consensus never touches state; it asks the executor three things:

* **propose** — the primary turns pending txs into a block: execute them on
  an overlay of the committed state, then fill the header with the tx root,
  the receipts root and the post-state root ("execute, then vote").
* **verify** — a replica re-executes a proposed block the same way and
  accepts it only when every root matches and every rule a header must obey
  holds (chain, height, parent, time, validator-set hash, proposer, tx
  signatures). Verdicts are kept, so a block is executed once per node.
  Its body half (size, tx root, signatures, depth) is ``check_body``, which
  the replica runs on every body a peer sends before keeping it.
* **commit** — a block with its certificate is written in one synced batch
  (``Store.commit``) from the execution that verified it.

The auditor's replay runs the same ``verify`` + ``commit`` path block after
block, trusting only genesis: there is one definition of "executing a block".

**speculate** — a replica may execute the primary's txs *before* the
proposal arrives, from the primary's preview (see ``node.consensus_driver``),
while the primary executes the same txs: on a machine where validators share
cores, proposing and verifying then overlap instead of following each other.
Executing a block is a pure function of the parent state, the block context
(height, time, proposer) and the ordered txs, and a tx hash covers every tx
field but the signature; so when ``verify`` meets a block with that parent,
context and those tx hashes, it takes the speculative receipts and state
update instead of executing again. Everything else ``verify`` checks is
checked as before (header rules, tx root, every signature, receipts root,
state root): a speculation can save work, never change a verdict. One
speculative result is kept at a time.

The validator set for height h is fixed by the state after h-1, so after each
commit the executor reads the set for the next height from the new state.

Each tx body is parsed once per node: ``parsed_bodies`` (set by the node to
the mempool's ``parsed_body``) finds the body parsed at admission by tx hash,
for proposals and for verified blocks alike; txs not in the pool (a block
caught up from a peer, the auditor's replay) are parsed during execution. The
outcome is the same either way (see ``contracts.execute``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import contracts
from chain.blocks import check_tx_root, receipts_root, tx_root
from chain.codec import is_nested_deeper
from chain.errors import CertificateError, DecodeError, InputError, InternalError
from chain.genesis import Genesis
from chain.types import Block, BlockHeader, CommitCertificate, Receipt, Tx, header_hash
from chain.validators import ValidatorSet, verify_certificate
from consensus.messages import max_block_bytes
from node import crashpoints
from node.mempool import SignatureCache
from storage.state_tree import TreeUpdate
from storage.store import Head, Store

__all__ = ["BlockRejected", "Execution", "Executor", "MAX_FUTURE_DRIFT_S"]

MAX_FUTURE_DRIFT_S = 30
"""A proposal may not claim a time more than this far past the verifier's clock."""

MAX_BODY_DEPTH = 8
"""Nesting a tx body may have in a block (every body schema needs 5 at most).

A block travels inside messages (a NEW-VIEW's prepared certificates, catch-up
responses) and WAL records that wrap it several lists deeper, and each of those
must stay within ``chain.codec.MAX_DEPTH`` or no peer can decode it: a body
deep enough to fit a PRE-PREPARE but not a NEW-VIEW would let a Byzantine
primary stall the height it prepared. Bodies parsed at admission are bounded by
their schema, so only the others are walked.
"""


Changes = dict[bytes, bytes | None]


def _speculation_key(
    parent: bytes, height: int, time_s: int, proposer: bytes, hashes: list[bytes]
) -> tuple[object, ...]:
    """What a block's execution depends on besides the parent state (see ``speculate``)."""
    return (parent, height, time_s, proposer, b"".join(hashes))


class BlockRejected(InputError):
    """A proposed or fetched block that this node will not vote for or apply."""

    code = "block_rejected"


@dataclass(frozen=True, slots=True)
class Execution:
    """The outcome of executing one block on top of the committed head."""

    block: Block
    block_hash: bytes
    tx_hashes: list[bytes]
    receipts: list[Receipt]
    changes: Changes
    update: TreeUpdate


class Executor:
    """Executes blocks over a node's store; see the module docstring."""

    def __init__(self, store: Store, genesis: Genesis, genesis_hash: bytes) -> None:
        self.store = store
        self.suite = store.suite
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.signatures = SignatureCache(self.suite)
        self._verified: OrderedDict[bytes, Execution] = OrderedDict()
        if store.head is None:
            self._write_genesis(genesis_hash)
        self._valset_height = -1
        self._valset: ValidatorSet | None = None
        self._head_time: tuple[int, int] | None = None
        self.parsed_bodies: Callable[[bytes], object | None] | None = None
        self._speculation: tuple[tuple[object, ...], list[Receipt], Changes, TreeUpdate] | None
        self._speculation = None
        self.speculations = 0
        self.speculation_hits = 0

    def _write_genesis(self, genesis_hash: bytes) -> None:
        overlay = contracts.Overlay(self.store.state)
        contracts.init_genesis(overlay, self.genesis)
        changes = overlay.changes()
        update = self.store.tree.compute(0, 0, changes)
        self.store.commit_genesis(genesis_hash, update, changes)

    @property
    def head(self) -> Head:
        head = self.store.head
        if head is None:
            raise InternalError("executor used before genesis was written")
        return head

    def validator_set(self) -> ValidatorSet:
        """The set in force for the next height (fixed by the committed state)."""
        if self._valset_height != self.head.height:
            self._valset = contracts.validator_set_at(contracts.Overlay(self.store.state))
            self._valset_height = self.head.height
        assert self._valset is not None
        return self._valset

    def parent_time(self) -> int:
        """Time of the head block (genesis time at height 0).

        Remembered per head height: reading it from the store means decoding the
        whole head block, and every proposal and verification asks for it.
        """
        head = self.head
        if self._head_time is None or self._head_time[0] != head.height:
            if head.height == 0:
                time_s = self.genesis.genesis_time
            else:
                block = self.store.block(head.height)
                assert block is not None
                time_s = block.header.time
            self._head_time = (head.height, time_s)
        return self._head_time[1]

    # -- propose ---------------------------------------------------------------

    def propose(
        self, view: int, time_s: int, proposer: bytes, txs: Sequence[tuple[Tx, bytes]]
    ) -> Execution:
        """Execute ``txs`` (already admitted) and build the block to propose."""
        head = self.head
        height = head.height + 1
        time_s = max(time_s, self.parent_time())
        ctx = contracts.BlockContext(height, time_s, proposer, self.suite, self.chain_id)
        receipts, changes = self._run(ctx, txs)
        update = self.store.tree.compute(head.height, height, changes)
        block_txs = tuple(tx for tx, _ in txs)
        hashes = [digest for _, digest in txs]
        header = BlockHeader(
            self.chain_id,
            height,
            view,
            time_s,
            head.block_hash,
            proposer,
            tx_root(self.suite, block_txs, hashes),
            receipts_root(self.suite, receipts),
            update.root,
            self.validator_set().hash(self.suite),
        )
        block = Block(header, block_txs)
        return self._remember(
            Execution(block, header_hash(self.suite, header), hashes, receipts, changes, update)
        )

    def _run(
        self, ctx: contracts.BlockContext, txs: Sequence[tuple[Tx, bytes]]
    ) -> tuple[list[Receipt], dict[bytes, bytes | None]]:
        overlay = contracts.Overlay(self.store.state)
        receipts = contracts.execute_block(overlay, ctx, list(txs), self.parsed_bodies)
        return receipts, overlay.changes()

    # -- speculate -------------------------------------------------------------

    def speculate(
        self, height: int, time_s: int, proposer: bytes, txs: Sequence[tuple[Tx, bytes]]
    ) -> bool:
        """Execute ``txs`` as the block (height, time, proposer) on the head, ahead of
        its proposal, and keep the outcome for ``verify``; False when the head is not
        that block's parent (nothing is executed)."""
        head = self.head
        if height != head.height + 1 or time_s < self.parent_time():
            return False
        if any(e.block.header.height == height for e in self._verified.values()):
            return False  # the proposal came first and is verified: nothing to gain
        ctx = contracts.BlockContext(height, time_s, proposer, self.suite, self.chain_id)
        receipts, changes = self._run(ctx, txs)
        update = self.store.tree.compute(head.height, height, changes)
        key = _speculation_key(head.block_hash, height, time_s, proposer, [d for _, d in txs])
        self._speculation = (key, receipts, changes, update)
        self.speculations += 1
        return True

    def _speculated(
        self, header: BlockHeader, hashes: list[bytes]
    ) -> tuple[list[Receipt], Changes, TreeUpdate] | None:
        """The speculative outcome for exactly this block's parent, context and txs."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return None
        key = _speculation_key(header.parent_hash, header.height, header.time, header.proposer,
                               hashes)
        if speculation[0] != key or header.parent_hash != self.head.block_hash:
            return None
        self.speculation_hits += 1
        return speculation[1], speculation[2], speculation[3]

    # -- verify ----------------------------------------------------------------

    def verify(self, block: Block, now_s: int | None = None) -> Execution:
        """Re-execute ``block`` on the head; raise ``BlockRejected`` saying what differs."""
        digest = header_hash(self.suite, block.header)
        known = self._verified.get(digest)
        if known is not None and (block is known.block or block.encode() == known.block.encode()):
            return known  # the very block verified before (same header is not enough: a
            # peer may pair a certified header with other txs; those are checked below)
        header = block.header
        self._check_header(header, now_s)
        hashes = self._check_body(block)
        speculated = self._speculated(header, hashes)
        if speculated is None:
            ctx = contracts.BlockContext(
                header.height, header.time, header.proposer, self.suite, self.chain_id
            )
            receipts, changes = self._run(ctx, list(zip(block.txs, hashes, strict=True)))
        else:
            receipts, changes, update = speculated
        if receipts_root(self.suite, receipts) != header.receipts_root:
            raise BlockRejected(f"height {header.height}: receipts root differs after re-execution")
        if speculated is None:
            update = self.store.tree.compute(self.head.height, header.height, changes)
        if update.root != header.state_root:
            raise BlockRejected(f"height {header.height}: state root differs after re-execution")
        return self._remember(Execution(block, digest, hashes, receipts, changes, update))

    def check_body(self, block: Block) -> bool:
        """True when ``block``'s body matches its header: size limit, tx root, every tx
        signature (through the verdict cache, so a body checked here costs only look-ups
        in ``verify``), nesting depth. The replica's ``BodyCheck``: it runs before a body
        from a peer is kept or a catch-up block decided, so a certified header paired
        with a mangled tx is the peer's fault, never a refused Commit (a fail-stop)."""
        try:
            self._check_body(block)
        except BlockRejected:
            return False
        return True

    def _check_body(self, block: Block) -> list[bytes]:
        """Raise ``BlockRejected`` unless the body matches the header; return tx hashes."""
        header = block.header
        limit = max_block_bytes(len(self.validator_set()))
        if len(block.encode()) > limit:
            raise BlockRejected(
                f"height {header.height}: block exceeds {limit} bytes, more than a NEW-VIEW "
                "can carry for this validator set"
            )
        try:
            hashes = check_tx_root(self.suite, block)
        except DecodeError as exc:
            raise BlockRejected(exc.message) from None
        parsed = self.parsed_bodies
        for tx, tx_id in zip(block.txs, hashes, strict=True):
            if tx.chain_id != self.chain_id or not self.signatures.check(tx, tx_id):
                raise BlockRejected(f"height {header.height}: tx {tx_id.hex()} has a bad signature")
            if (parsed is None or parsed(tx_id) is None) and is_nested_deeper(
                tx.body, MAX_BODY_DEPTH
            ):
                raise BlockRejected(
                    f"height {header.height}: tx {tx_id.hex()} has a body nested deeper "
                    f"than {MAX_BODY_DEPTH} levels"
                )
        return hashes

    def _check_header(self, header: BlockHeader, now_s: int | None) -> None:
        head = self.head
        problems = []
        if header.chain_id != self.chain_id:
            problems.append(f"chain id {header.chain_id!r}")
        if header.height != head.height + 1:
            problems.append(f"height {header.height} (expected {head.height + 1})")
        if header.parent_hash != head.block_hash:
            problems.append("parent hash is not our head")
        if header.time < self.parent_time():
            problems.append("time goes backwards")
        if now_s is not None and header.time > now_s + MAX_FUTURE_DRIFT_S:
            problems.append(f"time {header.time} is ahead of our clock ({now_s})")
        valset = self.validator_set()
        if header.validators_hash != valset.hash(self.suite):
            problems.append("validator-set hash differs from the set in force")
        if header.proposer not in valset:
            problems.append("proposer is not a validator")
        if problems:
            raise BlockRejected(f"block {header.height} rejected: " + "; ".join(problems))

    def _remember(self, execution: Execution) -> Execution:
        self._verified[execution.block_hash] = execution
        while len(self._verified) > 16:
            self._verified.popitem(last=False)
        return execution

    # -- commit ----------------------------------------------------------------

    def commit(self, block: Block, certificate: CommitCertificate) -> Execution:
        """Apply a certified block (verifying it first if this node has not)."""
        execution = self.verify(block)
        if (
            certificate.block_hash != execution.block_hash
            or certificate.height != block.header.height
        ):
            raise BlockRejected("certificate is for another block than the one committed")
        try:
            verify_certificate(self.suite, self.chain_id, self.validator_set(), certificate)
        except CertificateError as exc:
            raise BlockRejected(exc.message) from None
        crashpoints.hit("before_block_write")
        self.store.commit(
            block,
            certificate,
            execution.receipts,
            execution.tx_hashes,
            execution.update,
            execution.changes,
        )
        crashpoints.hit("after_block_write")
        self._head_time = (block.header.height, block.header.time)
        self._verified.clear()
        self._speculation = None
        return execution
