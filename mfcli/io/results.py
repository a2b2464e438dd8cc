"""The HDF5 result file: one self-describing file per fitted model.

Schema (``format="mfcli-result"``, ``format_version=1``) is documented field
by field in ``docs/result-file.md``. Writes are atomic and byte-deterministic:
two writes of the same :class:`Result` with the same ``created_utc`` and
``elapsed_s`` give identical files, so pipelines can compare outputs by hash.

h5py is imported inside functions so that ``import mfcli.io.results`` (and the
config layer that reads ``/config`` for replays) stays cheap.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import InputDataError, InputMissingError, MfcliError
from mfcli.io.atomic import atomic_path, check_output  # noqa: F401 - part of this API

FORMAT = "mfcli-result"
FORMAT_VERSION = 1
RESERVED = ("config", "provenance", "factors", "bias", "labels", "history", "metrics", "train")
SECTIONS = (
    "config",
    "provenance",
    "factors",
    "biases",
    "labels",
    "history",
    "metrics",
    "train",
    "extra",
)
SPLIT_PREFIX = "split."

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass(eq=False)
class Result:
    """Everything one fitted model writes; the in-memory twin of the file.

    Attributes
    ----------
    method : "svd" | "nmf" | "als" | "sgd" (later methods may add names)
    config_yaml : the resolved config as YAML text (``mfcli.config.to_yaml``)
    provenance : flat mapping of str -> str | int | float | list (see
        :func:`provenance`); ``None`` values are not written
    factors : ``row`` (n_rows, k), ``col`` (n_cols, k), ``singular_values`` (k,)
    biases : ``global`` (float), ``row`` (n_rows,), ``col`` (n_cols,)
    labels : ``row`` (n_rows,), ``col`` (n_cols,): int64 or unicode arrays
    history : name -> (n_iter,) array, one value per iteration
    metrics : name -> value (e.g. ``"rmse"``, ``"ndcg@10"``)
    metrics_split : what the metrics were measured on (e.g. ``{"kind":
        "random", "test_fraction": 0.2, "seed": 0}``); stored as ``split.*``
        attrs of ``/metrics``
    train : the training interactions, written as CSR, or None
    extra : further top-level groups for later methods: name -> array or
        nested mapping of arrays
    created_utc : ISO 8601 time; None writes the current time (or
        ``SOURCE_DATE_EPOCH`` when set)
    mfcli_version, format_version : filled in by :func:`read_result`
    """

    method: str
    config_yaml: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    factors: dict[str, np.ndarray] = field(default_factory=dict)
    biases: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    history: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_split: dict[str, Any] = field(default_factory=dict)
    train: Matrix | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    created_utc: str | None = None
    mfcli_version: str | None = None
    format_version: int | None = None

    @property
    def k(self) -> int | None:
        """The rank, from the factors; None when there are none."""
        if "row" in self.factors:
            return int(np.shape(self.factors["row"])[1])
        if "singular_values" in self.factors:
            return int(np.shape(self.factors["singular_values"])[0])
        return None


# --------------------------------------------------------------------- write
def write_result(result: Result, path: str | os.PathLike, *, force: bool = False) -> None:
    """Write ``result`` to ``path`` atomically (see :mod:`mfcli.io.atomic`).

    ``path`` is either complete or untouched, whatever happens during the write.

    Raises
    ------
    OutputError
        exit 73: ``path`` exists without ``force``, or cannot be created.
    ValueError
        ``result`` breaks the schema (a bug in the caller).
    """
    _validate(result)
    with atomic_path(path, force=force) as tmp:
        _write_file(result, tmp)


def record_metrics(
    path: str | os.PathLike, metrics: Mapping[str, float], split: Mapping[str, Any]
) -> None:
    """Add ``metrics`` to the ``/metrics`` of an existing result file.

    Metrics of the same name are replaced and ``split`` (what they were
    measured on) replaces the old one; everything else is kept. The file is
    rewritten atomically: it is either the old or the new file, never a mix.
    """
    result = read_result(path)
    result.metrics = {**result.metrics, **{k: float(v) for k, v in metrics.items()}}
    result.metrics_split = dict(split)
    write_result(result, path, force=True)


def _write_file(result: Result, path: str) -> None:
    import h5py

    fid = h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC, fapl=_fapl(), fcpl=_fcpl())
    with h5py.File(fid) as f:
        _write_root_attrs(f, result)
        _write_config(f, result.config_yaml)
        _attrs(_group(f, "provenance"), result.provenance, sort=True)
        _write_arrays(_group(f, "factors"), result.factors)
        if result.biases:
            _write_arrays(_group(f, "bias"), result.biases)
        if result.labels:
            _write_labels(_group(f, "labels"), result.labels)
        _write_arrays(_group(f, "history"), result.history)
        _write_metrics(_group(f, "metrics"), result.metrics, result.metrics_split)
        if result.train is not None:
            _write_train(_group(f, "train"), result.train)
        _write_tree(f, result.extra)


def _write_root_attrs(f, result: Result) -> None:
    import mfcli

    # Fixed order; created_utc is fixed-width so only its bytes vary.
    _attr(f, "format", FORMAT)
    _attr(f, "format_version", FORMAT_VERSION)
    _attr(f, "mfcli_version", mfcli.__version__)
    _attr(f, "method", result.method)
    _attr(f, "created_utc", result.created_utc or utc_now())


def _write_config(f, text: str) -> None:
    import h5py

    f.create_dataset("config", data=text, dtype=h5py.string_dtype(), track_times=False)


def _write_metrics(g, metrics: Mapping[str, Any], split: Mapping[str, Any]) -> None:
    _attrs(g, metrics, sort=True)
    _attrs(g, {SPLIT_PREFIX + k: v for k, v in split.items()}, sort=True)


def _write_labels(g, labels: Mapping[str, np.ndarray]) -> None:
    import h5py

    for name, values in labels.items():
        values = np.asarray(values)
        if values.dtype.kind in "iu":
            _dataset(g, name, values.astype(np.int64))
        else:
            strings = np.asarray([str(v) for v in values.tolist()], dtype=object)
            _dataset(g, name, strings, dtype=h5py.string_dtype())


def _write_train(g, train: Matrix) -> None:
    if not train.is_sparse:
        import scipy.sparse as sp

        csr = sp.csr_matrix(train.data)
        indptr, indices, data = csr.indptr, csr.indices, csr.data
    else:
        indptr, indices, data = train.indptr, train.indices, train.data
    _attr(g, "shape", np.asarray(train.shape, dtype=np.int64))
    _dataset(g, "indptr", np.asarray(indptr))
    _dataset(g, "indices", np.asarray(indices))
    _dataset(g, "data", np.asarray(data))


def _write_arrays(g, arrays: Mapping[str, Any]) -> None:
    for name, value in arrays.items():
        _dataset(g, name, np.asarray(value))


def _write_tree(g, tree: Mapping[str, Any]) -> None:
    import h5py

    for name, value in tree.items():
        if isinstance(value, Mapping):
            _write_tree(_group(g, name), value)
        elif isinstance(value, str):
            _dataset(g, name, value, dtype=h5py.string_dtype())
        elif np.asarray(value).dtype.kind in "OU":  # text arrays, e.g. labels
            text = np.asarray(value).astype(str).astype(object)
            _dataset(g, name, text, dtype=h5py.string_dtype())
        else:
            _dataset(g, name, np.asarray(value))


def _dataset(g, name: str, data, dtype=None) -> None:
    # track_times=False keeps timestamps out of object headers (determinism).
    g.create_dataset(name, data=data, dtype=dtype, track_times=False)


def _group(parent, name: str):
    import h5py

    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    _track_order(gcpl)
    lcpl = h5py.h5p.create(h5py.h5p.LINK_CREATE)
    lcpl.set_char_encoding(h5py.h5t.CSET_UTF8)
    h5py.h5g.create(parent.id, name.encode(), lcpl=lcpl, gcpl=gcpl)
    return parent[name]


def _fcpl():
    import h5py

    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    _track_order(fcpl)
    return fcpl


def _fapl():
    import h5py

    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
    # Upper bound 1.8 pins the on-disk object formats: bytes do not change when
    # a newer HDF5 learns newer layouts, and HDF5 >= 1.8 readers open the file.
    fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_V18)
    return fapl


def _track_order(plist) -> None:
    # Creation order keeps members and attrs listed as written (readers see
    # config, provenance, factors ... rather than alphabetical order).
    import h5py

    flags = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED
    plist.set_link_creation_order(flags)
    plist.set_attr_creation_order(flags)


def _attrs(obj, values: Mapping[str, Any], *, sort: bool) -> None:
    for name in sorted(values) if sort else values:
        _attr(obj, name, values[name])


def _attr(obj, name: str, value: Any) -> None:
    import h5py

    if value is None:
        return
    if isinstance(value, str):
        obj.attrs.create(name, value, dtype=h5py.string_dtype())
        return
    arr = np.asarray(value)
    if arr.dtype.kind in "USO":
        obj.attrs.create(name, arr.astype(str).astype(object), dtype=h5py.string_dtype())
    elif arr.dtype.kind == "b":
        obj.attrs.create(name, arr)
    elif arr.dtype.kind in "iu":
        obj.attrs.create(name, arr.astype(np.int64))
    elif arr.dtype.kind == "f":
        obj.attrs.create(name, arr.astype(np.float64))
    else:
        raise ValueError(f"attribute {name!r}: cannot store {type(value).__name__}")


def _validate(result: Result) -> None:
    if not isinstance(result.method, str) or not result.method:
        raise ValueError("Result.method must be a non-empty string")
    if not isinstance(result.config_yaml, str):
        raise ValueError("Result.config_yaml must be a string")
    for section in ("factors", "biases", "labels", "history", "extra"):
        for name in getattr(result, section):
            if not name or "/" in name or name == ".":
                raise ValueError(f"{section} name {name!r} is not a valid HDF5 name")
    for name, value in result.history.items():
        if np.ndim(value) != 1:
            raise ValueError(f"history {name!r} must be 1-D")
    for name in result.metrics:
        if name.startswith(SPLIT_PREFIX):
            raise ValueError(f"metric name {name!r} uses the reserved prefix {SPLIT_PREFIX!r}")
    clash = set(result.extra) & set(RESERVED)
    if clash:
        raise ValueError(f"extra groups use reserved names: {sorted(clash)}")


def utc_now() -> str:
    """Current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``; ``SOURCE_DATE_EPOCH`` wins.

    ``SOURCE_DATE_EPOCH`` is the reproducible-builds convention: set it and
    two runs write byte-identical files (apart from ``elapsed_s``).
    """
    import time

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch and epoch.strip().isdigit() else time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# ---------------------------------------------------------------------- read
def is_result_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file with ``format="mfcli-result"``; never raises."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != _HDF5_MAGIC:
                return False
        import h5py

        with h5py.File(path, "r") as f:
            return _text(f.attrs.get("format")) == FORMAT
    except Exception:
        return False


def read_result(path: str | os.PathLike, load: Iterable[str] | None = None) -> Result:
    """Read a result file.

    Parameters
    ----------
    path : the ``.h5`` file
    load : sections to read (names from ``SECTIONS``); None reads all.
        Sections not loaded stay empty (``train`` stays None).

    Raises
    ------
    InputMissingError
        exit 66: missing or unreadable.
    InputDataError
        exit 65: not HDF5, not an mfcli result, a newer ``format_version``,
        or a damaged file.
    """
    sections = SECTIONS if load is None else tuple(load)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    path = os.fspath(path)
    with _open(path) as f:
        try:
            return _read(f, sections)
        except MfcliError as exc:
            raise exc.located(path) from None
        except (KeyError, ValueError, TypeError, OSError, AttributeError) as exc:
            raise InputDataError(
                f"damaged mfcli result file ({exc})", path=path, hint="write it again"
            ) from None


def read_config_text(path: str | os.PathLike) -> str:
    """Only the ``/config`` YAML text of a result file (for ``--config result.h5``)."""
    return read_result(path, load=("config",)).config_yaml


def _read(f, sections: tuple[str, ...]) -> Result:
    attrs = f.attrs
    result = Result(
        method=_text(attrs["method"]),
        created_utc=_text(attrs.get("created_utc")),
        mfcli_version=_text(attrs.get("mfcli_version")),
        format_version=int(attrs["format_version"]),
    )
    if "config" in sections:
        result.config_yaml = f["config"].asstr()[()]
    if "provenance" in sections and "provenance" in f:
        result.provenance = _read_attrs(f["provenance"])
    if "factors" in sections and "factors" in f:
        result.factors = {n: ds[()] for n, ds in f["factors"].items()}
    if "biases" in sections and "bias" in f:
        result.biases = {n: ds[()] for n, ds in f["bias"].items()}
        if "global" in result.biases:
            result.biases["global"] = float(result.biases["global"])
    if "labels" in sections and "labels" in f:
        result.labels = {n: _read_labels(ds) for n, ds in f["labels"].items()}
    if "history" in sections and "history" in f:
        result.history = {n: ds[()] for n, ds in f["history"].items()}
    if "metrics" in sections and "metrics" in f:
        result.metrics, result.metrics_split = _read_metrics(f["metrics"])
    if "train" in sections and "train" in f:
        result.train = _read_train(f["train"])
    if "extra" in sections:
        result.extra = {n: _read_tree(obj) for n, obj in f.items() if n not in RESERVED}
    return result


def _open(path: str):
    """Open ``path`` read-only after checking it is an mfcli result we can read."""
    from mfcli.io.source import check_readable

    check_readable(path)
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        if not h5py.is_hdf5(path):
            raise InputDataError(
                "not an HDF5 file", path=path, hint="expected an mfcli result (.h5)"
            ) from None
        raise InputMissingError(f"cannot open: {exc}", path=path) from None
    try:
        _check_header(f, path)
    except BaseException:
        f.close()
        raise
    return f


def _check_header(f, path: str) -> None:
    if _text(f.attrs.get("format")) != FORMAT:
        raise InputDataError(
            "not an mfcli result file (no format='mfcli-result' attribute)",
            path=path,
            hint="a model file is written by mfcli svd|nmf|als|sgd -o FILE.h5",
        )
    try:
        version = int(f.attrs["format_version"])
    except (KeyError, TypeError, ValueError):
        raise InputDataError("result file has no valid format_version", path=path) from None
    if version > FORMAT_VERSION:
        raise InputDataError(
            f"result format_version {version} is newer than this mfcli reads ({FORMAT_VERSION})",
            path=path,
            hint="upgrade mfcli",
        )
    if version < 1:
        raise InputDataError(f"invalid result format_version {version}", path=path)


def _read_labels(ds) -> np.ndarray:
    if ds.dtype.kind in "iu":
        return ds[()].astype(np.int64)
    values = ds.asstr()[()]
    return np.asarray(values.tolist(), dtype=str) if values.size else np.array([], dtype=str)


def _read_metrics(g) -> tuple[dict[str, Any], dict[str, Any]]:
    metrics, split = {}, {}
    for name, value in _read_attrs(g).items():
        if name.startswith(SPLIT_PREFIX):
            split[name[len(SPLIT_PREFIX) :]] = value
        else:
            metrics[name] = value
    return metrics, split


def _read_train(g) -> Matrix:
    shape = tuple(int(n) for n in g.attrs["shape"])
    data = g["data"][()]
    return Matrix.from_csr(g["indptr"][()], g["indices"][()], data, shape, dtype=data.dtype)


def _read_tree(obj):
    import h5py

    if isinstance(obj, h5py.Group):
        return {n: _read_tree(child) for n, child in obj.items()}
    if obj.dtype.kind == "O":
        text = obj.asstr()[()]
        return text if obj.shape == () else np.asarray(text.tolist(), dtype=str)
    return obj[()]


def _read_attrs(obj) -> dict[str, Any]:
    return {name: _python(value) for name, value in obj.attrs.items()}


def _python(value: Any) -> Any:
    """numpy scalars and arrays from attrs -> plain Python values."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [_python(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


# ------------------------------------------------------------------ summary
def summarize_result(path: str | os.PathLike) -> dict[str, Any]:
    """What ``mfcli info model.h5`` shows, JSON-serializable, without loading arrays.

    Keys: path, format, format_version, mfcli_version, method, created_utc, k,
    factors {name: {shape, dtype}}, biases, labels {name: {count, kind}},
    history {name: length}, metrics, metrics_split, provenance,
    train ({shape, nnz} or None), extra (names), config (text).
    """
    path = os.fspath(path)
    with _open(path) as f:
        try:
            return _summary(f, path)
        except (KeyError, ValueError, TypeError, OSError, AttributeError) as exc:
            raise InputDataError(f"damaged mfcli result file ({exc})", path=path) from None


def _summary(f, path: str) -> dict[str, Any]:
    def shapes(name):
        if name not in f:
            return {}
        return {n: {"shape": list(ds.shape), "dtype": str(ds.dtype)} for n, ds in f[name].items()}

    factors = shapes("factors")
    k = None
    if "row" in factors and len(factors["row"]["shape"]) == 2:
        k = factors["row"]["shape"][1]
    elif "singular_values" in factors:
        k = factors["singular_values"]["shape"][0]
    labels = {}
    for name, ds in f["labels"].items() if "labels" in f else ():
        kind = "int" if ds.dtype.kind in "iu" else "str"
        labels[name] = {"count": int(ds.shape[0]), "kind": kind}
    history = {}
    for name, ds in f["history"].items() if "history" in f else ():
        history[name] = int(ds.shape[0])
    metrics, split = _read_metrics(f["metrics"]) if "metrics" in f else ({}, {})
    train = None
    if "train" in f:
        g = f["train"]
        train = {"shape": [int(n) for n in g.attrs["shape"]], "nnz": int(g["data"].shape[0])}
    return {
        "path": path,
        "format": FORMAT,
        "format_version": int(f.attrs["format_version"]),
        "mfcli_version": _text(f.attrs.get("mfcli_version")),
        "method": _text(f.attrs.get("method")),
        "created_utc": _text(f.attrs.get("created_utc")),
        "k": k,
        "factors": factors,
        "biases": shapes("bias"),
        "labels": labels,
        "history": history,
        "metrics": metrics,
        "metrics_split": split,
        "provenance": _read_attrs(f["provenance"]) if "provenance" in f else {},
        "train": train,
        "extra": [n for n in f if n not in RESERVED],
        "config": f["config"].asstr()[()] if "config" in f else "",
    }


# --------------------------------------------------------------- provenance
def provenance(
    input_path: str | None,
    matrix: Matrix | None,
    *,
    seed: int | None,
    threads: int | None,
    elapsed_s: float | None,
    peak_rss_bytes: int | None,
) -> dict[str, Any]:
    """The ``/provenance`` attributes of a run.

    ``input_sha256`` is the hash of the file's bytes as stored (compressed if
    it is), so it matches ``sha256sum``; for a directory or glob of parts it
    is :func:`mfcli.io.parts.input_digest`; it is omitted for stdin. Versions are
    read from package metadata, so nothing heavy is imported.

    Returns
    -------
    dict
        input_path, input_dataset, input_format, input_sha256, input_shape,
        input_nnz, seed, threads, elapsed_s, peak_rss_bytes, python_version,
        numpy_version, scipy_version, numba_version, h5py_version,
        hdf5_version; None values are left out.
    """
    info: dict[str, Any] = {}
    if input_path is not None:
        from mfcli.io.detect import split_object_path

        file_path, obj = split_object_path(str(input_path))
        info["input_path"] = str(input_path)
        info["input_dataset"] = obj or (matrix.meta.get("dataset") if matrix else None)
        if file_path != "-" and os.path.isfile(file_path):
            info["input_sha256"] = sha256_file(file_path)
        elif obj is None and _partitioned(file_path):
            from mfcli.io.parts import input_digest

            info["input_sha256"] = input_digest(file_path)
    if matrix is not None:
        info["input_format"] = matrix.meta.get("format")
        info["input_shape"] = [int(n) for n in matrix.shape]
        info["input_nnz"] = int(matrix.nnz)
    info.update(
        seed=seed,
        threads=threads,
        elapsed_s=None if elapsed_s is None else float(elapsed_s),
        peak_rss_bytes=None if peak_rss_bytes is None else int(peak_rss_bytes),
    )
    info.update(versions())
    return {k: v for k, v in info.items() if v is not None}


def versions() -> dict[str, str | None]:
    """python, numpy, scipy, numba, h5py and HDF5 library versions."""
    import platform
    from importlib import metadata

    out: dict[str, str | None] = {"python_version": platform.python_version()}
    for pkg in ("numpy", "scipy", "numba", "h5py"):
        try:
            out[f"{pkg}_version"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[f"{pkg}_version"] = None
    try:
        import h5py

        out["hdf5_version"] = h5py.version.hdf5_version
    except ImportError:
        out["hdf5_version"] = None
    return out


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks.

    A partitioned input (a directory or glob of parts, not a file) gets
    :func:`mfcli.io.parts.input_digest`, so every caller hashing an input path
    handles partitioned inputs.
    """
    if not os.path.isfile(path) and _partitioned(path):
        from mfcli.io.parts import input_digest

        return input_digest(path)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _partitioned(path) -> bool:
    from mfcli.io.parts import is_partitioned

    return is_partitioned(path)
