"""Tiny generated inputs and fit arguments shared by the replay and rerun tests."""

from __future__ import annotations

import numpy as np

# Small and short: every method fits in well under a second once compiled.
FITS = {
    "svd": ("-k", "3"),
    "nmf": ("-k", "3", "--max-iter", "15"),
    "als": ("-k", "3", "--iters", "3"),
    "sgd": ("-k", "3", "--epochs", "3", "--blocks", "2"),
}


def write_ratings(path, seed: int = 1, n: int = 300) -> str:
    """``n`` distinct (user, item, rating) triplets over 40 users and 25 items, as CSV."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, int]] = set()
    lines = ["user,item,rating"]
    while len(seen) < n:
        u, i = int(rng.integers(40)), int(rng.integers(25))
        if (u, i) not in seen:
            seen.add((u, i))
            lines.append(f"{u},{i},{int(rng.integers(1, 6))}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)
