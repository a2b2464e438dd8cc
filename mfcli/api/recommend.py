"""`mfcli recommend`: top-N items per user, or similar items, from a result file.

Scores are the model's reconstruction (``row @ diag(s) @ col.T`` for svd,
``row @ col.T`` otherwise, plus the stored biases), computed a chunk of users
at a time by :func:`mfcli.evaluate.topk.top_k`, so memory beyond the model is
one bounded score block plus the (users, n) lists. Models with a rating range
(sgd; nmf ``--mask observed``) rank by that score and print it clipped to the
range, as ``eval`` predicts; similar-item cosines are never clipped. Users
the model has not seen are folded in from ``--from`` interactions with the
method's own rule (:mod:`mfcli.api.foldin`). Nothing is written until every
id is resolved and every list computed, so an error leaves no partial output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfcli.config import RecommendConfig

USER_COLUMNS = ("user", "rank", "item", "score")
ITEM_COLUMNS = ("item", "rank", "neighbour", "score")
NO_TRAIN_NOTE = (
    "the model has no /train, so the users' known items are not excluded "
    "(--include-seen silences this note)"
)


@dataclass(eq=False)
class Recommendations:
    """Top-N lists, ready to write.

    Attributes
    ----------
    kind : "users" (user, rank, item, score) or "items" (item, rank, neighbour, score)
    queries : (q,) the ids the lists belong to (labels, or 1-based positions)
    items : (q, n) int64 model columns, best first; ``-1`` pads short lists
    scores : (q, n) the scores (cosine similarities for ``kind="items"``)
    item_labels : (n_items,) the model's column ids, or None (1-based positions)
    summary : what was done (JSON-serializable)
    """

    kind: str
    queries: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    item_labels: np.ndarray | None
    summary: dict = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return USER_COLUMNS if self.kind == "users" else ITEM_COLUMNS

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One entry per output line: query index, rank (1-based), item column, score."""
        keep = self.items >= 0
        q, j = np.nonzero(keep)
        return q, (j + 1).astype(np.int64), self.items[keep], self.scores[keep]

    def item_ids(self, cols: np.ndarray) -> np.ndarray:
        """Output ids of model columns ``cols``."""
        if self.item_labels is None:
            return cols.astype(np.int64) + 1
        return self.item_labels[cols]


def recommendations(cfg: RecommendConfig) -> Recommendations:
    """Compute what ``cfg`` asks for and write ``cfg.output.path`` when it is set.

    Returns
    -------
    Recommendations, whose ``summary`` has the path (or None), the model and
    method, the number of lists and lines, whether known items were excluded,
    the users folded in and any notes for stderr.

    Raises
    ------
    UsageError : exit 2 (no model, nothing asked for, an output format we do not write)
    InputDataError : exit 65 (an id the model lacks, a model without /train with
        --exclude-seen, unreadable --from data)
    InputMissingError : exit 66 (the model, --users or --from file is missing)
    OutputError : exit 73 (the output exists without --force)
    """
    from mfcli.errors import MfcliError, UsageError
    from mfcli.evaluate.model import ScoringModel
    from mfcli.io import write
    from mfcli.io.results import read_result
    from mfcli.runtime import Timer, use_threads

    r = cfg.recommend
    if not r.model:
        raise UsageError("no model given", hint="mfcli recommend MODEL.h5 --user ID")
    similar = r.similar_items is not None
    if not similar and not (r.users or r.users_file or r.all or cfg.input.path):
        raise UsageError(
            "say whose recommendations to make",
            hint="--user ID, --users FILE, --all, --from FILE, or --similar-items ID",
        )
    out = cfg.output.path
    fmt = output_format(out) if out else None
    if out:
        write.check_output(out, force=cfg.output.force)  # fail before the work
    threads = use_threads(cfg.runtime.threads)
    timer = Timer()
    load = ["config", "factors", "biases", "labels"]
    if not similar:
        load.append("extra")  # the rating range scores are clipped to; svd's fold-in ridge
    result = read_result(r.model, load=load)
    try:
        model = ScoringModel.from_result(result)
    except MfcliError as exc:
        raise exc.located(r.model) from None
    if similar:
        recs = _similar_items(cfg, model, result)
    else:
        recs = _for_users(cfg, result, model)
    recs.summary.update(
        path=out, format=fmt, model=r.model, method=result.method, n=int(r.n),
        threads=threads.n, seconds=round(timer.elapsed, 3),
    )  # fmt: skip
    if out:
        write_file(recs, out, fmt, force=cfg.output.force)
    return recs


def output_format(path: str) -> str:
    """csv | tsv | h5 for an output path (by suffix; .gz/.bz2 compress text)."""
    from mfcli.errors import UsageError
    from mfcli.io import write

    fmt = write.output_format(path, "auto")
    if fmt not in ("csv", "tsv", "h5"):
        raise UsageError(f"recommend writes .csv, .tsv or .h5, not {fmt}")
    return fmt


# ------------------------------------------------------------------ ids
def parse_ids(text: str | None) -> list[str]:
    """Comma-separated ids, stripped, in order."""
    from mfcli.errors import UsageError

    if text is None:
        return []
    ids = [part.strip() for part in text.split(",")]
    if any(not i for i in ids):
        raise UsageError(f"empty id in {text!r}", hint="ids are separated by single commas")
    return ids


def read_ids(path: str) -> list[str]:
    """One id per line (blank lines skipped); InputDataError (65) when there is none."""
    from mfcli.errors import InputDataError, InputMissingError
    from mfcli.io.source import check_readable

    check_readable(path)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            ids = [line.strip() for line in fh]
    except UnicodeDecodeError:
        raise InputDataError("not UTF-8 text", path=path, hint="one id per line") from None
    except OSError as exc:
        raise InputMissingError(f"cannot read: {exc.strerror or exc}", path=path) from None
    ids = [i for i in ids if i]
    if not ids:
        raise InputDataError("no ids in the file", path=path, hint="one id per line")
    return ids


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def resolve_ids(labels: np.ndarray | None, n: int, ids: list[str]) -> np.ndarray:
    """Model position of each id; ``-1`` where the model lacks it.

    With labels, ids match them as integers or text (``7`` matches ``"7"``);
    without, an id is a 1-based position (as in Matrix Market files).
    """
    from mfcli.evaluate.model import map_labels

    if not ids:
        return np.zeros(0, dtype=np.int64)
    if labels is None:
        out = np.full(len(ids), -1, dtype=np.int64)
        for j, text in enumerate(ids):
            try:
                value = int(text)
            except ValueError:
                continue
            if 1 <= value <= n:
                out[j] = value - 1
        return out
    if labels.dtype.kind in "iu":
        as_int = []
        for text in ids:
            try:
                as_int.append(int(text))
            except ValueError:
                break
        if len(as_int) == len(ids):
            return map_labels(labels, np.asarray(as_int, dtype=np.int64), n, len(ids))
    return map_labels(labels, np.asarray(ids, dtype=str), n, len(ids))


def _unknown(kind: str, ids: list[str], found: np.ndarray, model_path: str, hint: str):
    from mfcli.errors import InputDataError

    missing = [ids[j] for j in np.flatnonzero(found < 0)]
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    return InputDataError(
        f"{kind} {missing[0]!r}{more} not in the model", path=model_path, hint=hint
    )


# ---------------------------------------------------------------- users
def _for_users(cfg, result, model) -> Recommendations:
    from mfcli.evaluate.topk import top_k

    r = cfg.recommend
    notes: list[str] = []
    new = _fold_new_users(cfg, result, model, notes) if cfg.input.path else None
    new_ids = [] if new is None else new["ids"]
    new_index = {text: j for j, text in enumerate(new_ids)}

    if r.users is not None or r.users_file is not None:
        ids = parse_ids(r.users) + (read_ids(r.users_file) if r.users_file else [])
        ids = _unique(ids)
        source = np.zeros(len(ids), dtype=np.int8)
        rows = np.full(len(ids), -1, dtype=np.int64)
        for j, text in enumerate(ids):
            if text in new_index:
                source[j], rows[j] = 1, new_index[text]
        old = np.flatnonzero(source == 0)
        rows[old] = resolve_ids(model.user_labels, model.n_users, [ids[j] for j in old])
        if (rows < 0).any():
            hint = "give its interactions with --from FILE to fold it in"
            if model.user_labels is None:
                hint = f"the model has no ids: users are positions 1..{model.n_users}, or " + hint
            raise _unknown("user", ids, rows, r.model, hint)
        queries = np.asarray(ids, dtype=str)
        queries = _typed_ids(queries, model.user_labels, new)
    else:
        if r.all:
            model_rows = np.arange(model.n_users, dtype=np.int64)
            if new_ids:
                shadowed = resolve_ids(model.user_labels, model.n_users, new_ids)
                keep = np.ones(model.n_users, dtype=bool)
                keep[shadowed[shadowed >= 0]] = False  # the --from file wins
                model_rows = model_rows[keep]
        else:
            model_rows = np.zeros(0, dtype=np.int64)
        n_new = len(new_ids)
        source = np.concatenate([np.zeros(len(model_rows), np.int8), np.ones(n_new, np.int8)])
        rows = np.concatenate([model_rows, np.arange(n_new, dtype=np.int64)])
        model_ids = model_rows + 1 if model.user_labels is None else model.user_labels[model_rows]
        queries = model_ids if new is None else _concat_ids(model_ids, new["labels"])

    n = int(r.n)
    items = np.full((len(rows), n), -1, dtype=np.int64)
    scores = np.full((len(rows), n), -np.inf, dtype=model.dtype)
    old = np.flatnonzero(source == 0)
    excluded = r.exclude_seen is not False
    if old.size:
        train = None
        if r.exclude_seen is not False:
            train = _train_pattern(r.model, model)
            if train is None:
                if r.exclude_seen:
                    from mfcli.errors import InputDataError

                    raise InputDataError(
                        "the model has no /train, so known items cannot be excluded",
                        path=r.model, hint="use --include-seen",
                    )  # fmt: skip
                notes.append(NO_TRAIN_NOTE)
                excluded = False
        items[old], scores[old] = top_k(model, rows[old], n, exclude=train)
    fresh = np.flatnonzero(source == 1)
    if fresh.size:
        seen = new["seen"] if r.exclude_seen is not False else None
        items[fresh], scores[fresh] = top_k(new["model"], rows[fresh], n, exclude=seen)
    if model.clip is not None:
        # Ranked by the model's score, printed as the rating eval predicts: clipped
        # to the training range (clipping is monotone, so lists stay sorted; ranking
        # by clipped scores would break the ties it makes at the top by item index).
        listed = items >= 0
        scores[listed] = np.clip(scores[listed], *model.clip)
    recs = Recommendations("users", queries, items, scores, model.item_labels)
    recs.summary.update(
        kind="users", lists=int(len(rows)), lines=int((items >= 0).sum()),
        exclude_seen=bool(excluded), folded_in=int(fresh.size), notes=notes,
    )  # fmt: skip
    if new is not None:
        recs.summary.update(
            from_file=cfg.input.path, fold_in_rule=new["rule"],
            from_items_unknown=new["unknown_items"],
        )  # fmt: skip
    return recs


def _typed_ids(ids: np.ndarray, model_labels, new) -> np.ndarray:
    """Typed ids are text; give them the model's id type when it is integer (or positions)."""
    ints = model_labels is None or model_labels.dtype.kind in "iu"
    if new is not None:
        ints = ints and new["labels"].dtype.kind in "iu"
    if ints:
        try:
            return np.asarray([int(i) for i in ids.tolist()], dtype=np.int64)
        except ValueError:
            return ids
    return ids


def _concat_ids(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return np.concatenate([a.astype(np.int64), b.astype(np.int64)])
    return np.concatenate([a.astype(str), b.astype(str)])


def _fold_new_users(cfg, result, model, notes: list[str]) -> dict:
    """Read ``--from`` and fold its users in: factors, seen items and ids."""
    import dataclasses

    from mfcli.api.foldin import fold_in, in_model_columns, require
    from mfcli.errors import MfcliError
    from mfcli.evaluate.model import ScoringModel, map_labels
    from mfcli.io import read_matrix

    require(result.method, "recommend --from")
    rows = read_matrix(cfg.input.path, dataclasses.replace(cfg.read_options(), dtype="float64"))
    try:
        cols = map_labels(model.item_labels, rows.col_labels, model.n_items, rows.shape[1])
    except MfcliError as exc:
        raise exc.located(cfg.input.path) from None
    unknown = int((cols < 0).sum())
    if unknown:
        notes.append(f"{unknown} item(s) of {cfg.input.path} are not in the model; left out")
    in_model = in_model_columns(rows, cols, model.n_items)
    folded = fold_in(result, in_model, command="recommend --from")
    coords = np.asarray(folded.coords, dtype=np.float64)
    if "singular_values" in result.factors:
        coords = coords * np.asarray(result.factors["singular_values"], dtype=np.float64)
    user_bias = None
    if model.user_bias is not None or folded.row_bias is not None:
        user_bias = np.zeros(coords.shape[0]) if folded.row_bias is None else folded.row_bias
    scoring = ScoringModel(
        coords.astype(model.dtype), model.item_factors, global_bias=model.global_bias,
        user_bias=user_bias, item_bias=model.item_bias,
    )  # fmt: skip
    seen = in_model if in_model.is_sparse else None
    if seen is None:
        from mfcli.evaluate.model import entries

        r, c, _ = entries(in_model)
        from mfcli.data import Matrix

        seen = Matrix.from_coo(r, c, None, in_model.shape)
    labels = rows.row_labels
    if labels is None:
        labels = np.arange(1, rows.shape[0] + 1, dtype=np.int64)
    labels = np.asarray(labels)
    return {
        "model": scoring,
        "seen": seen,
        "labels": labels,
        "ids": [str(x) for x in labels.tolist()],
        "rule": folded.rule,
        "unknown_items": unknown,
    }


def _train_pattern(path: str, model) -> SimpleNamespace | None:
    """The stored ``/train`` pattern (indptr, indices, shape) without its values, or None."""
    import h5py

    from mfcli.errors import InputDataError

    with h5py.File(path, "r") as f:
        if "train" not in f:
            return None
        g = f["train"]
        try:
            shape = tuple(int(v) for v in g.attrs["shape"])
            indptr, indices = g["indptr"][()], g["indices"][()]
        except (KeyError, ValueError, TypeError, OSError) as exc:
            raise InputDataError(f"damaged /train ({exc})", path=path) from None
    if shape != (model.n_users, model.n_items) or indptr.shape != (shape[0] + 1,):
        raise InputDataError(
            f"/train is {shape[0]} x {shape[1]}, the factors {model.n_users} x {model.n_items}",
            path=path, hint="write the model again",
        )  # fmt: skip
    return SimpleNamespace(indptr=indptr, indices=indices, shape=shape)


# ---------------------------------------------------------------- items
def _similar_items(cfg, model, result) -> Recommendations:
    """Nearest items by cosine similarity of the item factors (svd: V diag(s))."""
    from mfcli.evaluate.model import ScoringModel
    from mfcli.evaluate.topk import top_k

    r = cfg.recommend
    ids = _unique(parse_ids(r.similar_items))
    cols = resolve_ids(model.item_labels, model.n_items, ids)
    if (cols < 0).any():
        hint = "item ids are the model's column labels"
        if model.item_labels is None:
            hint = f"the model has no ids: items are positions 1..{model.n_items}"
        raise _unknown("item", ids, cols, r.model, hint)
    vectors = model.item_factors
    if "singular_values" in result.factors:
        # V diag(s): cosines of its rows are those of the rank-k reconstruction's columns.
        vectors = vectors * np.asarray(result.factors["singular_values"], dtype=model.dtype)
    unit = _normalized(vectors)
    queries = ScoringModel(unit[cols], unit)
    q = len(cols)
    itself = SimpleNamespace(
        indptr=np.arange(q + 1, dtype=np.int64), indices=cols.astype(np.int32),
        shape=(q, model.n_items),
    )  # fmt: skip
    items, scores = top_k(queries, np.arange(q), int(r.n), exclude=itself)
    labels = _typed_ids(np.asarray(ids, dtype=str), model.item_labels, None)
    recs = Recommendations("items", labels, items, scores, model.item_labels)
    recs.summary.update(
        kind="items", lists=q, lines=int((items >= 0).sum()), exclude_seen=False,
        folded_in=0, notes=[],
    )  # fmt: skip
    return recs


def _normalized(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (vectors * scale[:, None]).astype(vectors.dtype)  # zero vectors stay zero


# --------------------------------------------------------------- output
def write_text(recs: Recommendations, fh, sep: str = ",") -> int:
    """Header plus one ``query<sep>rank<sep>item<sep>score`` line per entry to a binary stream.

    Ids are written as the model's labels (CSV-quoted when needed), or
    1-based positions; scores in their shortest round-trip form.
    Returns the number of lines after the header.
    """
    from mfcli.io import write as w

    q, rank, cols, scores = recs.flat()
    queries = np.asarray(recs.queries)
    columns = [
        w._Labels(queries, lambda a, b: q[a:b], sep),
        w._Numbers(rank),
        w._Labels(recs.item_labels, lambda a, b: cols[a:b], sep, base=1),
        w._Numbers(scores),
    ]
    fh.write(w._header_line(list(recs.columns), sep))
    w._write_table(fh, int(q.shape[0]), columns, sep)
    return int(q.shape[0])


def write_file(recs: Recommendations, path: str, fmt: str, *, force: bool = False) -> None:
    """Write ``path`` atomically: CSV/TSV text, or HDF5 columns of equal length.

    The HDF5 file holds one 1-D dataset per column (``/user``, ``/rank``,
    ``/item``, ``/score``; for similar items ``/item``, ``/rank``,
    ``/neighbour``, ``/score``), row i of each belonging together, and the
    attributes ``kind`` and ``model``.
    """
    from mfcli.io import write as w

    if fmt in ("csv", "tsv"):
        with w._text_output(path, force) as fh:
            write_text(recs, fh, sep="\t" if fmt == "tsv" else ",")
        return
    import h5py

    q, rank, cols, scores = recs.flat()
    first, _, third, _ = recs.columns
    with w.atomic_path(path, force=force) as tmp:
        with w._h5_file(tmp) as h5:
            h5.attrs.create("kind", recs.kind, dtype=h5py.string_dtype())
            h5.attrs.create("model", os.fspath(recs.summary.get("model") or ""),
                            dtype=h5py.string_dtype())  # fmt: skip
            w._dataset(h5, first, np.asarray(recs.queries)[q], None)
            w._dataset(h5, "rank", rank.astype(np.int32), None)
            w._dataset(h5, third, recs.item_ids(cols), None)
            w._dataset(h5, "score", scores, None)


def as_json(recs: Recommendations) -> dict:
    """The summary plus every list, for ``--json`` without ``-o``."""
    q, rank, cols, scores = recs.flat()
    ids = recs.item_ids(cols).tolist()
    queries = np.asarray(recs.queries).tolist()
    lists: list[dict] = [{"items": []} for _ in queries]
    key = "user" if recs.kind == "users" else "item"
    for j, query in enumerate(queries):
        lists[j][key] = query
    # The shortest text that reads back as the same float32/float64, as a JSON number.
    values = [float(t) for t in scores.astype(str).tolist()]
    for i, j in enumerate(q.tolist()):
        lists[j]["items"].append({"rank": int(rank[i]), "item": ids[i], "score": values[i]})
    name, inner = (
        ("recommendations", "items") if recs.kind == "users" else ("similar", "neighbours")
    )
    ordered = [{key: x[key], inner: x["items"]} for x in lists]
    return {**recs.summary, name: ordered}
