"""A network built from bureau cards: keys and cards per bureau, `genesis init`, one home
per bureau, preflight, four real processes that commit; and every refusal on the way."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.genesis import load_genesis
from cli.devnet import node_status, start_node, wait_ready
from cli.main import main
from cli.netgen import free_base_port
from node.client import TxBuilder
from node.keys import load_key
from tests.node.test_network import post_tx

CITIES = ("360100", "360200", "360300", "360400")
MONIKERS = ("南昌", "景德镇", "萍乡", "九江")


def cli(*args: str, ok: bool = True) -> dict:
    """Run ``skillchain ARGS --json``; the last output line as JSON (an error is one too)."""
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def refused(*args: str) -> dict:
    """The ``{"code", "message"}`` of a command that must fail with exit status 2."""
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    answer = json.loads(result.output.strip().splitlines()[-1])
    assert set(answer) >= {"code", "message"} and "Traceback" not in result.output
    return answer


def make_bureau(
    root: Path, i: int, host: str = "127.0.0.1", p2p_port: int | None = None, **over: str
) -> Path:
    """Keys and card of bureau ``i`` under ``root/b<i>``, as that bureau makes them."""
    home = root / f"b{i}"
    if not (home / "validator.key").exists():
        cli("keys", "new", "--out", str(home / "validator.key"))
        cli("keys", "new", "--out", str(home / "officer.key"))
    p2p = p2p_port if p2p_port is not None else 30000 + 2 * i
    args = {
        "--key": str(home / "validator.key"),
        "--officer-key": str(home / "officer.key"),
        "--moniker": MONIKERS[i % 4] + ("" if i < 4 else str(i)),
        "--city": CITIES[i % 4],
        "--host": host,
        "--p2p-port": str(p2p),
        "--rpc-port": str(p2p + 1),
        "--out": str(root / "cards" / f"b{i}.card.json"),
    }
    args.update(over)
    cli("genesis", "bureau", *[x for kv in args.items() for x in kv])
    return Path(args["--out"])


def init_args(root: Path, *extra: str) -> list[str]:
    admin = root / "admin.key"
    if not admin.exists():
        cli("keys", "new", "--out", str(admin))
    return ["genesis", "init", "--chain-id", "jx-cards", "--admin-key", str(admin), *extra]


def secrets_under(root: Path) -> list[str]:
    return [json.loads(p.read_text())["secret"] for p in root.rglob("*.key")]


# -- a real network from cards ----------------------------------------------------------


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    root = tmp_path_factory.mktemp("cards")
    base = free_base_port(4)
    cards = [make_bureau(root, i, p2p_port=base + 2 * i) for i in range(4)]
    built = cli(*init_args(root, "--cards", str(root / "cards"), "--allow-loopback",
                           "--out", str(root / "genesis.json")))
    homes = []
    for i, card in enumerate(cards):
        home = root / f"home{i}"
        cli("genesis", "config", "--genesis", str(root / "genesis.json"),
            "--cards", str(root / "cards"), "--me", str(card), "--home", str(home),
            "--key", str(root / f"b{i}" / "validator.key"), "--allow-loopback")
        homes.append(home)
    preflights = [cli("node", "preflight", "--home", str(h)) for h in homes]
    procs = [start_node(h) for h in homes]
    urls = [f"http://127.0.0.1:{base + 2 * i + 1}" for i in range(4)]
    try:
        wait_ready(urls)
        yield {"root": root, "homes": homes, "urls": urls, "built": built,
               "preflights": preflights}
    finally:
        for proc in procs:  # one at a time, as tests.node.cluster stops them
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a node stuck in stop: not what is tested here
                proc.kill()
                proc.wait(timeout=15)


def test_four_bureaus_from_cards_boot_and_commit(network):
    genesis, digest = load_genesis(network["root"] / "genesis.json")
    assert digest.hex() == network["built"]["hash"]
    assert not genesis.development_keys
    assert "development_keys" not in json.loads((network["root"] / "genesis.json").read_text())
    assert [p["ok"] for p in network["preflights"]] == [True] * 4
    admin = TxBuilder(load_key(network["root"] / "admin.key"), genesis.chain_id)
    officer = load_key(network["root"] / "b0" / "officer.key").public_key
    head = node_status(network["urls"][2])["height"]
    tx = admin.build(
        "registry.register_actor",
        ["provider-cards", "provider", "卡片测试平台", "360100", [bytes(32 * [7])]],
        head,
    )
    answer = post_tx(network["urls"][2], tx)
    assert answer["status"] == "committed" and answer["receipt"]["status"] == "accepted"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        heights = [(node_status(u) or {}).get("height", 0) for u in network["urls"]]
        if min(heights) >= answer["height"]:
            break
        time.sleep(0.2)
    for url in network["urls"]:
        assert node_status(url)["height"] >= answer["height"]
    # The bureau officers' keys from the cards are the bureau actors' keys.
    bureaus = {a.id: a for a in genesis.actors if a.role == "bureau"}
    assert set(bureaus) == {f"bureau-{c}" for c in CITIES}
    assert bureaus["bureau-360100"].public_keys == (officer.hex(),)


def test_no_secret_in_any_card_genesis_or_config(network):
    root = network["root"]
    secrets = secrets_under(root / "b0") + secrets_under(root / "b3") + [
        json.loads((root / "admin.key").read_text())["secret"]
    ]
    assert len(secrets) == 5
    public = [*(root / "cards").glob("*.card.json"), root / "genesis.json"]
    public += [h / n for h in network["homes"] for n in ("config.json", "genesis.json")]
    for path in public:
        text = path.read_text()
        assert "\"secret\"" not in text
        for secret in secrets:
            assert secret not in text, f"{path} holds a secret key"


def test_preflight_of_a_running_node_finds_its_ports_taken_and_its_peers_up(network):
    report = cli("node", "preflight", "--home", str(network["homes"][1]), "--dial", ok=False)
    codes = {c["code"] for c in report["checks"] if c["status"] == "fail"}
    assert codes == {"port_in_use"}
    assert [c["status"] for c in report["checks"] if c["name"] == "dial"] == ["ok"]


# -- refusals of genesis init, each with a stable code ---------------------------------------


@pytest.fixture
def cards(tmp_path):
    made = [make_bureau(tmp_path, i, host=f"10.0.0.{i + 1}", p2p_port=26656) for i in range(4)]
    return tmp_path, made


def init_from(root: Path, paths: list[Path], *extra: str) -> list[str]:
    args = init_args(root, *extra, "--out", str(root / "genesis.json"))
    for path in paths:
        args += ["--card", str(path)]
    return args


def test_init_of_four_hosts_writes_a_validated_genesis(cards):
    root, paths = cards
    built = cli(*init_from(root, paths))
    assert built["validators"] == 4 and built["f"] == 1 and built["quorum"] == 3
    assert not any("3f+1" in w for w in built["warnings"])
    checked = cli("genesis", "check", str(root / "genesis.json"))
    assert checked["hash"] == built["hash"] and checked["development_keys"] is False


def test_sizing_warning_names_f(tmp_path):
    from cli.ceremony import sizing_warning

    assert sizing_warning(4) is None and sizing_warning(10) is None
    assert "f = 3" in sizing_warning(12) and "9 of 12" in sizing_warning(12)
    assert "f = 0" in sizing_warning(3)


def test_duplicate_validator_key_is_refused(cards):
    root, paths = cards
    twin = make_bureau(root, 0, host="10.0.0.9", **{"--city": "360500", "--moniker": "新余",
                                                     "--out": str(root / "twin.card.json")})
    answer = refused(*init_from(root, [*paths, twin]))
    assert answer["code"] == "duplicate_key" and "also" in answer["message"]


def test_officer_key_that_is_another_validator_key_is_refused(cards):
    root, paths = cards
    card = make_bureau(root, 5, host="10.0.0.9", **{
        "--city": "360500", "--moniker": "新余", "--officer-key": str(root / "b0/validator.key"),
        "--out": str(root / "o.card.json")})
    assert refused(*init_from(root, [*paths, card]))["code"] == "duplicate_key"


def test_duplicate_host_and_port_is_refused(cards):
    root, paths = cards
    same = make_bureau(root, 5, host="10.0.0.2", p2p_port=26656, **{
        "--city": "360500", "--moniker": "新余", "--out": str(root / "same.card.json")})
    answer = refused(*init_from(root, [*paths, same]))
    assert answer["code"] == "duplicate_address" and "10.0.0.2:26656" in answer["message"]


def test_rpc_port_of_one_on_link_port_of_another_is_refused(cards):
    root, paths = cards
    cross = make_bureau(root, 5, host="10.0.0.1", p2p_port=26700, **{
        "--city": "360500", "--moniker": "新余", "--rpc-port": "26656",
        "--out": str(root / "x.card.json")})
    assert refused(*init_from(root, [*paths, cross]))["code"] == "duplicate_address"


def test_duplicate_moniker_and_city_are_refused(cards):
    root, paths = cards
    moniker = make_bureau(root, 5, host="10.0.0.9", **{
        "--city": "360500", "--moniker": "南昌", "--out": str(root / "m.card.json")})
    assert refused(*init_from(root, [*paths, moniker]))["code"] == "duplicate_moniker"
    city = make_bureau(root, 6, host="10.0.0.8", **{
        "--city": "360100", "--moniker": "新余", "--out": str(root / "c.card.json")})
    assert refused(*init_from(root, [*paths, city]))["code"] == "duplicate_city"


def test_loopback_hosts_are_refused_unless_a_lab_is_meant(tmp_path):
    paths = [make_bureau(tmp_path, i) for i in range(4)]
    assert refused(*init_from(tmp_path, paths))["code"] == "loopback_host"
    built = cli(*init_from(tmp_path, paths, "--allow-loopback"))
    assert any("loopback" in w for w in built["warnings"])


def test_a_loopback_card_among_network_hosts_is_refused_even_in_a_lab(cards):
    root, paths = cards
    local = make_bureau(root, 5, host="localhost", **{
        "--city": "360500", "--moniker": "新余", "--out": str(root / "l.card.json")})
    answer = refused(*init_from(root, [*paths, local], "--allow-loopback"))
    assert answer["code"] == "loopback_host" and "l.card.json" in answer["message"]


def edit(path: Path, change) -> Path:
    data = json.loads(path.read_text())
    change(data)
    out = path.with_name("edited.card.json")
    out.write_text(json.dumps(data))
    return out


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(p2p_port=1), "signature does not verify"),
        (lambda d: d.update(host="10.9.9.9"), "signature does not verify"),
        (lambda d: d.update(moniker="赣州"), "signature does not verify"),
        (lambda d: d.update(public_key="00" * 32), "signature does not verify"),
        (lambda d: d.update(p2p_port=1.5), "non-integer"),
        (lambda d: d.update(p2p_port="26656"), "p2p_port"),
        (lambda d: d.update(p2p_port=70000), "p2p_port"),
        (lambda d: d.update(region_code="36010"), "region_code"),
        (lambda d: d.update(host="0.0.0.0"), "unspecified"),
        (lambda d: d.update(host="bad host"), "neither an IP address"),
        (lambda d: d.update(host="10.0.0.256"), "malformed IPv4"),
        (lambda d: d.update(public_key="zz"), "not hex"),
        (lambda d: d.update(public_key="00" * 31), "has 31 bytes"),
        (lambda d: d.update(officer_public_keys=[]), "officer_public_keys"),
        (lambda d: d.update(extra=1), "extra: Extra inputs are not permitted"),
        (lambda d: d.pop("signature"), "signature: Field required"),
        (lambda d: d.update(secret="ab" * 32), "holds a secret key"),
        (lambda d: d.update(format="v0"), "format"),
        (lambda d: d.update(suite="rsa"), "unknown suite"),
    ],
)
def test_malformed_card_is_refused_with_bad_card(cards, change, message):
    root, paths = cards
    answer = refused(*init_from(root, [*paths[1:], edit(paths[0], change)]))
    assert answer["code"] == "bad_card" and message in answer["message"], answer


def test_key_file_or_garbage_given_as_a_card_is_refused(cards):
    root, paths = cards
    key_as_card = refused(*init_from(root, [*paths[1:], root / "b0" / "validator.key"]))
    assert key_as_card["code"] == "bad_card" and "secret key" in key_as_card["message"]
    junk = root / "junk.card.json"
    junk.write_bytes(b"\x00\xff not json")
    assert refused(*init_from(root, [*paths[1:], junk]))["code"] == "bad_card"
    junk.write_text("[1, 2]")
    assert refused(*init_from(root, [*paths[1:], junk]))["code"] == "bad_card"
    junk.write_text("[" * 50_000)
    assert refused(*init_from(root, [*paths[1:], junk]))["code"] == "bad_card"
    junk.write_text(" " * 70_000 + "{}")
    assert "larger than" in refused(*init_from(root, [*paths[1:], junk]))["message"]
    missing = refused(*init_from(root, [*paths[1:], root / "nowhere.card.json"]))
    assert missing["code"] == "bad_card" and "cannot read" in missing["message"]


def test_card_needs_an_officer_key_and_a_free_out(tmp_path):
    cli("keys", "new", "--out", str(tmp_path / "v.key"))
    base = ["genesis", "bureau", "--key", str(tmp_path / "v.key"), "--moniker", "南昌",
            "--city", "360100", "--host", "10.0.0.1"]
    answer = refused(*base, "--out", str(tmp_path / "a.card.json"))
    assert answer["code"] == "bad_card" and "officer" in answer["message"]
    ok = [*base, "--officer-public-key", "11" * 32, "--out", str(tmp_path / "a.card.json")]
    assert cli(*ok)["warnings"] == []
    assert refused(*ok)["code"] == "file_error"
    same = refused(*base, "--officer-public-key", "11" * 32, "--p2p-port", "8545",
                   "--out", str(tmp_path / "b.card.json"))
    assert same["code"] == "bad_card" and "both 8545" in same["message"]
    elsewhere = cli(*base[:-4], "--city", "110100", "--host", "10.0.0.1",
                    "--officer-public-key", "11" * 32, "--out", str(tmp_path / "c.card.json"))
    assert "not a Jiangxi city code" in elsewhere["warnings"][0]


def test_mixed_suites_and_admin_key_reuse_are_refused(cards):
    root, paths = cards
    cli("keys", "new", "--out", str(root / "sm2.key"), "--suite", "sm2-sm3")
    cli("keys", "new", "--out", str(root / "sm2o.key"), "--suite", "sm2-sm3")
    sm2 = make_bureau(root, 5, host="10.0.0.9", **{
        "--key": str(root / "sm2.key"), "--officer-key": str(root / "sm2o.key"),
        "--city": "360500", "--moniker": "新余", "--out": str(root / "sm2.card.json")})
    assert refused(*init_from(root, [*paths, sm2]))["code"] == "suite_mismatch"
    args = ["genesis", "init", "--chain-id", "jx-cards", "--admin-key",
            str(root / "b0" / "officer.key"), "--out", str(root / "g.json")]
    args += [x for p in paths for x in ("--card", str(p))]
    assert refused(*args)["code"] == "duplicate_key"


# -- genesis config and preflight refusals ---------------------------------------------


def lab(tmp_path: Path) -> tuple[Path, list[Path]]:
    base = free_base_port(4)
    paths = [make_bureau(tmp_path, i, p2p_port=base + 2 * i) for i in range(4)]
    cli(*init_from(tmp_path, paths, "--allow-loopback"))
    return tmp_path / "genesis.json", paths


def config_args(genesis: Path, cards: list[Path], me: Path, home: Path, *extra: str) -> list[str]:
    args = ["genesis", "config", "--genesis", str(genesis), "--me", str(me), "--home", str(home),
            "--allow-loopback", *extra]
    return args + [x for p in cards for x in ("--card", str(p))]


def test_config_refuses_cards_that_are_not_the_genesis_validators(tmp_path):
    genesis, paths = lab(tmp_path)
    missing = refused(*config_args(genesis, paths[:3], paths[0], tmp_path / "h"))
    assert missing["code"] == "card_missing" and "九江" in missing["message"]
    stranger = make_bureau(tmp_path, 5, p2p_port=20000, **{
        "--city": "360500", "--moniker": "新余", "--out": str(tmp_path / "s.card.json")})
    answer = refused(*config_args(genesis, paths, stranger, tmp_path / "h"))
    assert answer["code"] == "not_in_genesis"
    wrong_key = refused(*config_args(genesis, paths, paths[0], tmp_path / "h",
                                     "--key", str(tmp_path / "b1" / "validator.key")))
    assert wrong_key["code"] == "key_mismatch"
    assert not (tmp_path / "h" / "config.json").exists()


def test_config_binds_where_told_and_refuses_to_overwrite(tmp_path):
    genesis, paths = lab(tmp_path)
    home = tmp_path / "h"
    made = cli(*config_args(genesis, paths, paths[2], home, "--bind", "0.0.0.0"))
    config = json.loads((home / "config.json").read_text())
    assert config["p2p_host"] == config["rpc_host"] == "0.0.0.0"
    card = json.loads(paths[2].read_text())
    assert config["p2p_port"] == card["p2p_port"] and config["rpc_port"] == card["rpc_port"]
    others = [json.loads(p.read_text()) for p in paths if p != paths[2]]
    assert config["peers"] == [
        {"public_key": c["public_key"], "host": c["host"], "port": c["p2p_port"]} for c in others
    ]
    assert any("validator.key" in w for w in made["warnings"])
    again = refused(*config_args(genesis, paths, paths[2], home))
    assert again["code"] == "home_exists"
    bad = refused(*config_args(genesis, paths, paths[2], tmp_path / "h2", "--bind", "bad host"))
    assert bad["code"] == "bad_option" and not (tmp_path / "h2").exists()
    cli(*config_args(genesis, paths, paths[2], tmp_path / "h3", "--rpc-bind", "::1"))
    config = json.loads((tmp_path / "h3" / "config.json").read_text())
    assert (config["p2p_host"], config["rpc_host"]) == ("127.0.0.1", "::1")


def test_preflight_names_each_problem(tmp_path):
    genesis, paths = lab(tmp_path)
    home = tmp_path / "h"
    cli(*config_args(genesis, paths, paths[0], home, "--key", str(tmp_path / "b0/validator.key")))
    assert cli("node", "preflight", "--home", str(home))["ok"]

    def failures(change) -> set[str]:
        path = home / "config.json"
        saved = path.read_text()
        config = json.loads(saved)
        change(config)
        path.write_text(json.dumps(config))
        try:
            report = cli("node", "preflight", "--home", str(home), ok=False)
        finally:
            path.write_text(saved)
        return {c["code"] for c in report["checks"] if c["status"] == "fail"}

    assert failures(lambda c: c["peers"].pop()) == {"peers_mismatch"}
    def unresolvable(c: dict) -> None:
        c["peers"][0].update(host="no-such-bureau.invalid")
        c.update(p2p_host="0.0.0.0")  # else binding loopback with a remote peer fails too

    assert failures(unresolvable) == {"host_unresolvable"}
    assert failures(lambda c: c.update(p2p_host="192.0.2.1")) == {"not_local_address"}
    assert failures(
        lambda c: [p.update(host="10.0.0.1", port=26656 + i) for i, p in enumerate(c["peers"])]
    ) == {"loopback_bind"}
    assert failures(lambda c: c.update(surprise=1)) == {"bad_config"}
    other = tmp_path / "other.key"
    cli("keys", "new", "--out", str(other))
    (home / "validator.key").rename(tmp_path / "mine.key")
    other.rename(home / "validator.key")
    report = cli("node", "preflight", "--home", str(home), ok=False)
    assert {c["code"] for c in report["checks"] if c["status"] == "fail"} == {"key_not_validator"}


# -- genesis new: hosts, and the development flag --------------------------------------------


def test_genesis_new_hosts_are_written_everywhere(tmp_path):
    hosts = "10.0.0.1,10.0.0.2,10.0.0.2,fe80::1"
    made = cli("genesis", "new", "--out", str(tmp_path / "lab"), "--validators", "4",
               "--hosts", hosts, "--base-port", "26650")
    configs = [json.loads((Path(h) / "config.json").read_text()) for h in made["homes"]]
    assert [(c["p2p_host"], c["p2p_port"]) for c in configs] == [
        ("10.0.0.1", 26650), ("10.0.0.2", 26650), ("10.0.0.2", 26652), ("fe80::1", 26650)
    ]
    assert [c["rpc_host"] for c in configs] == hosts.split(",")
    assert made["rpc"][3] == "http://[fe80::1]:26651"
    peers_of_0 = {(p["host"], p["port"]) for p in configs[0]["peers"]}
    assert peers_of_0 == {("10.0.0.2", 26650), ("10.0.0.2", 26652), ("fe80::1", 26650)}


@pytest.mark.parametrize(
    "hosts, code",
    [
        ("10.0.0.1,10.0.0.2", "bad_hosts"),
        ("10.0.0.1,,10.0.0.3,10.0.0.4", "bad_hosts"),
        ("10.0.0.1,bad host,10.0.0.3,10.0.0.4", "bad_hosts"),
        ("127.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4", "loopback_host"),
    ],
)
def test_genesis_new_refuses_bad_hosts(tmp_path, hosts, code):
    answer = refused("genesis", "new", "--out", str(tmp_path / "lab"), "--hosts", hosts)
    assert answer["code"] == code
    assert not (tmp_path / "lab").exists()


def test_only_genesis_new_says_development_keys(tmp_path):
    for flag in ((), ("--dev-keys",)):
        out = tmp_path / f"net{len(flag)}"
        cli("genesis", "new", "--out", str(out), "--validators", "1", *flag)
        genesis, _ = load_genesis(out / "genesis.json")
        assert genesis.development_keys
        assert ("public label" in genesis.note) == bool(flag)
    paths = [make_bureau(tmp_path, i, host=f"10.0.1.{i + 1}") for i in range(4)]
    cli(*init_from(tmp_path, paths))
    genesis, _ = load_genesis(tmp_path / "genesis.json")
    assert not genesis.development_keys and "every secret stayed" in genesis.note
