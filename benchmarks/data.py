"""Benchmark inputs from mfcli's generator, cached in ``benchmarks/_data/``.

A spec is a small dict (kind, sizes, seed, format ...). The file name holds a
hash of the spec and of ``DATA_VERSION``, so a changed spec or generator
gives a new file instead of a stale one. A sidecar ``.json`` records the spec,
shape, nnz and size.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "_data"
DATA_VERSION = 1
SUFFIX = {"csv": ".csv", "tsv": ".tsv", "mtx": ".mtx", "h5": ".h5"}


def path_for(spec: dict) -> Path:
    key = json.dumps({"v": DATA_VERSION, **spec}, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return DATA_DIR / f"{spec['kind']}-{spec.get('name', 'data')}-{digest}{SUFFIX[spec['format']]}"


def ensure(spec: dict, log=print) -> Path:
    """The file for ``spec``, generated first (in a subprocess) if it is not cached.

    Generating in a subprocess keeps the harness process small: Linux charges
    a parent's resident size at fork to the child's peak RSS, so a big parent
    would inflate every measurement.
    """
    path = path_for(spec)
    if path.exists() and path.with_suffix(".json").exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    log(f"  generating {path.name} ...")
    subprocess.run(
        [sys.executable, "-m", "benchmarks.data", json.dumps(spec)],
        check=True,
        cwd=DATA_DIR.parent.parent,
    )
    return path


def _write(spec: dict) -> None:
    path = path_for(spec)
    matrix = _generate(spec)
    from mfcli.io import write

    names = spec.get("names")
    write.write_matrix(
        str(path),
        matrix,
        format=spec["format"],
        names=names,
        header=spec.get("header", True),
        force=True,
    )
    meta = {
        "spec": spec,
        "shape": list(matrix.shape),
        "nnz": matrix.nnz,
        "bytes": os.path.getsize(path),
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))


def describe(spec: dict) -> dict:
    """Sidecar metadata of a generated file."""
    return json.loads(path_for(spec).with_suffix(".json").read_text())


def _generate(spec: dict):
    from mfcli import synth

    kind, seed = spec["kind"], spec.get("seed", 0)
    if kind == "ratings":
        matrix, _ = synth.ratings(
            spec["users"],
            spec["items"],
            spec["nnz"],
            step=spec.get("step", 1.0),
            timestamps=spec.get("timestamps", True),
            seed=seed,
        )
    elif kind == "lowrank-sparse":
        matrix, _ = synth.lowrank_sparse(
            spec["rows"], spec["cols"], spec["nnz"], spec.get("rank", 10), seed=seed
        )
    elif kind == "lowrank":
        matrix, _ = synth.lowrank_dense(
            spec["rows"],
            spec["cols"],
            spec.get("rank", 10),
            noise=spec.get("noise", 0.01),
            seed=seed,
        )
    elif kind == "lowrank-nonneg":
        matrix = _lowrank_nonneg(spec, seed)
    elif kind == "implicit":
        # counts >= 1 (1 + Poisson); power-law user activity and item popularity
        matrix, _ = synth.implicit(
            spec["users"],
            spec["items"],
            spec["nnz"],
            rank=spec.get("rank", 10),
            mean_count=spec.get("mean_count", 3.0),
            distribution=spec.get("distribution", "poisson"),
            user_exponent=spec.get("user_exponent", 0.6),
            item_exponent=spec.get("item_exponent", 1.0),
            seed=seed,
        )
    else:
        raise ValueError(f"unknown data kind {kind!r}")
    return matrix


def _lowrank_nonneg(spec: dict, seed: int):
    """Dense ``max(W H + noise * rms(W H) * N(0, 1), 0)`` for NMF.

    ``W`` (rows x rank) and ``H`` (rank x cols) hold exponential entries of
    which a share ``density`` is kept (the rest are zero), so the planted
    factors are non-negative and sparse, as NMF assumes; ``noise`` is the
    Gaussian noise's standard deviation relative to the root mean square of
    ``W H``.
    """
    import numpy as np

    from mfcli.data import Matrix

    rng = np.random.default_rng(seed)
    rows, cols, rank = spec["rows"], spec["cols"], spec.get("rank", 10)
    density = spec.get("density", 0.3)
    w = rng.exponential(size=(rows, rank)) * (rng.random((rows, rank)) < density)
    h = rng.exponential(size=(rank, cols)) * (rng.random((rank, cols)) < density)
    values = w @ h
    scale = spec.get("noise", 0.01) * np.sqrt(np.mean(values**2))
    values += scale * rng.standard_normal(values.shape)
    np.maximum(values, 0, out=values)
    return Matrix.from_dense(values, meta={"generator": "lowrank-nonneg", "seed": seed})


if __name__ == "__main__":
    _write(json.loads(sys.argv[1]))
