"""Validators' link addresses in state, adds with an address, key rotation in one action."""

from __future__ import annotations

import copy

import pytest

from chain.codec import encode
from chain.errors import GenesisError
from chain.genesis import Genesis, host_problem, parse_genesis
from contracts import (
    TAG_KEY_POSSESSION,
    DictState,
    check_permission,
    get_validator_address,
    get_validators_ahead,
    parse_body,
    validator_set_at,
)
from contracts.errors import ContractError
from tests.contracts.helpers import (
    ADMIN,
    BUREAU,
    BUREAU2,
    BUREAU3,
    CHAIN_ID,
    PROVIDER,
    VALIDATORS,
    Chain,
    genesis_doc,
    key,
    pub,
)

NEW = 70  # a fresh validator key
ROTATED = 71


def possession(new_n: int, old_key: bytes, chain_id: str = CHAIN_ID) -> bytes:
    payload = encode([old_key, pub(new_n)])
    return key(new_n).sign(TAG_KEY_POSSESSION, chain_id, payload)


def approve(chain: Chain, pid: bytes, bureaus: tuple[int, ...] = (BUREAU2, BUREAU3)) -> None:
    for bureau in bureaus:
        assert chain.send(bureau, "registry.approve_validator_change", [pid]).code == ""


def address_of(chain: Chain, n: int) -> tuple[str, int] | None:
    found = get_validator_address(chain.view(), pub(n))
    return None if found is None else (found.host, found.p2p_port)


def with_addresses() -> Chain:
    doc = genesis_doc()
    for i, v in enumerate(doc["validators"]):
        v["host"], v["p2p_port"] = f"10.0.0.{i + 1}", 26656
    return Chain(genesis=Genesis.model_validate(doc), base=DictState())


# -- body validation ----------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["10.1.2.3", "::1", "2001:db8::7", "node-1.hrss.jx.gov.cn",
                                  "localhost", "a"])
def test_hosts_accepted(host):
    assert host_problem(host) is None
    assert parse_body("registry.set_validator_address", [host, 26656]).host == host


@pytest.mark.parametrize(("host", "why"), [
    ("", "1..253"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("Node.Example", "lower-case"),
    ("node_1.example", "lower-case"),
    ("-node.example", "lower-case"),
    ("node..example", "lower-case"),
    ("10.0.0.256", "lower-case"),            # a malformed IPv4 is not a name either
    ("2001:DB8::7", "2001:db8::7"),          # one spelling per address
    ("a" * 254, "1..253"),
    ("host:26656", "lower-case"),
    ("http://node.example", "lower-case"),
])
def test_hosts_refused_with_bad_body(host, why):
    with pytest.raises(ContractError) as caught:
        parse_body("registry.set_validator_address", [host, 26656])
    assert caught.value.code == "bad_body" and why in caught.value.message


@pytest.mark.parametrize("port", [0, 65536, 10**6])
def test_ports_refused(port):
    with pytest.raises(ContractError) as caught:
        parse_body("registry.set_validator_address", ["10.0.0.1", port])
    assert caught.value.code == "bad_body" and "p2p_port" in caught.value.message


def test_host_with_personal_data_is_refused_as_such():
    with pytest.raises(ContractError) as caught:
        parse_body("registry.set_validator_address", ["u13812345678.example", 26656])
    assert caught.value.code == "personal_data" and "13812345678" not in caught.value.message


def test_rotation_body_rules():
    with pytest.raises(ContractError) as caught:
        parse_body("registry.rotate_validator_key", [pub(1), pub(1), b"s" * 64])
    assert caught.value.code == "bad_body" and "differ" in caught.value.message
    with pytest.raises(ContractError) as caught:
        parse_body("registry.rotate_validator_key", [pub(1), pub(2), b""])
    assert caught.value.code == "bad_body" and "possession" in caught.value.message


# -- genesis addresses --------------------------------------------------------------------------
def test_genesis_addresses_go_to_state_and_absent_ones_stay_unknown():
    chain = with_addresses()
    assert address_of(chain, VALIDATORS[0]) == ("10.0.0.1", 26656)
    assert address_of(Chain(), VALIDATORS[0]) is None


def test_genesis_without_addresses_keeps_its_state():
    """Older geneses (no host fields) write exactly what they wrote before."""
    plain = Chain()
    assert not any(k.startswith(b"valaddr/") for k in plain.base.data)


@pytest.mark.parametrize(("change", "message"), [
    ({"host": "10.0.0.1"}, "both host and p2p_port"),
    ({"p2p_port": 26656}, "both host and p2p_port"),
    ({"host": "0.0.0.0", "p2p_port": 26656}, "unspecified"),
    ({"host": "10.0.0.1", "p2p_port": 0}, "p2p_port"),
])
def test_genesis_refuses_bad_addresses(change, message):
    import json

    doc = genesis_doc()
    doc["validators"][0].update(change)
    with pytest.raises(GenesisError) as caught:
        parse_genesis(json.dumps(doc))
    assert message in str(caught.value)


# -- set_validator_address ----------------------------------------------------------------------
def test_a_validator_sets_its_own_address():
    chain = with_addresses()
    receipt = chain.send(VALIDATORS[1], "registry.set_validator_address", ["node2.example", 3000])
    assert receipt.code == ""
    assert receipt.events[0].kind == "registry.validator_address_set"
    assert address_of(chain, VALIDATORS[1]) == ("node2.example", 3000)
    assert address_of(chain, VALIDATORS[0]) == ("10.0.0.1", 26656)


def test_only_validator_keys_set_addresses():
    chain = Chain()
    for sender in (ADMIN, BUREAU, PROVIDER, NEW):
        tx = chain.tx(sender, "registry.set_validator_address", ["10.0.0.9", 1])
        assert check_permission(chain.view(), tx) == "not_a_validator"
        assert chain.run([tx])[0].code == "not_a_validator"
    assert address_of(chain, NEW) is None


# -- adding with an address --------------------------------------------------------------------
def test_add_with_address_sets_it_at_once_and_joins_after_approvals():
    chain = Chain()
    propose = chain.tx(BUREAU, "registry.propose_validator_add",
                       [pub(NEW), "v-new", "360200", "10.9.9.9", 26656])
    receipt = chain.run([propose])[0]
    assert receipt.code == ""
    assert address_of(chain, NEW) == ("10.9.9.9", 26656)
    assert pub(NEW) not in {v.public_key for v in get_validators_ahead(chain.view())}
    approve(chain, chain.hash_of(propose))
    assert pub(NEW) in {v.public_key for v in get_validators_ahead(chain.view())}
    assert pub(NEW) not in validator_set_at(chain.view())
    # scheduled: the new key may now correct its own address, before it is in force
    assert chain.send(NEW, "registry.set_validator_address", ["10.9.9.10", 26656]).code == ""
    assert pub(NEW) in validator_set_at(chain.view())
    assert address_of(chain, NEW) == ("10.9.9.10", 26656)


def test_add_with_address_follows_the_add_rules():
    chain = Chain()
    assert chain.send(ADMIN, "registry.propose_validator_add",
                      [pub(1), "dup", "360100", "10.0.0.1", 1]).code == "validator_exists"
    assert chain.send(ADMIN, "registry.propose_validator_add",
                      [pub(NEW), "x", "999999", "10.0.0.1", 1]).code == "unknown_city"
    assert address_of(chain, 1) is None and address_of(chain, NEW) is None  # nothing kept


# -- key rotation -------------------------------------------------------------------------------
def rotate(chain: Chain, old_n: int = VALIDATORS[2], new_n: int = ROTATED) -> bytes:
    tx = chain.tx(BUREAU, "registry.rotate_validator_key",
                  [pub(old_n), pub(new_n), possession(new_n, pub(old_n))])
    receipt = chain.run([tx])[0]
    assert receipt.code == "", receipt
    return chain.hash_of(tx)


def test_rotation_replaces_the_key_at_one_height_and_keeps_name_region_address():
    chain = with_addresses()
    valset = validator_set_at(chain.view())
    old = valset.validators[valset.index_of(pub(VALIDATORS[2]))]
    pid = rotate(chain)
    assert address_of(chain, ROTATED) == address_of(chain, VALIDATORS[2])
    sizes = []
    approve(chain, pid)  # scheduled at this height + 2
    scheduled_at = chain.height
    for _ in range(3):
        sizes.append(len(validator_set_at(chain.view())))
        chain.run([])
    assert sizes == [4, 4, 4]
    valset = validator_set_at(chain.view())
    assert pub(VALIDATORS[2]) not in valset and pub(ROTATED) in valset
    new = valset.validators[valset.index_of(pub(ROTATED))]
    assert (new.name, new.region_code) == (old.name, old.region_code)
    # in force exactly at the scheduled height, both changes in one step
    chain2 = with_addresses()
    approve(chain2, rotate(chain2))
    assert pub(VALIDATORS[2]) in validator_set_at(chain2.view())  # next height: old key
    chain2.run([])
    assert chain2.height + 1 == scheduled_at + 2
    valset2 = validator_set_at(chain2.view())
    assert pub(ROTATED) in valset2 and pub(VALIDATORS[2]) not in valset2


def test_rotation_needs_possession_of_the_new_key():
    chain = Chain()
    old = pub(VALIDATORS[2])
    for proof in (possession(NEW, old),                       # another key's signature
                  possession(ROTATED, pub(VALIDATORS[1])),    # over another old key
                  possession(ROTATED, old, "other-chain"),    # for another chain
                  b"\x00" * 64):
        receipt = chain.send(BUREAU, "registry.rotate_validator_key", [old, pub(ROTATED), proof])
        assert receipt.code == "bad_possession"


def test_rotation_rules():
    chain = Chain()
    proof = possession(ROTATED, pub(NEW))
    assert chain.send(BUREAU, "registry.rotate_validator_key",
                      [pub(NEW), pub(ROTATED), proof]).code == "unknown_validator"
    proof = possession(VALIDATORS[1], pub(VALIDATORS[0]))
    assert chain.send(BUREAU, "registry.rotate_validator_key",
                      [pub(VALIDATORS[0]), pub(VALIDATORS[1]), proof]).code == "validator_exists"
    proof = possession(ADMIN, pub(VALIDATORS[0]))
    assert chain.send(BUREAU, "registry.rotate_validator_key",
                      [pub(VALIDATORS[0]), pub(ADMIN), proof]).code == "key_in_use"
    tx = chain.tx(PROVIDER, "registry.rotate_validator_key",
                  [pub(VALIDATORS[0]), pub(ROTATED), possession(ROTATED, pub(VALIDATORS[0]))])
    assert chain.run([tx])[0].code == "not_permitted"
    # one change of a validator at a time
    approve(chain, rotate(chain))
    proof = possession(NEW, pub(VALIDATORS[2]))
    assert chain.send(BUREAU, "registry.rotate_validator_key",
                      [pub(VALIDATORS[2]), pub(NEW), proof]).code == "change_pending"


def test_rotation_approved_after_another_change_of_the_validator_is_refused():
    chain = Chain()
    pid = rotate(chain)
    remove = chain.tx(ADMIN, "registry.propose_validator_change",
                      ["remove", pub(VALIDATORS[2]), "v2", "360300"])
    chain.run([remove])
    approve(chain, chain.hash_of(remove), (BUREAU, BUREAU2))
    assert chain.send(BUREAU2, "registry.approve_validator_change", [pid]).code == ""
    last = [chain.tx(BUREAU3, "registry.approve_validator_change", [chain.hash_of(remove)]),
            chain.tx(BUREAU3, "registry.approve_validator_change", [pid])]
    assert [r.code for r in chain.run(last)] == ["", "change_pending"]
    chain.run([])
    chain.run([])
    assert chain.send(BUREAU3, "registry.approve_validator_change", [pid]).code == (
        "unknown_validator")


def test_rotation_without_the_chain_suite_is_refused():
    """A context without suite (old callers) can prove nothing: refused, not crashed."""
    from contracts import BlockContext, Overlay, execute_block
    from tests.contracts.helpers import SUITE

    chain = Chain()
    tx = chain.tx(BUREAU, "registry.rotate_validator_key",
                  [pub(VALIDATORS[2]), pub(ROTATED), possession(ROTATED, pub(VALIDATORS[2]))])
    state = Overlay(copy.deepcopy(chain.base))
    receipts = execute_block(state, BlockContext(1, chain.time + 60, pub(1)),
                             [(tx, chain.hash_of(tx))])
    assert receipts[0].code == "bad_possession"
    assert SUITE is not None
