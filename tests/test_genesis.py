"""genesis.json: the repository's file is valid, and bad files fail with clear errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from chain.errors import GenesisError
from chain.genesis import load_genesis, parse_genesis
from cli.jiangxi import CITIES, jiangxi_genesis

REPO = Path(__file__).resolve().parent.parent


def test_repository_genesis_is_valid_and_complete():
    genesis, digest = load_genesis(REPO / "genesis.json")
    assert len(digest) == 32
    assert genesis.crypto_suite == "ed25519-sha256"
    assert len(genesis.validators) == 12
    assert {v.region_code for v in genesis.validators} == set(CITIES)
    assert len({(o.code, o.edition) for o in genesis.occupations}) >= 20
    assert genesis.development_keys
    assert sum(a.role == "admin" for a in genesis.actors) == 1
    assert len(genesis.validator_set()) == 12


def test_repository_genesis_is_the_generator_output():
    on_disk = json.loads((REPO / "genesis.json").read_text())
    assert on_disk == jiangxi_genesis(12, chain_id=on_disk["chain_id"])


def test_hash_ignores_formatting_but_not_values():
    doc = jiangxi_genesis(4)
    _, a = parse_genesis(json.dumps(doc))
    _, b = parse_genesis(json.dumps(doc, indent=4, sort_keys=True))
    assert a == b
    doc["policy"]["daily_cap_seconds"] += 1
    _, c = parse_genesis(json.dumps(doc))
    assert c != a


def mutate(change) -> str:
    doc = copy.deepcopy(jiangxi_genesis(4))
    change(doc)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(crypto_suite="rsa"), "unknown crypto suite"),
        (lambda d: d.update(surprise=1), "surprise: Extra inputs are not permitted"),
        (lambda d: d["policy"].update(daily_cap_seconds=1.5), "non-integer number 1.5"),
        (lambda d: d["policy"].update(daily_cap_seconds="8h"), "policy.daily_cap_seconds"),
        (lambda d: d["validators"][0].update(public_key="zz"), "not hex"),
        (lambda d: d["validators"][0].update(public_key="00" * 31), "has 31 bytes"),
        (lambda d: d["validators"].append(dict(d["validators"][0])), "appears twice"),
        (lambda d: d["occupations"][0].update(code="4.03.02.01"), "L-MM-SS-OO"),
        (lambda d: d["occupations"][0].update(certificate_types=["diploma"]), "diploma"),
        (lambda d: d["occupations"].append(dict(d["occupations"][0])), "listed twice"),
        (lambda d: d["funds"][0].update(region_code="370100"), "not in cities"),
        (lambda d: d.update(actors=[a for a in d["actors"] if a["role"] != "admin"]), "admin"),
        (lambda d: d.update(validators=[]), "validators"),
        (lambda d: d["policy"].update(eligible_groups=["everyone"]), "unknown group"),
    ],
)
def test_bad_genesis_names_the_problem(change, message):
    with pytest.raises(GenesisError) as err:
        parse_genesis(mutate(change), "test-genesis.json")
    assert message in str(err.value)
    assert "test-genesis.json" in str(err.value)


def test_unreadable_and_non_json_files(tmp_path):
    with pytest.raises(GenesisError, match="cannot read genesis file"):
        load_genesis(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(GenesisError, match="not valid JSON"):
        load_genesis(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(GenesisError, match="JSON object"):
        load_genesis(bad)


def test_several_problems_are_reported_at_once():
    def two(d):
        d["policy"]["daily_cap_seconds"] = -1
        d["funds"][0]["budget_fen"] = -5

    with pytest.raises(GenesisError, match="2 problem"):
        parse_genesis(mutate(two))


def test_chain_params_default_matches_the_contracts_defaults():
    from chain.genesis import ChainParams
    from contracts import DEFAULT_PARAMS

    defaults = ChainParams()
    assert [getattr(defaults, f) for f in DEFAULT_PARAMS._fields] == DEFAULT_PARAMS.to_wire()


def test_params_section_is_validated():
    doc = jiangxi_genesis(4)
    doc["params"] = {"tx_window_heights": 0}
    with pytest.raises(GenesisError, match="params.tx_window_heights"):
        parse_genesis(json.dumps(doc))
