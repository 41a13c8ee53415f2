"""A deterministic toy application and a fast test-only crypto suite for the simulator.

The application's block is a list of ints (one per tx body); its state root
is a hash chain over the history, so two replicas agree on a root exactly
when they applied the same blocks in the same order. Each tx carries a toy
signature (a hash of its body) and ``is_valid_body`` is the replica's
``BodyCheck``: the tx root and every signature, like the node's executor, so a
body with a mangled tx is caught in the simulator too. Proposals embed a
per-incarnation counter, so a primary that forgets what it proposed (a
planted bug) proposes a *different* block after a restart.

``FastSuite`` replaces Ed25519 with a keyed SHA-256 so that the simulator can
run hundreds of seeds per minute: Byzantine replicas are our own code and
never forge, so unforgeability is not what the simulation tests. A share of
seeds and the focused unit tests run the real ``ed25519-sha256`` suite.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from chain.codec import Value, encode
from chain.crypto import CryptoSuite, Signer
from chain.types import ZERO_HASH, Block, BlockHeader, Tx, header_hash
from consensus import CertifiedBlock

__all__ = ["FastSuite", "ToyApp", "toy_signature"]


class _FastSigner(Signer):
    def __init__(self, suite: FastSuite, secret: bytes) -> None:
        self.suite = suite
        self._secret = secret
        self.public_key = hashlib.sha256(b"pk" + secret).digest()
        suite.secrets[self.public_key] = secret

    def sign_raw(self, message: bytes) -> bytes:
        return hashlib.sha256(self._secret + message).digest()

    def seed(self) -> bytes:
        return self._secret


class FastSuite(CryptoSuite):
    """Keyed-hash "signatures": verifiable only inside one simulation. Tests only."""

    name = "sim-sha256"
    public_key_bytes = 32
    signature_bytes = 32

    def __init__(self) -> None:
        self.secrets: dict[bytes, bytes] = {}

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def hmac(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    def generate(self) -> Signer:
        raise NotImplementedError("the simulator derives keys from its seed")

    def signer_from_seed(self, seed: bytes) -> Signer:
        return _FastSigner(self, seed)

    def verify_raw(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        secret = self.secrets.get(public_key)
        return secret is not None and hashlib.sha256(secret + message).digest() == signature


def _root(previous: bytes, values: list[int]) -> bytes:
    return hashlib.sha256(previous + encode(values)).digest()


def toy_signature(body: Value) -> bytes:
    """A toy tx's "signature": anyone can make one, but a flipped byte shows."""
    return hashlib.sha256(b"toy-tx" + encode(body)).digest()[:16]


class ToyApp:
    """One replica's application: durable committed chain, volatile proposal counter."""

    def __init__(self, suite: CryptoSuite, chain_id: str, key: bytes) -> None:
        self.suite = suite
        self.chain_id = chain_id
        self.key = key
        self.chain: list[CertifiedBlock] = []
        self.roots: list[bytes] = [ZERO_HASH]
        self.hashes: list[bytes] = [ZERO_HASH]
        self.epoch = 0
        self.counter = 0

    @property
    def height(self) -> int:
        return len(self.chain)

    def restart(self) -> None:
        """A new incarnation: the committed chain survives, the counter does not."""
        self.epoch += 1
        self.counter = 0

    def build(self, height: int, view: int, parent_hash: bytes, salt: int = 0) -> Block:
        """A block of two ints that no other proposal of this replica repeats."""
        self.counter += 1
        values = [self.epoch, self.counter * 7 + salt]
        return self.make_block(height, view, parent_hash, values, _root(self.roots[-1], values))

    def make_block(
        self, height: int, view: int, parent_hash: bytes, values: list[int], state_root: bytes
    ) -> Block:
        txs = tuple(Tx(self.chain_id, "toy.add", self.key, i, 0, v, toy_signature(v))
                    for i, v in enumerate(values))
        header = BlockHeader(
            self.chain_id, height, view, height, parent_hash, self.key,
            hashlib.sha256(encode(values)).digest(), ZERO_HASH, state_root, ZERO_HASH,
        )
        return Block(header, txs)

    def verify(self, block: Block) -> bool:
        """Re-execute on our tip and compare the roots, as a validator must."""
        header = block.header
        values = [tx.body for tx in block.txs]
        if header.height != self.height + 1 or header.parent_hash != self.hashes[-1]:
            return False
        if header.tx_root != hashlib.sha256(encode(values)).digest():
            return False
        return header.state_root == _root(self.roots[-1], values)

    def is_valid_body(self, block: Block) -> bool:
        """The replica's ``BodyCheck``: the txs give the header's tx root and every tx
        is signed (what ``node.executor.Executor.check_body`` checks for real)."""
        values = [tx.body for tx in block.txs]
        if block.header.tx_root != hashlib.sha256(encode(values)).digest():
            return False
        return all(tx.chain_id == self.chain_id and tx.signature == toy_signature(tx.body)
                   for tx in block.txs)

    def apply(self, item: CertifiedBlock) -> bytes:
        """Commit a decided block; return the state root after it."""
        values = [tx.body for tx in item.block.txs]
        self.chain.append(item)
        self.roots.append(_root(self.roots[-1], values))
        self.hashes.append(header_hash(self.suite, item.block.header))
        return self.roots[-1]

    def source(self) -> Callable[[int], CertifiedBlock | None]:
        """The block store read that serves catch-up requests."""
        return lambda height: self.chain[height - 1] if 0 < height <= len(self.chain) else None
