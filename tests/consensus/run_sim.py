"""Run the consensus simulator over many seeds; the last stdout line is one JSON object.

    python -m tests.consensus.run_sim --seeds N [--n 4,7,10,12] [--mutants] [--blocks B] [--jobs J]
    python -m tests.consensus.run_sim --seed S --n N          # rerun one seed
    python -m tests.consensus.run_sim --seeds 0 --shell-seeds K [--mutants]   # the node shell
    python -m tests.consensus.run_sim --shell --seed S --n N  # rerun one shell seed

``--shell-seeds`` also runs the node-shell simulator (``tests/node/shellsim.py``:
the production consensus driver and replica, Byzantine shells) and, with
``--mutants``, hunts each planted shell bug of ``node.mutations``.

Progress goes to stderr. A failing seed is printed with the command that
reruns it; the exit status is 1 when any safety or liveness check failed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator

from consensus.mutations import MUTATIONS
from node.mutations import MUTATIONS as SHELL_MUTATIONS
from tests.consensus.sim import SimOptions, SimResult, Simulation, run_seed
from tests.node.shellsim import ShellResult, run_shell_seed

__all__ = ["main"]

MUTANT_SEED_LIMIT = 10_000
MUTANT_BLOCKS = 40


def rerun_command(seed: int, n: int, blocks: int, mutant: str | None = None) -> str:
    """The one-line command that reproduces a seed."""
    extra = f" --mutant {mutant}" if mutant else ""
    return f"python -m tests.consensus.run_sim --seed {seed} --n {n} --blocks {blocks}{extra}"


def _one(job: tuple[int, int, int, frozenset[str]]) -> SimResult:
    seed, n, blocks, mutants = job
    return run_seed(seed, n, blocks, mutants=mutants)


def _results(jobs: list[tuple[int, int, int, frozenset[str]]], workers: int
             ) -> Iterator[SimResult]:
    """Results in seed order; each seed is independent, so workers change nothing else."""
    if workers <= 1:
        yield from map(_one, jobs)
        return
    with multiprocessing.Pool(workers) as pool:
        yield from pool.imap(_one, jobs, chunksize=2)


def _run_seeds(seeds: int, sizes: list[int], blocks: int, first: int, workers: int
               ) -> dict[str, int]:
    totals = {"seeds": 0, "blocks_decided": 0, "view_changes": 0, "safety_violations": 0,
              "liveness_failures": 0}
    jobs = [(first + i, sizes[i % len(sizes)], blocks, frozenset[str]()) for i in range(seeds)]
    for i, result in enumerate(_results(jobs, workers)):
        totals["seeds"] += 1
        totals["blocks_decided"] += result.blocks
        totals["view_changes"] += result.view_changes
        if not result.ok:
            key = "liveness_failures" if "liveness" in str(result.violation) else (
                "safety_violations")
            totals[key] += 1
            print(f"FAIL seed={result.seed} n={result.n}: {result.violation}\n  rerun: "
                  f"{rerun_command(result.seed, result.n, blocks)}", file=sys.stderr)
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{seeds} seeds, {totals}", file=sys.stderr)
    return totals


def hunt_mutant(name: str, limit: int = MUTANT_SEED_LIMIT, blocks: int = MUTANT_BLOCKS,
                workers: int = 1) -> tuple[int | None, str | None]:
    """Seeds run, in order, until the simulator catches the planted bug ``name``."""
    batch = 64
    for start in range(0, limit, batch):
        jobs = [(i, (4, 7)[i % 2], blocks, frozenset({name}))
                for i in range(start, min(limit, start + batch))]
        for result in _results(jobs, workers):
            if not result.ok:
                return result.seed + 1, f"{result.violation} (seed {result.seed}, n={result.n})"
    return None, None


def _one_shell(job: tuple[int, int, int, frozenset[str]]) -> ShellResult:
    seed, n, blocks, mutants = job
    return run_shell_seed(seed, n, blocks, mutants=mutants)


def _shell_results(jobs: list[tuple[int, int, int, frozenset[str]]], workers: int
                   ) -> Iterator[ShellResult]:
    if workers <= 1:
        yield from map(_one_shell, jobs)
        return
    with multiprocessing.Pool(workers) as pool:
        yield from pool.imap(_one_shell, jobs, chunksize=2)


def run_shell_seeds(seeds: int, blocks: int, workers: int) -> dict[str, int]:
    """The node shell (driver + replica) in ``tests/node/shellsim.py``, n = 4 and 7."""
    totals = {"shell_seeds": 0, "shell_blocks_decided": 0, "shell_failures": 0}
    jobs = [(i, (4, 7)[i % 2], blocks, frozenset[str]()) for i in range(seeds)]
    for result in _shell_results(jobs, workers):
        totals["shell_seeds"] += 1
        totals["shell_blocks_decided"] += result.blocks
        if not result.ok:
            totals["shell_failures"] += 1
            print(f"FAIL shell seed={result.seed} n={result.n}: {result.violation}\n  rerun: "
                  f"python -m tests.consensus.run_sim --shell --seed {result.seed} "
                  f"--n {result.n} --blocks {blocks}", file=sys.stderr)
    return totals


def hunt_shell_mutant(name: str, limit: int = 2_000, blocks: int = 20, workers: int = 1
                      ) -> tuple[int | None, str | None]:
    """Shell seeds run, in order, until the shell simulator catches planted bug ``name``."""
    batch = 32
    for start in range(0, limit, batch):
        jobs = [(i, (4, 7)[i % 2], blocks, frozenset({name}))
                for i in range(start, min(limit, start + batch))]
        for result in _shell_results(jobs, workers):
            if not result.ok:
                return result.seed + 1, f"{result.violation} (seed {result.seed}, n={result.n})"
    return None, None


def measure_rate(n: int, blocks: int = 200) -> float:
    """Decided blocks per CPU second, fault-free, all replicas simulated in one process."""
    start = time.process_time()
    result = Simulation(SimOptions(n=n, seed=1, target_blocks=blocks)).run()
    return round(result.blocks / (time.process_time() - start), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None, help="rerun one seed")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--n", default="4,7")
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--mutants", action="store_true")
    parser.add_argument("--mutant", default=None, help="with --seed: plant this bug")
    parser.add_argument("--shell", action="store_true",
                        help="with --seed: rerun a seed of the node-shell simulator")
    parser.add_argument("--shell-seeds", type=int, default=0,
                        help="also run this many seeds of the node-shell simulator")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (results do not depend on it)")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.n.split(",")]
    if args.seed is not None:
        mutants = frozenset({args.mutant}) if args.mutant else frozenset()
        run = run_shell_seed if args.shell else run_seed
        result = run(args.seed, sizes[0], args.blocks, mutants=mutants)
        print(json.dumps(result.__dict__))
        return 0 if result.ok else 1
    started = time.monotonic()
    summary: dict[str, object] = dict(
        _run_seeds(args.seeds, sizes, args.blocks, args.first, args.jobs))
    if args.mutants:
        table = {}
        for name in MUTATIONS:
            seeds, why = hunt_mutant(name, workers=args.jobs)
            table[name] = seeds
            print(f"mutant {name}: caught after {seeds} seeds: {why}", file=sys.stderr)
        summary["mutants_caught"] = sum(v is not None for v in table.values())
        summary["mutants_seeds_until_caught"] = table
    if args.shell_seeds:
        summary.update(run_shell_seeds(args.shell_seeds, 30, args.jobs))
    if args.shell_seeds and args.mutants:
        shell_table = {}
        for name in SHELL_MUTATIONS:
            seeds, why = hunt_shell_mutant(name, workers=args.jobs)
            shell_table[name] = seeds
            print(f"shell mutant {name}: caught after {seeds} seeds: {why}", file=sys.stderr)
        summary["shell_mutants_caught"] = sum(v is not None for v in shell_table.values())
        summary["shell_mutants_seeds_until_caught"] = shell_table
    summary["sim_commits_per_cpu_s_n4"] = measure_rate(4)
    summary["sim_commits_per_cpu_s_n12"] = measure_rate(12)
    summary["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(summary))
    failed = (summary["safety_violations"] or summary["liveness_failures"]
              or summary.get("shell_failures"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
