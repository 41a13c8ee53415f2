"""One admission rule (issue 13, finding 10): ``check_tx`` for the next height admits
exactly the txs that the block at that height does not refuse for their envelope.

The mempool used to bound ``expires`` one height tighter than execution, with a
window fixed at genesis; now both go through ``contracts.execute.require_window``
on the live parameters.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import check_expiry, check_tx, expiry_bounds, get_params
from contracts.model import Params
from tests.contracts.helpers import ADMIN, HOUR, Chain

WINDOW = 1000  # DEFAULT_PARAMS.tx_window_heights


def suspend(chain: Chain, expires: int):
    return chain.tx(ADMIN, "registry.suspend_actor", ["platform-a", "x"], expires=expires)


def admission_code(chain: Chain, tx) -> str:
    return check_tx(chain.base, tx, chain.hash_of(tx), chain.height + 1).code


def test_at_the_boundary_heights_admission_and_execution_agree():
    for offset, want in ((0, "tx_expired"), (1, ""), (1 + WINDOW, ""),
                         (2 + WINDOW, "expiry_too_far")):
        chain = Chain()
        chain.run([])
        chain.run([])
        tx = suspend(chain, chain.height + offset)
        assert admission_code(chain, tx) == want, offset
        assert chain.run([tx])[0].code == want, offset  # executed in the next block


def test_a_tx_admitted_at_head_h_is_executable_at_h_plus_1_and_expires_after_its_height():
    chain = Chain()
    head = chain.height
    last = suspend(chain, head + 1)
    far = suspend(chain, head + 1 + WINDOW)
    assert admission_code(chain, last) == "" and admission_code(chain, far) == ""
    chain.run([])  # the chain moves on without them: the block at h+2 is past ``last``
    assert admission_code(chain, last) == "tx_expired" and admission_code(chain, far) == ""
    assert chain.run([last, far])[0].code == "tx_expired"
    assert chain.last_changes.keys() >= {b"meta/height"}


def test_admission_follows_set_params_both_ways():
    chain = Chain()
    assert chain.send(ADMIN, "registry.set_params", [10, 2, 12 * HOUR, 60, 8 * HOUR]).code == ""
    head = chain.height
    assert admission_code(chain, suspend(chain, head + 11)) == ""
    assert admission_code(chain, suspend(chain, head + 12)) == "expiry_too_far"
    wider = chain.tx(ADMIN, "registry.set_params", [2000, 2, 12 * HOUR, 60, 8 * HOUR],
                     expires=chain.height + 5)
    assert chain.run([wider])[0].code == ""
    head = chain.height
    assert admission_code(chain, suspend(chain, head + 2001)) == ""
    assert admission_code(chain, suspend(chain, head + 2002)) == "expiry_too_far"


def test_params_read_once_give_the_same_answer():
    chain = Chain()
    params = get_params(chain.view())
    tx = suspend(chain, chain.height + 50)
    assert check_tx(chain.base, tx, chain.hash_of(tx), chain.height + 1, params) == check_tx(
        chain.base, tx, chain.hash_of(tx), chain.height + 1)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3000), st.integers(1, 2000), st.integers(1, 1200))
def test_property_check_expiry_is_the_execution_window(expires, height, window):
    params = Params(window, 2, 12 * HOUR, 60, 8 * HOUR)
    code = check_expiry(expires, height, params).code
    low, high = expiry_bounds(height, params)
    assert (code == "") == (low <= expires <= high)
    if expires < height:
        assert code == "tx_expired"
    elif expires > height + window:
        assert code == "expiry_too_far"
    else:
        assert code == ""
