"""The supervision report's figures, checked against workloads whose numbers we know."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.audit import audit
from cli.workload import ClassPlan, Workload, h
from node.audit.replay import replay
from node.audit.report import Thresholds, build_report
from tests.audit.conftest import ListSource
from tests.audit.devchain import DevChain

DAY = 86_400
HOUR = 3600


def rows(report: dict[str, Any], dim: str) -> dict[str, dict[str, Any]]:
    return {r[dim]: r for r in report["tables"][dim]}


def test_demo_workload_figures(dev_chain: DevChain):
    workload: Workload = dev_chain.workload  # type: ignore[attr-defined]
    report = build_report(dev_chain.genesis, dev_chain.store)
    classes = rows(report, "class")
    for plan in workload.classes[:-1]:
        row = classes[plan.class_id]
        assert row["trainees"] == len(plan.trainees)
        assert row["claims_paid"] == row["claims_filed"] == len(plan.trainees)
        assert row["credited_offline_hours"] > 0
    twin = workload.classes[-1]
    assert classes[twin.class_id]["rejected_by_code"] == {
        "certificate_used": 1, "session_overlap": 10}
    fraud = workload.report.fraud_attempts
    total: dict[str, int] = {}
    for row in report["tables"]["provider"]:
        for code, count in row["rejected_by_code"].items():
            total[code] = total.get(code, 0) + count
    for code in ("session_overlap", "simulation_not_allowed", "duplicate_session"):
        assert total[code] == fraud[code], code
    assert total["claim_in_progress"] == 1 and total["certificate_used"] == 1
    paid = sum(r["paid_yuan"] for r in report["tables"]["city"])
    assert paid == sum(r["paid_yuan"] for r in report["tables"]["provider"]) > 0
    assert sum(r["claims_paid"] for r in report["tables"]["occupation"]) == 60


@pytest.fixture(scope="module")
def signals_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevChain, dict[str, Any]]:
    """A hand-made chain: every soft signal fires exactly where the test put it."""
    chain = DevChain.create(tmp_path_factory.mktemp("signals"))
    w = Workload(chain.root / "net", [], trainees=20, progress=lambda _: None)
    w.now = chain.time_s - 1
    occupation = w._occupations()[0]
    plan = ClassPlan("sig-01", "provider-ganpo", "organizer-nc-school", "360100", occupation)
    w.classes = [plan]
    trainees = {name: bytes([i + 1]) * 32 for i, name in enumerate("ABCE")}
    plan.trainees = list(trainees.values())
    start, end = w.now - 40 * DAY, w.now + 40 * DAY
    chain.commit([w.tx("provider-ganpo", "enrolment.open_class", [
        plan.class_id, plan.organizer, occupation.code, occupation.edition, occupation.level,
        plan.city, start, end, occupation.theory_seconds])])
    chain.commit([w.tx("provider-ganpo", "enrolment.enrol", [
        plan.class_id, [[t, h("rn"), "face+id-card"] for t in plan.trainees]])])
    midnight = (w.now - 20 * DAY) // DAY * DAY - 8 * HOUR  # 00:00 China time
    slots = [midnight + d * DAY + 9 * HOUR + k * 9000 for d in range(10) for k in range(4)]

    def session(sid: str, trainee: bytes, begin: int, length: int = 2 * HOUR,
                failed: tuple[int, ...] = ()) -> list:
        times = [*range(begin, begin + length, 1500), begin + length]
        captures = [[t, h(f"{sid}-{t}"), i not in failed] for i, t in enumerate(times)]
        return [sid, trainee, plan.class_id, "u1", "recorded", begin, begin + length, length,
                captures, h(sid)]

    a, b, c, e = (trainees[n] for n in "ABCE")
    rows_ = [session(f"A-{d}", a, slots[4 * d]) for d in range(3)]
    rows_ += [session(f"B-{d}", b, slots[4 * d]) for d in range(3)]  # same timings as A
    rows_ += [session("C-night", c, midnight + 5 * DAY + 2 * HOUR, HOUR)]  # 02:00 China
    rows_ += [session("C-faces", c, slots[8], failed=(1, 2, 3))]  # rejected: no_face_check
    needed = -(-occupation.theory_seconds // (2 * HOUR))
    rows_ += [session(f"E-{i}", e, slots[i]) for i in range(needed)]  # 4 a day: too fast
    rows_ += [session("A-0", a, slots[20])]  # duplicate session id: rejected
    chain.commit([w.tx("provider-ganpo", "learning.record_sessions", [rows_])])
    chain.commit([w.tx("provider-lushan", "enrolment.enrol", [  # not its class: rejected
        plan.class_id, [[bytes(32), h("x"), "face+id-card"]]])])
    expected = {"trainees": trainees, "needed": needed, "days": -(-needed // 4),
                "theory": occupation.theory_seconds}
    return chain, expected


def test_soft_signals_fire_with_evidence(signals_chain, tmp_path: Path):
    chain, expected = signals_chain
    t = expected["trainees"]
    assert expected["days"] * 6 * HOUR < expected["theory"]  # E is fast by construction
    report = build_report(chain.genesis, chain.store, Thresholds())
    signals = report["signals"]
    same = signals["identical_timings"]
    assert len(same) == 1 and sorted(same[0]["trainees"]) == sorted([t["A"].hex(), t["B"].hex()])
    assert same[0]["heights"] == [3] and len(same[0]["tx_hashes"]) == 1
    night = signals["night_sessions"]
    assert [i["trainees"] for i in night] == [[t["C"].hex()]] and night[0]["count"] == 1
    fast = signals["fast_study"]
    assert [i["trainees"] for i in fast] == [[t["E"].hex()]]
    assert fast[0]["count"] == expected["days"]
    faces = signals["failed_face_checks"]
    assert [(i["trainees"], i["count"]) for i in faces] == [([t["C"].hex()], 3)]

    row = rows(report, "class")["sig-01"]
    assert row["trainees"] == 4
    assert row["sessions_credited"] == 3 + 3 + 1 + expected["needed"]
    assert row["rejected_by_code"] == {"duplicate_session": 1, "no_face_check": 1,
                                       "not_class_provider": 1}
    provider = rows(report, "provider")  # lushan's attempt counts against the class's owner
    assert sum(provider["provider-ganpo"]["rejected_by_code"].values()) == 3
    assert rows(report, "city")["360100"]["trainees"] == 4


def test_files_csv_bom_json_and_html(signals_chain, tmp_path: Path):
    chain, _ = signals_chain
    replayed = replay(chain.genesis, chain.genesis_hash, ListSource(chain.pairs()),
                      tmp_path / "replayed", 1)
    assert replayed.ok
    answer = CliRunner().invoke(audit, [
        "report", "--genesis", str(chain.genesis_path), "--data", str(tmp_path / "replayed"),
        "--out", str(tmp_path / "r"), "--json"])
    assert answer.exit_code == 0, answer.output
    summary = json.loads(answer.output)
    assert summary["signals"] == {"identical_timings": 1, "night_sessions": 1, "fast_study": 1,
                                  "failed_face_checks": 1}
    names = set(summary["files"])
    assert {"provider.csv", "class.csv", "city.csv", "occupation.csv", "signals.csv",
            "rejections.csv", "report.json", "report.html"} <= names
    report = build_report(chain.genesis, chain.store)
    raw = (tmp_path / "r" / "provider.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with (tmp_path / "r" / "class.csv").open(encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    assert table[0]["class"] == "sig-01" and table[0]["trainees"] == "4"
    assert json.loads((tmp_path / "r" / "report.json").read_text())["txs"] == report["txs"]
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("<svg") == 3 and "<script" not in page and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")

