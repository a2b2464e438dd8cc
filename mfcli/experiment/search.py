"""Parameter sets of one method: the fixed params, a grid, or a seeded random search."""

from __future__ import annotations

import itertools
import math
from typing import Any

# How a random-search range is written: {loguniform: [lo, hi]} and so on.
DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")


class SearchError(ValueError):
    """A malformed grid or random search; ``parts`` locates it in the file."""

    def __init__(self, message: str, parts: tuple = ()) -> None:
        super().__init__(message)
        self.parts = parts


def grid(values: Any, parts: tuple) -> list[dict[str, Any]]:
    """Every combination of ``{key: [v1, v2, ...]}``, first key slowest."""
    if not isinstance(values, dict) or not values:
        raise SearchError("grid: expected a mapping of key: [values]", parts)
    keys, lists = [], []
    for key, options in values.items():
        if not isinstance(options, list) or not options:
            raise SearchError(f"grid.{key}: expected a non-empty list of values", (*parts, key))
        keys.append(key)
        lists.append(options)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*lists)]


def random_search(spec: Any, parts: tuple) -> list[dict[str, Any]]:
    """``{trials: N, seed: S, space: {key: {uniform: [lo, hi]} ...}}`` drawn with numpy's PCG64."""
    import numpy as np

    if not isinstance(spec, dict):
        raise SearchError("random: expected a mapping with trials, seed and space", parts)
    unknown = set(spec) - {"trials", "seed", "space"}
    if unknown:
        key = sorted(unknown)[0]
        raise SearchError(f"random.{key}: unknown key (use trials, seed, space)", (*parts, key))
    trials, seed, space = spec.get("trials"), spec.get("seed", 0), spec.get("space")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise SearchError("random.trials: expected an integer >= 1", (*parts, "trials"))
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SearchError("random.seed: expected an integer >= 0", (*parts, "seed"))
    if not isinstance(space, dict) or not space:
        raise SearchError("random.space: expected a mapping of key: {distribution: ...}", parts)
    draws = {key: _checked(dist, (*parts, "space", key), key) for key, dist in space.items()}
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(trials):
        out.append({key: _draw(rng, kind, args) for key, (kind, args) in draws.items()})
    return out


def _checked(dist: Any, parts: tuple, key: str) -> tuple[str, list]:
    if not isinstance(dist, dict) or len(dist) != 1:
        raise SearchError(
            f"random.space.{key}: expected one of {{{', '.join(DISTRIBUTIONS)}: ...}}", parts
        )
    ((kind, args),) = dist.items()
    if kind not in DISTRIBUTIONS:
        raise SearchError(
            f"random.space.{key}: unknown distribution {kind!r} (use {', '.join(DISTRIBUTIONS)})",
            parts,
        )
    if not isinstance(args, list) or not args:
        raise SearchError(f"random.space.{key}.{kind}: expected a list", parts)
    if kind == "choice":
        return kind, args
    args = [_number(a) for a in args]
    if len(args) != 2 or None in args or not args[0] <= args[1]:
        raise SearchError(
            f"random.space.{key}.{kind}: expected [low, high] with low <= high", parts
        )
    if not all(math.isfinite(a) and abs(a) < 2.0**62 for a in args):
        raise SearchError(f"random.space.{key}.{kind}: bounds must be finite numbers", parts)
    if kind == "int" and not all(float(a).is_integer() for a in args):
        raise SearchError(f"random.space.{key}.int: bounds must be integers", parts)
    if kind == "loguniform" and not args[0] > 0:
        raise SearchError(f"random.space.{key}.loguniform: bounds must be > 0", parts)
    return kind, [float(a) for a in args]


def _draw(rng, kind: str, args: list) -> Any:
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    lo, hi = args
    if kind == "int":
        return int(rng.integers(int(lo), int(hi) + 1))
    if kind == "uniform":
        x = float(rng.uniform(lo, hi))
    else:
        x = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return min(max(_short(x), lo), hi)  # rounding never leaves the range


def _short(x: float) -> float:
    """Four significant digits: values that read well in tables and YAML and replay exactly."""
    return float(f"{x:.4g}")


def _number(x: Any) -> float | None:
    """A bound as a float; YAML reads 1e-4 (no dot) as a string, so numeric strings count."""
    from mfcli.config import NUMBER_LITERAL

    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str) and NUMBER_LITERAL.match(x.strip()):
        return float(x)
    return None
