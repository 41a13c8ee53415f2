"""Readiness rules, config keys of the operations surface, the log formats and the
config reference page: in-process, no network (the process tests are in test_ops.py)."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from chain.types import Block, BlockHeader
from consensus.messages import CatchUpRequest, CatchUpResponse, CertifiedBlock, ViewChange
from node.config import ConfigError, NodeConfig, PeerAddress, load_config
from node.health import READY_LAG_BLOCKS, CatchUpWatch, PeerTips, assess
from node.logs import JsonFormatter, configure_logging

REPO = Path(__file__).resolve().parents[2]
KEYS = [bytes([i]) * 32 for i in range(7)]  # n = 7, f = 2, quorum 5
ME = KEYS[0]


def test_a_tip_claimed_by_fewer_than_f_plus_one_is_not_believed():
    tips = PeerTips()
    tips.note_head(KEYS[1], 1_000_000)  # a liar
    tips.note_head(KEYS[2], 1_000_000)  # another: f = 2 of them
    readiness = assess(10, tips, KEYS, ME, KEYS[1:])
    assert readiness.known_tip == 10 and readiness.ready
    tips.note_head(KEYS[3], 50)  # one honest validator is at 50: now f+1 claim >= 50
    readiness = assess(10, tips, KEYS, ME, KEYS[1:])
    assert readiness.known_tip == 50 and not readiness.synced and not readiness.ready
    body = readiness.to_json()
    assert body["code"] == "not_ready" and "40 blocks behind" in body["message"]
    assert body["checks"]["synced"] == {
        "ok": False, "height": 10, "known_tip": 50, "behind_blocks": 40,
        "max_lag_blocks": READY_LAG_BLOCKS,
    }
    assert body["checks"]["quorum"]["ok"] is True


def test_a_replica_one_or_two_heights_behind_is_still_synced():
    tips = PeerTips()
    for key in KEYS[1:]:
        tips.note_head(key, 10 + READY_LAG_BLOCKS)
    assert assess(10, tips, KEYS, ME, KEYS[1:]).ready
    assert not assess(9, tips, KEYS, ME, KEYS[1:]).synced


def test_claims_of_keys_outside_the_set_and_our_own_are_ignored():
    tips = PeerTips()
    outsider = b"\xee" * 32
    for key in (outsider, ME):
        tips.note_head(key, 500)
    tips.note_head(KEYS[1], 500)
    tips.note_head(KEYS[2], 500)
    assert assess(10, tips, KEYS, ME, KEYS[1:]).known_tip == 10  # two claims, f + 1 = 3
    tips.note_head(KEYS[3], 500)
    assert assess(10, tips, KEYS, ME, KEYS[1:]).known_tip == 500


def test_quorum_counts_this_node_and_two_way_links_to_validators_only():
    tips = PeerTips()
    readiness = assess(3, tips, KEYS, ME, [KEYS[1], KEYS[2], KEYS[3], b"\xee" * 32])
    assert readiness.validators_connected == 4 and readiness.quorum == 5
    assert not readiness.ready and readiness.synced
    assert "4 of 7 validators reachable" in readiness.to_json()["message"]
    assert assess(3, tips, KEYS, ME, KEYS[1:5]).ready
    removed = assess(3, tips, KEYS[1:], ME, KEYS[1:5])  # we are not in the set any more
    assert removed.validators_connected == 4


def test_a_single_validator_is_ready_alone():
    assert assess(0, PeerTips(), [ME], ME, []).ready


def test_messages_imply_their_senders_head():
    tips = PeerTips()
    tips.note_message(KEYS[1], ViewChange(12, 3, 0, None, b"s", b""))
    assert tips.head_of(KEYS[1]) == 11
    tips.note_message(KEYS[1], CatchUpRequest(5, b"s", b""))  # claims never go down
    assert tips.head_of(KEYS[1]) == 11
    tips.note_message(KEYS[2], CatchUpRequest(30, b"s", b""))
    assert tips.head_of(KEYS[2]) == 29
    header = BlockHeader("x", 40, 0, 0, b"\0" * 32, b"p", *(b"\0" * 32,) * 4)
    answer = CatchUpResponse((CertifiedBlock(Block(header, ()), None),), b"s", b"")
    tips.note_message(KEYS[3], answer)
    assert tips.head_of(KEYS[3]) == 40


def test_catch_up_starts_and_finishes_with_the_readiness_check():
    tips, watch = PeerTips(), CatchUpWatch()
    for key in KEYS[1:]:
        tips.note_head(key, 100)
    assert watch.update(assess(100, tips, KEYS, ME, KEYS[1:]), 0.0) is None
    for key in KEYS[1:]:
        tips.note_head(key, 200)
    assert watch.update(assess(100, tips, KEYS, ME, KEYS[1:]), 1.0) == "started"
    for _ in range(99):
        watch.on_commit()
    assert watch.update(assess(199, tips, KEYS, ME, KEYS[1:]), 2.0) == "finished"
    assert watch.to_json() | {} == {
        "in_progress": False, "started_height": 100, "started_at": 1.0,
        "blocks_fetched": 99, "catch_ups": 1,
    }


# -- config keys of the operations surface -------------------------------------------------

BAD_VALUES = [
    ("log_level", "LOUD"),
    ("log_level", 20),
    ("log_format", "xml"),
    ("log_file", ""),
    ("log_file", 5),
    ("metrics_host", ""),
    ("metrics_port", 0),
    ("metrics_port", 70_000),
    ("metrics_port", "9650x"),
    ("metrics_port", "rpc"),  # replaced by the rpc port: must differ
]


def write_home(tmp_path: Path, **overrides) -> Path:
    config = {"moniker": "n0", "p2p_port": 26650, "rpc_port": 26651, **overrides}
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_each_new_config_key_is_refused_when_malformed(tmp_path, key, value):
    if value == "rpc":
        value = 26651
    home = write_home(tmp_path, **{key: value})
    with pytest.raises(ConfigError) as refused:
        load_config(home)
    assert refused.value.code == "bad_config"
    assert key in refused.value.message


def test_new_config_keys_have_working_defaults_and_accept_good_values(tmp_path):
    config = load_config(write_home(tmp_path))
    assert (config.log_level, config.log_format, config.log_file) == ("INFO", "text", "node.log")
    assert config.metrics_port is None and config.metrics_host == "127.0.0.1"
    good = dict(log_level="DEBUG", log_format="json", log_file="-", metrics_port=9650,
                metrics_host="0.0.0.0")
    config = load_config(write_home(tmp_path, **good))
    assert config.model_dump(include=set(good)) == good


def test_config_reference_documents_every_key():
    text = (REPO / "docs" / "config.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, re.MULTILINE))
    assert documented == set(NodeConfig.model_fields), "docs/config.md and NodeConfig differ"
    for field in PeerAddress.model_fields:
        assert f"`{field}`" in text
    assert "docs/config.md" in (REPO / "README.md").read_text()


# -- log formats --------------------------------------------------------------------------


def test_json_log_lines_are_objects_with_the_documented_fields():
    record = logging.LogRecord(
        "skillchain.node", logging.INFO, __file__, 1, "height %d", (7,), None
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "INFO" and entry["logger"] == "skillchain.node"
    assert entry["message"] == "height 7"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exception"]


def test_reopen_writes_to_a_new_file_at_the_same_path(tmp_path):
    path = tmp_path / "node.log"
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup = configure_logging("INFO", "text", path, stderr=False)
        logging.getLogger("skillchain.test").info("before")
        path.rename(tmp_path / "node.log.1")
        setup.reopen()
        logging.getLogger("skillchain.test").info("after")
        assert "before" in (tmp_path / "node.log.1").read_text()
        fresh = path.read_text()
        assert "after" in fresh and "reopened" in fresh and "before" not in fresh
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
