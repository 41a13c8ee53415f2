"""Catch-up answers are budgeted per peer in bytes, whatever the height asked for
(issue 13, finding 3, replica side).

A validator that alternates ``from_height`` 1 and 2 slipped past the old rule
(only a repeat of the same height was limited) and pulled an 8 MiB answer per
request. Now each peer has a byte bucket on the replica's virtual clock: a burst
of one full answer, then ``catch_up_rate_bytes_per_s``; a request over budget is
dropped before any block is read, and reported (``ReportFault(peer,
"catch_up_rate")``). Each block counts at least ``CATCH_UP_BLOCK_COST_BYTES`` (reading small blocks
costs more than their bytes). An honest node catching up is not slowed
(``test_catch_up_pace``).
"""

from __future__ import annotations

from consensus import CatchUpRequest, CatchUpResponse, Config, ReportFault, Send, sign_message
from consensus.service import CATCH_UP_BLOCK_COST_BYTES, CATCH_UP_BYTES
from tests.consensus.bus import CHAIN, Bus

FLOOR = CATCH_UP_BLOCK_COST_BYTES
BURST = 8 * FLOOR
RATE = 4 * FLOOR
CONFIG = Config(base_timeout_ms=1000, max_timeout_ms=8000, catch_up_batch=64,
                catch_up_burst_bytes=BURST, catch_up_rate_bytes_per_s=RATE)


def _request(bus: Bus, sender: int, from_height: int) -> CatchUpRequest:
    unsigned = CatchUpRequest(from_height, b"", b"")
    return sign_message(bus.signers[sender], CHAIN, unsigned)  # type: ignore[return-value]


def _answer_bytes(actions: list) -> int:
    return sum(len(a.msg.encode()) for a in actions
               if isinstance(a, Send) and isinstance(a.msg, CatchUpResponse))


def _blocks_sent(actions: list) -> int:
    return sum(len(a.msg.blocks) for a in actions
               if isinstance(a, Send) and isinstance(a.msg, CatchUpResponse))


def _blocks_bytes(actions: list) -> int:
    return sum(len(item.block.encode()) + len(item.certificate.encode())
               for a in actions if isinstance(a, Send) and isinstance(a.msg, CatchUpResponse)
               for item in a.msg.blocks)


def _ahead(config: Config, height: int = 12) -> Bus:
    bus = Bus(4, config)
    bus.run_without(3, height)
    return bus


def test_alternating_heights_cannot_pull_more_than_the_budget():
    bus = _ahead(CONFIG)
    server, attacker = bus.replicas[0], 3
    key = bus.signers[attacker].public_key
    served, refused = 0, 0
    now = bus.now
    for k in range(200):  # 200 requests within one virtual second
        server.on_tick(now + k * 5)
        actions = server.on_message(key, _request(bus, attacker, 1 + k % 2))
        served += _blocks_sent(actions)
        refused += actions.count(ReportFault(key, "catch_up_rate"))
    # toy blocks are ~300 bytes: each is charged the floor
    assert served <= (BURST + RATE * 1) // FLOOR + 1, served
    assert served > 0 and refused > 150


def test_the_budget_refills_on_the_virtual_clock():
    bus = _ahead(CONFIG)
    server, attacker = bus.replicas[0], 3
    key = bus.signers[attacker].public_key
    start = bus.now
    first = server.on_message(key, _request(bus, attacker, 1))
    assert _blocks_bytes(first) > 0
    k = 0
    while _blocks_bytes(server.on_message(key, _request(bus, attacker, 2 - k % 2))):
        k += 1  # drain the bucket, alternating heights (a repeat is refused anyway)
    assert not _blocks_bytes(server.on_message(key, _request(bus, attacker, 1 + k % 2)))
    server.on_tick(start + 10_000)  # ten seconds later: refilled up to the burst
    assert _blocks_bytes(server.on_message(key, _request(bus, attacker, 1))) > 0


def test_each_peer_has_its_own_budget():
    bus = _ahead(CONFIG)
    server = bus.replicas[0]
    for k in range(50):
        server.on_message(bus.signers[3].public_key, _request(bus, 3, 1 + k % 2))
    assert _blocks_bytes(server.on_message(bus.signers[2].public_key, _request(bus, 2, 1))) > 0


def test_a_request_is_charged_to_the_link_it_came_on():
    """Requests signed by other keys (a removed validator's, made-up ones) spend the
    budget of the peer whose authenticated link carried them, not a fresh bucket each."""
    bus = _ahead(CONFIG)
    server, link = bus.replicas[0], bus.signers[3].public_key
    helpers = [1, 2]
    total = 0
    for k in range(100):
        total += _blocks_sent(server.on_message(link, _request(bus, helpers[k % 2], 1 + k % 2)))
    assert 0 < total <= BURST // FLOOR + 1


def test_an_answer_is_byte_bounded_including_certificates():
    config = Config(base_timeout_ms=1000, max_timeout_ms=8000, catch_up_batch=64)
    bus = _ahead(config, 20)
    actions = bus.replicas[0].on_message(bus.signers[3].public_key, _request(bus, 3, 1))
    assert _blocks_bytes(actions) <= CATCH_UP_BYTES
    assert _answer_bytes(actions) > 0


def test_the_default_budget_is_one_full_answer_then_eight_mib_per_second():
    config = Config()
    assert config.catch_up_burst_bytes == CATCH_UP_BYTES == 8 << 20
    assert config.catch_up_rate_bytes_per_s == 8 << 20
    assert config.catch_up_rate_bytes_per_s // CATCH_UP_BLOCK_COST_BYTES == 256  # blocks/s


def test_a_liar_that_loses_the_race_is_still_caught():
    """An answer with nothing we lack is compared with our own blocks (no signature
    work unless it differs): a forged body under our certified header is reported."""
    from tests.consensus.test_bodies import tampered

    bus = _ahead(CONFIG, 4)
    replica, liar = bus.replicas[0], bus.signers[2]
    chain = bus.apps[0].chain
    honest_copy = CatchUpResponse(tuple(chain[:2]), b"", b"")
    assert replica.on_message(liar.public_key, sign_message(liar, CHAIN, honest_copy)) == []
    forged = [type(chain[0])(tampered(chain[0].block), chain[0].certificate), chain[1]]
    answer = sign_message(liar, CHAIN, CatchUpResponse(tuple(forged), b"", b""))
    assert replica.on_message(liar.public_key, answer) == [
        ReportFault(liar.public_key, "bad_body")]
