"""The long chaos run: ``python -m bench.chaos --minutes N --validators n [--seed S]``.

Runs ``tests.chaos.harness.run_chaos`` for N minutes against n real validator
processes, prints each perturbation as it happens (stderr) and ends with ONE
line of JSON on stdout: perturbations, acked, lost, double_applied,
conflicting_signatures, max_recovery_s (and more). Exit status 1 when any
invariant broke, so ``make chaos`` fails loudly.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tests.chaos.harness import ChaosConfig, run_chaos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=None, help="keep the run's homes here")
    args = parser.parse_args(argv)
    config = ChaosConfig(
        validators=args.validators,
        seed=args.seed,
        duration_s=args.minutes * 60,
        clients=args.clients,
        hold_s=(1.0, 8.0),
        gap_s=(1.0, 10.0),
    )

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        result = run_chaos(args.dir, config, say)
    else:
        with tempfile.TemporaryDirectory(prefix="skillchain-chaos-") as tmp:
            result = run_chaos(Path(tmp), config, say)
    summary = {"validators": args.validators, "seed": args.seed, **result.summary()}
    print(json.dumps(summary), flush=True)
    return 0 if result.report.ok and result.max_recovery_s <= 60 else 1


if __name__ == "__main__":
    raise SystemExit(main())
