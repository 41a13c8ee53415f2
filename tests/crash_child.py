"""Child process for the crash-consistency test: commit blocks until killed.

Prints ``committed <height>`` after each commit returns (that is the
acknowledgement the parent holds us to).
"""

from __future__ import annotations

import random
import sys

from tests.storefixtures import commit_puts, ensure_genesis, open_store


def main(path: str, seed: int) -> None:
    rng = random.Random(seed)
    store = open_store(path)
    ensure_genesis(store)
    while True:
        puts = {}
        for _ in range(rng.randint(1, 60)):
            key = b"k%04d" % rng.randrange(3000)
            puts[key] = None if rng.random() < 0.15 else rng.randbytes(rng.randint(1, 64))
        block = commit_puts(store, puts, txs_per_block=rng.randint(1, 4))
        print(f"committed {block.header.height}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
