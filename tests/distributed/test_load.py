"""Partitioned inputs read by the workers into row blocks (mfcli.distributed.load)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mfcli.data import Matrix
from mfcli.distributed.blocks import row_bounds, slice_block
from mfcli.io import ReadOptions
from mfcli.io.parts import read_partitioned

pytest.importorskip("distributed")


def _write_parts(folder, n_parts=5, n=3000, seed=0, *, items="int", header=True, dups=True):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    words = [f"item-{k}" for k in range(37)]
    lines = []
    for _ in range(n):
        u = int(rng.integers(0, 90 if dups else 10**6))
        i = words[int(rng.integers(37))] if items == "str" else str(int(rng.integers(0, 60)) * 3)
        lines.append(f"{u},{i},{rng.random():.4f}\n")
    cuts = np.linspace(0, n, n_parts + 1).astype(int)
    for k in range(n_parts):
        with open(os.path.join(folder, f"part-{k:03d}.csv"), "w") as fh:
            fh.write(
                ("user,item,rating\n" if header else "") + "".join(lines[cuts[k] : cuts[k + 1]])
            )
    return str(folder)


def _transpose(m: Matrix) -> Matrix:
    t = m.to_scipy().T.tocsr()
    t.sort_indices()
    return Matrix.from_csr(t.indptr, t.indices, t.data, t.shape, dtype=m.dtype)


def _check_blocks(client, blocks, matrix, n_blocks):
    assert blocks.bounds == row_bounds(matrix.indptr, matrix.shape[0], n_blocks)
    assert blocks.shape == matrix.shape and blocks.nnz == matrix.nnz
    got = client.gather(blocks.futures)
    for b, (start, stop) in zip(got, blocks.bounds, strict=True):
        ref = slice_block(matrix, start, stop)
        assert (b.start, b.stop, b.n_cols) == (start, stop, matrix.shape[1])
        for name in ("indptr", "indices", "data"):
            x, y = getattr(b, name), getattr(ref, name)
            assert x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)


def _where(client, blocks):
    held = client.who_has(blocks.futures)
    return [list(held[f.key]) for f in blocks.futures]


@pytest.mark.parametrize("items", ["int", "str"])
@pytest.mark.parametrize("n_blocks", [None, 3, 7])
def test_blocks_equal_the_blocks_of_read_partitioned(client, tmp_path, items, n_blocks):
    from mfcli.distributed.load import load_row_blocks

    spec = _write_parts(tmp_path / "p", items=items)
    matrix = read_partitioned(spec)
    rows, cols, row_labels, col_labels = load_row_blocks(client, spec, n_blocks=n_blocks)
    assert cols is None
    np.testing.assert_array_equal(row_labels, matrix.row_labels)
    np.testing.assert_array_equal(col_labels, matrix.col_labels)
    assert col_labels.dtype == matrix.col_labels.dtype
    n = n_blocks or len(client.scheduler_info()["workers"])
    _check_blocks(client, rows, matrix, n)
    workers = sorted(client.scheduler_info()["workers"])
    assert rows.workers == [workers[i % len(workers)] for i in range(rows.n_blocks)]
    assert _where(client, rows) == [[w] for w in rows.workers]


@pytest.mark.parametrize("policy", ["sum", "last"])
def test_columns_give_the_transpose_blocks(client, tmp_path, policy):
    from mfcli.distributed.load import load_row_blocks

    spec = _write_parts(tmp_path / "p", items="str", header=False)
    opts = ReadOptions(duplicates=policy, dtype="float32")
    matrix = read_partitioned(spec, opts)
    assert matrix.meta["duplicates_merged"] > 0
    rows, cols, _, _ = load_row_blocks(client, spec, opts, n_blocks=4, columns=True)
    _check_blocks(client, rows, matrix, 4)
    _check_blocks(client, cols, _transpose(matrix), 4)
    assert cols.shape == matrix.shape[::-1]


def test_mtx_parts(client, tmp_path):
    from mfcli.distributed.load import load_row_blocks

    d = tmp_path / "m"
    d.mkdir()
    rng = np.random.default_rng(3)
    for k, (nr, nc) in enumerate([(40, 30), (50, 20), (10, 35)]):
        e = 200
        r, c = rng.integers(1, nr + 1, e), rng.integers(1, nc + 1, e)
        body = "".join(f"{a} {b} {v:.3f}\n" for a, b, v in zip(r, c, rng.random(e), strict=True))
        (d / f"p{k}.mtx").write_text(
            f"%%MatrixMarket matrix coordinate real general\n{nr} {nc} {e}\n{body}"
        )
    matrix = read_partitioned(str(d))
    rows, cols, rl, cl = load_row_blocks(client, str(d), n_blocks=3, columns=True)
    assert rl is None and cl is None and rows.shape == (50, 35)
    _check_blocks(client, rows, matrix, 3)
    _check_blocks(client, cols, _transpose(matrix), 3)


def test_mixed_id_kinds_across_parts(client, tmp_path):
    from mfcli.distributed.load import load_row_blocks

    d = tmp_path / "p"
    d.mkdir()
    (d / "a.csv").write_text("user,item,rating\n10,5,1\n9,7,2\n")
    (d / "b.csv").write_text("user,item,rating\nx,5,3\n10,5,4\n")
    matrix = read_partitioned(str(d))
    rows, _, rl, _ = load_row_blocks(client, str(d), n_blocks=2)
    assert list(rl) == ["10", "9", "x"]
    _check_blocks(client, rows, matrix, 2)


def test_the_client_gathers_only_id_lists(client, tmp_path, monkeypatch):
    """Nothing the client gathers is as large as the triplets: only ids, counts, degrees."""
    from dask.sizeof import sizeof

    from mfcli.distributed.load import load_row_blocks

    spec = _write_parts(tmp_path / "p", n_parts=4, n=40000, items="str")
    sizes = []
    real_gather = client.gather

    def gather(futures, *args, **kwargs):
        result = real_gather(futures, *args, **kwargs)
        sizes.append(sizeof(result))
        return result

    monkeypatch.setattr(client, "gather", gather)
    rows, cols, rl, cl = load_row_blocks(client, spec, n_blocks=2, columns=True)
    monkeypatch.undo()
    triplet_bytes = 40000 * (8 + 8 + 8)
    # per part: its ids, one count per id, and a little bookkeeping
    ids_bytes = 4 * (2 * (sizeof(rl) + sizeof(cl)) + 1024)
    assert sizes and max(sizes) <= ids_bytes < triplet_bytes / 20
    assert rows.nnz == read_partitioned(spec).nnz


def test_errors_name_the_part(client, tmp_path):
    from mfcli.distributed.load import load_row_blocks
    from mfcli.errors import InputDataError, InputMissingError

    with pytest.raises(InputMissingError) as err:
        load_row_blocks(client, str(tmp_path / "none-*.csv"))
    assert err.value.exit_code == 66
    d = tmp_path / "p"
    d.mkdir()
    (d / "a.csv").write_text("u,i,r\n1,2,3\n")
    (d / "b.csv").write_text("u,i,r\n1,2,3\n4,5,oops\n")
    with pytest.raises(InputDataError) as err:
        load_row_blocks(client, str(d))
    assert err.value.path.endswith("b.csv") and err.value.line == 3
    (d / "b.csv").write_text("u,i,r\n1,2,5\n")
    with pytest.raises(InputDataError, match="duplicate entry"):
        load_row_blocks(client, str(d), ReadOptions(duplicates="error"))
