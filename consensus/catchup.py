"""Catch-up: accept a decided block only on a full certificate and the hash chain.

A lagging replica does not re-run agreement for heights it missed; it takes
blocks that carry a commit certificate. It never takes a block on the word
of the peer that sent it: the certificate must hold a quorum of the set in
force at that height (``verify_certificate``), the certificate must be for
exactly this block, and the block must extend our tip.
"""

from __future__ import annotations

from chain.crypto import CryptoSuite
from chain.errors import CertificateError
from chain.types import header_hash
from chain.validators import ValidatorSet, verify_certificate
from consensus import mutations
from consensus.actions import Tip
from consensus.messages import CertifiedBlock

__all__ = ["is_valid_certified_block"]


def is_valid_certified_block(
    suite: CryptoSuite, chain_id: str, valset: ValidatorSet, tip: Tip, item: CertifiedBlock
) -> bool:
    """True when ``item`` is the next block after ``tip`` with a valid quorum certificate."""
    header = item.block.header
    cert = item.certificate
    if header.chain_id != chain_id or header.height != tip.height + 1:
        return False
    if header.parent_hash != tip.block_hash or cert.height != header.height:
        return False
    if cert.block_hash != header_hash(suite, header):
        return False
    if mutations.is_enabled("catch_up_without_certificate"):
        return True
    try:
        verify_certificate(suite, chain_id, valset, cert)
    except CertificateError:
        return False
    return True
