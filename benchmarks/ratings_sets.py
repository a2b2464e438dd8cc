"""Explicit rating sets for the rating-prediction cases, and one seeded random split of each.

The real sets are files in ``../shared/data/real/ratings/`` (outside the
repository; users of the repo do not have them). They are read with mfcli's
own readers (``mfcli.io.read_matrix``; the MATLAB files too), so every tool
sees the ratings exactly as ``mfcli`` does: ids mapped to positions, a
repeated (user, item) pair kept once (the last in file order).

``ensure_split`` makes one random split of a file's ratings (a share
``test_frac`` of them, drawn with ``numpy.random.default_rng(seed)``, held
out) and caches it in ``benchmarks/_data/`` as ``.npz`` triplets in the full
matrix's index space, with a ``.json`` sidecar of facts (sizes, rating range,
test pairs whose user or item has no training rating). The split runs in a
subprocess (``python -m benchmarks.ratings_sets SPEC``) so that the harness
stays small. Every tool of a scenario reads the same ``.npz`` (``load``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.data import DATA_DIR

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "data" / "real" / "ratings"
SPLIT_VERSION = 1


@dataclass(frozen=True)
class RealSet:
    """A real rating file and how mfcli reads it (``ReadOptions`` fields)."""

    name: str
    path: Path
    read: dict
    about: str


SETS = {
    "filmtrust": RealSet(
        "FilmTrust",
        REAL / "filmtrust" / "ratings.txt",
        {"duplicates": "last"},
        "space-separated user item rating, 0.5-4.0 in half steps",
    ),
    "ciaodvd": RealSet(
        "CiaoDVD",
        REAL / "ciaodvd" / "movie-ratings.txt",
        {"columns": "0,1,4", "duplicates": "last"},
        "comma-separated, columns user, movie, rating (0-based 0, 1, 4), 1-5",
    ),
    "epinions": RealSet(
        "Epinions (Tang et al.)",
        REAL / "epinions_tang" / "rating.mat",
        {"columns": "0,1,3", "duplicates": "last"},
        "MATLAB v5 table, columns user, product, rating (0-based 0, 1, 3), 1-5",
    ),
    "douban": RealSet(
        "Douban 3000 x 3000 (Monti et al.)",
        REAL / "douban_monti" / "training_test_dataset.mat",
        {"dataset": "M"},
        "MATLAB v7.3 (HDF5), the dense rating matrix `M` (0 = missing), 1-5; "
        "the file's own train/test masks are not used",
    ),
}


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def identity_of(path: Path) -> dict:
    """What names a real file in a cache key: path, size and modification time."""
    st = path.stat()
    return {"path": str(path), "bytes": st.st_size, "mtime": int(st.st_mtime)}


def split_path(spec: dict) -> Path:
    key = json.dumps({"v": SPLIT_VERSION, **spec}, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return DATA_DIR / f"ratings-split-{spec['name']}-{digest}.npz"


def ensure_split(
    name: str,
    source: Path,
    read: dict,
    identity: dict,
    *,
    test_frac: float = 0.2,
    seed: int = 0,
    log=_log,
) -> tuple[Path, dict]:
    """The cached split of ``source`` (made first if absent) and its facts."""
    spec = {"name": name, "source": str(source), "read": read, "identity": identity,
            "test_frac": test_frac, "seed": seed}  # fmt: skip
    path = split_path(spec)
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        log(f"  splitting {Path(source).name} -> {path.name} ...")
        subprocess.run(
            [sys.executable, "-m", "benchmarks.ratings_sets", json.dumps(spec)],
            check=True,
            cwd=REPO,
        )
    return path, json.loads(meta.read_text())


def load(path: str) -> dict:
    """The split's arrays: shape, train_/test_ rows, cols (int32) and vals (float64)."""
    import numpy as np

    with np.load(path) as z:
        return {name: z[name] for name in z.files}


def _triplets(matrix):
    """(rows, cols, vals) of a sparse or dense (zeros missing) mfcli Matrix."""
    import numpy as np

    if matrix.is_sparse:
        counts = np.diff(np.asarray(matrix.indptr, dtype=np.int64))
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int32), counts)
        cols = np.asarray(matrix.indices, dtype=np.int32)
        vals = np.asarray(matrix.data, dtype=np.float64)
    else:
        rows, cols = np.nonzero(np.asarray(matrix.data))
        vals = np.asarray(matrix.data, dtype=np.float64)[rows, cols]
        rows, cols = rows.astype(np.int32), cols.astype(np.int32)
    return rows, cols, vals


def _make(spec: dict) -> None:
    import numpy as np

    from mfcli.io import read_matrix
    from mfcli.io.options import ReadOptions

    matrix = read_matrix(spec["source"], ReadOptions(**spec["read"]))
    rows, cols, vals = _triplets(matrix)
    m, n = (int(x) for x in matrix.shape)
    nnz = int(vals.shape[0])
    perm = np.random.default_rng(spec["seed"]).permutation(nnz)
    n_test = int(round(spec["test_frac"] * nnz))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    path = split_path(spec)
    arrays = {
        "shape": np.asarray([m, n], dtype=np.int64),
        "train_rows": rows[train], "train_cols": cols[train], "train_vals": vals[train],
        "test_rows": rows[test], "test_cols": cols[test], "test_vals": vals[test],
    }  # fmt: skip
    tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    seen_u = np.bincount(rows[train], minlength=m) > 0
    seen_i = np.bincount(cols[train], minlength=n) > 0
    new_u, new_i = ~seen_u[rows[test]], ~seen_i[cols[test]]
    meta = {
        "spec": spec,
        "shape": [m, n],
        "users_rated": int(np.count_nonzero(np.bincount(rows, minlength=m))),
        "items_rated": int(np.count_nonzero(np.bincount(cols, minlength=n))),
        "nnz": nnz,
        "train": int(train.shape[0]),
        "test": int(test.shape[0]),
        "rating_min": float(vals.min()),
        "rating_max": float(vals.max()),
        "rating_mean": float(vals.mean()),
        "distinct_ratings": int(np.unique(vals).shape[0]),
        "duplicates_merged": int(matrix.meta.get("duplicates_merged", 0) or 0),
        "test_new_user": int(np.count_nonzero(new_u)),
        "test_new_item": int(np.count_nonzero(new_i)),
        "test_cold": int(np.count_nonzero(new_u | new_i)),
    }
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    _make(json.loads(sys.argv[1]))
