"""Prometheus text exposition of a node's counters and gauges (no client library needed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from node.faults import Faults

__all__ = ["Metrics", "family", "label"]

_LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2000, 5000, 10000)


@dataclass
class Metrics:
    """Everything /metrics reports; the runtime updates it in place."""

    height: int = 0
    view: int = 0
    view_changes: int = 0
    mempool_txs: int = 0
    mempool_bytes: int = 0
    peers_connected: int = 0
    signatures_verified: int = 0
    evidence: int = 0
    speculations: int = 0
    speculation_hits: int = 0
    proposals_refused_for_time: int = 0
    clock_offset_s: int = 0
    committed: Counter[tuple[str, str]] = field(default_factory=Counter)
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(_LATENCY_BUCKETS_MS) + 1))
    latency_sum_ms: float = 0.0
    latency_count: int = 0
    faults: Faults = field(default_factory=Faults)

    def observe_latency(self, ms: float) -> None:
        """Record one tx's admission-to-commit latency."""
        for i, bound in enumerate(_LATENCY_BUCKETS_MS):
            if ms <= bound:
                self.latency_buckets[i] += 1
                break
        else:
            self.latency_buckets[-1] += 1
        self.latency_sum_ms += ms
        self.latency_count += 1

    def render(self) -> str:
        lines = []
        for name, value, help_text in (
            ("skillchain_height", self.height, "Last committed height."),
            ("skillchain_view", self.view, "Current consensus view."),
            ("skillchain_view_changes_total", self.view_changes, "View changes entered."),
            ("skillchain_mempool_txs", self.mempool_txs, "Pending txs."),
            ("skillchain_mempool_bytes", self.mempool_bytes, "Pending tx bytes."),
            ("skillchain_peers_connected", self.peers_connected, "Validators we can send to."),
            (
                "skillchain_signatures_verified_total",
                self.signatures_verified,
                "Tx signatures verified.",
            ),
            (
                "skillchain_speculations_total",
                self.speculations,
                "Blocks executed ahead of their proposal, from the primary's preview.",
            ),
            (
                "skillchain_speculation_hits_total",
                self.speculation_hits,
                "Proposals verified without executing again (their preview matched).",
            ),
            (
                "skillchain_proposals_refused_for_time_total",
                self.proposals_refused_for_time,
                "Proposals refused because their time is ahead of our clock (check NTP).",
            ),
            (
                "skillchain_clock_offset_seconds",
                self.clock_offset_s,
                "Our clock minus the median of the other validators' block times.",
            ),
            (
                "skillchain_evidence_total",
                self.evidence,
                "Evidence: two votes or two proposals by one validator for one slot.",
            ),
        ):
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
        lines += [
            "# HELP skillchain_txs_committed_total Committed txs by kind and status.",
            "# TYPE skillchain_txs_committed_total counter",
        ]
        for (kind, status), count in sorted(self.committed.items()):
            lines.append(
                f'skillchain_txs_committed_total{{kind="{kind}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP skillchain_commit_latency_ms Admission-to-commit latency (txs submitted here).",
            "# TYPE skillchain_commit_latency_ms histogram",
        ]
        running = 0
        for bound, count in zip((*_LATENCY_BUCKETS_MS, "+Inf"), self.latency_buckets, strict=True):
            running += count
            lines.append(f'skillchain_commit_latency_ms_bucket{{le="{bound}"}} {running}')
        lines.append(f"skillchain_commit_latency_ms_sum {self.latency_sum_ms:.1f}")
        lines.append(f"skillchain_commit_latency_ms_count {self.latency_count}")
        lines += self.faults.render()
        return "\n".join(lines) + "\n"


def label(text: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def family(
    name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]
) -> list[str]:
    """The lines of one metric family: HELP, TYPE and a sample per label set."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        tags = ",".join(f'{key}="{label(str(val))}"' for key, val in labels.items())
        lines.append(f"{name}{{{tags}}} {value}" if tags else f"{name} {value}")
    return lines
