"""Which entries go to train, validation and test: the split strategies.

An entry is one stored interaction (a data line of a text file, a stored
entry of an HDF5 matrix), numbered in file order. Users are the row ids.
Everything here works on arrays (no files, no printing) and is a pure
function of the entries and the parameters, so the same seed gives the same
assignment on any machine and thread count.

Strategies
----------
random
    ``round(test_frac * n)`` entries chosen at random go to test, then
    ``round(validation_frac * n)`` to validation.
temporal
    Global: the newest ``round(test_frac * n)`` entries are test (or, with
    ``cut_time``, every entry at or after the cut), the next newest
    ``round(validation_frac * n)`` validation. ``per_user``: the same within
    each user, with the per-user counts of ``user``.
user
    Per user, ``round(test_frac * n_u)`` random entries are test and
    ``round(validation_frac * n_u)`` validation, capped so that each user
    keeps ``min_train`` entries in train (users with at most ``min_train``
    entries stay whole in train).
leave-k-out
    Per user, the newest ``k`` entries are test (random ``k`` without a time
    column), the next newest ``round(validation_frac * n_u)`` validation,
    with the same ``min_train`` cap.
kfold
    Per user, entries in random order are dealt round robin to the folds
    (starting at a random fold per user), so each fold holds about ``1/K`` of
    every user's entries. Fold ``i``'s test is the entries dealt to ``i``.

Rounding is half up (``floor(x + 0.5)``). "Newest" orders by time and, for
equal times, by file order (the later line is the newer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mfcli.errors import InputDataError, UsageError

STRATEGIES = ("random", "temporal", "user", "leave-k-out", "kfold")
PARTS = ("train", "validation", "test")
TRAIN, VALIDATION, TEST = 0, 1, 2
TIMED = ("temporal",)  # strategies that refuse inputs without a time column
USES_TIME = ("temporal", "leave-k-out")


@dataclass(frozen=True)
class SplitParams:
    """Resolved parameters (strategy defaults filled in)."""

    strategy: str = "random"
    test_frac: float = 0.2
    validation_frac: float = 0.0
    cut_time: float | None = None  # Unix seconds (or the file's own time unit)
    cut_text: str | None = None  # cut_time as the user wrote it
    per_user: bool = False
    min_train: int = 1
    leave_k: int = 1
    folds: int = 5
    seed: int = 0


@dataclass
class Entries:
    """What a split needs to know about each entry, in file order.

    users, items : (n,) int32 codes in ``0..n_users-1`` / ``0..n_items-1`` (int64
        beyond 2**31 - 1 ids)
    keys : (n,) int64 order-preserving time keys, or None without a time column
    time_kind : "int" (integer times, e.g. Unix seconds or dates) or "float"
    """

    users: np.ndarray
    items: np.ndarray
    n_users: int
    n_items: int
    keys: np.ndarray | None = None
    time_kind: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.users.shape[0])


def params_from_config(cfg) -> SplitParams:
    """The :class:`SplitParams` of a resolved ``SplitConfig`` (null options get their defaults)."""
    s = cfg.split
    cut = parse_time(s.cut_time) if s.cut_time is not None else None
    test = s.test_frac
    if test is None:  # a time cut decides by itself what is test
        test = 0.2 if "test_frac" in s.applicable() and cut is None else 0.0
    return SplitParams(
        strategy=s.strategy,
        test_frac=test,
        validation_frac=s.validation_frac or 0.0,
        cut_time=cut,
        cut_text=s.cut_time,
        per_user=s.per_user,
        min_train=s.min_train if s.min_train is not None else 1,
        leave_k=s.leave_k if s.leave_k is not None else 1,
        folds=s.folds if s.folds is not None else 5,
        seed=cfg.runtime.seed,
    )


def parse_time(text: str) -> float:
    """``--cut-time``: a number (the file's time unit, e.g. Unix seconds) or an ISO date.

    Dates without a zone are UTC, as the CSV reader reads them.

    Raises
    ------
    UsageError
        Neither a number nor a date (exit 2).
    """
    from datetime import datetime, timezone

    text = str(text).strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(value):
            return value
        raise UsageError(f"--cut-time must be finite, got {text!r}")
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--cut-time must be a number or an ISO date, got {text!r}",
            hint="e.g. --cut-time 1500000000 or --cut-time 2017-07-14 or 2017-07-14T02:40:00",
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def recorded_parameters(params: SplitParams) -> dict:
    """The parameters that shaped the split, for the manifest (strategy defaults filled)."""
    from mfcli.config import SPLIT_OPTIONS

    out = {"strategy": params.strategy, "seed": int(params.seed)}
    for name in SPLIT_OPTIONS[params.strategy]:
        if name == "fold":
            continue  # which fold a run writes does not change the fold
        if name == "cut_time":
            if params.cut_time is not None:
                out["cut_time"] = params.cut_text
                out["cut_time_seconds"] = params.cut_time
            continue
        if name == "per_user" and params.cut_time is not None:
            continue
        if name == "test_frac" and params.strategy == "temporal" and params.cut_time is not None:
            continue
        if name == "min_train" and params.strategy == "temporal" and not params.per_user:
            continue
        out[name] = getattr(params, name)
    return out


def half_up(x) -> np.ndarray:
    """Round half up, elementwise (``floor(x + 0.5)``) as int64."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def time_key(cut: float, time_kind: str) -> int:
    """The key at and above which entries are at or after ``cut``."""
    if time_kind == "float":
        from mfcli.kernels.split import float_time_keys

        out = np.empty(1, dtype=np.int64)
        float_time_keys(np.array([cut], dtype=np.float64), out)
        return int(out[0])
    # integer times: t >= cut  <=>  t >= ceil(cut)
    limit = np.iinfo(np.int64)
    if cut > limit.max:
        return int(limit.max)
    if cut < limit.min:
        return int(limit.min)
    return int(math.ceil(cut))


def assign(entries: Entries, params: SplitParams) -> np.ndarray:
    """The part of every entry: (n,) int8 of TRAIN, VALIDATION, TEST.

    Raises
    ------
    InputDataError
        The strategy needs times and the input has no time column (exit 65).
    UsageError
        A strategy that does not give parts (kfold: use :func:`assign_folds`).
    """
    s = params.strategy
    if s == "kfold":
        raise UsageError("kfold gives folds, not parts")
    if s not in STRATEGIES:
        raise UsageError(f"unknown strategy {s!r}", hint="use one of " + "|".join(STRATEGIES))
    if s in TIMED and entries.keys is None:
        raise _no_time(s)
    part = np.zeros(entries.n, dtype=np.int8)
    if entries.n == 0:
        return part
    per_user = s in ("user", "leave-k-out") or (s == "temporal" and params.per_user)
    keys = entries.keys if s in ("temporal", "leave-k-out") else None
    ranking = _Ranking(keys, entries.n, params.seed)
    if per_user:
        _per_user(entries, params, ranking, part)
    elif s == "temporal" and params.cut_time is not None:
        cut = time_key(params.cut_time, entries.time_kind or "int")
        test = keys >= cut
        part[test] = TEST
        n_cut = int(np.count_nonzero(test))
        del test
        n_val = min(int(half_up(params.validation_frac * entries.n)), entries.n - n_cut)
        if n_val:
            kept = part == TEST
            ranking.mark_top(n_cut + n_val, part, VALIDATION)
            part[kept] = TEST
    else:
        n = entries.n
        n_test = min(int(half_up(params.test_frac * n)), n)
        n_val = min(int(half_up(params.validation_frac * n)), n - n_test)
        ranking.mark_top(n_test + n_val, part, VALIDATION)
        ranking.mark_top(n_test, part, TEST)
    return part


class _Ranking:
    """Entry keys: the time keys, or (``keys`` None) seeded hashes computed on the fly."""

    def __init__(self, keys: np.ndarray | None, n: int, seed: int, stream: int = 0) -> None:
        self.keys = keys if keys is not None else np.zeros(0, dtype=np.int64)
        self.n = n
        self.base = _stream(seed, stream)

    def mark_top(self, count: int, part: np.ndarray, value: int) -> None:
        """Give ``value`` to the ``count`` newest entries."""
        from mfcli.kernels import split as ks

        count = min(count, self.n)
        if count <= 0:
            return
        threshold = ks.newest_threshold(self.keys, self.base, self.n, count)
        ks.mark_newest(self.keys, self.base, self.n, threshold, count, part, value)


def _stream(seed: int, stream: int) -> np.uint64:
    """The hash stream of ``seed``: entries (0) and users (1) draw independently."""
    return np.uint64((int(seed) * 0x9E3779B97F4A7C15 + stream * 0xD1B54A32D192ED03) % (1 << 64))


def assign_folds(entries: Entries, params: SplitParams) -> np.ndarray:
    """The fold of every entry for ``kfold``: (n,) int8 in ``0..folds-1``."""
    from mfcli.kernels import split as ks

    k = params.folds
    if not 2 <= k <= 127:
        raise UsageError(f"--folds must be between 2 and 127, got {k}")
    fold = np.zeros(entries.n, dtype=np.int8)
    if entries.n == 0:
        return fold
    offsets = ks.random_keys(entries.n_users, _stream(params.seed, 1)) % k
    indptr, order = _grouped(entries)
    entry = _Ranking(None, entries.n, params.seed)
    ks.folds_per_group(indptr, order, entry.keys, entry.base, offsets, k, fold)
    return fold


def per_user_counts(sizes: np.ndarray, params: SplitParams) -> tuple[np.ndarray, np.ndarray]:
    """(test, validation) entry counts per user for the per-user strategies.

    Holdouts are capped so each user keeps ``min_train`` entries in train;
    test is served first.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if params.strategy == "leave-k-out":
        n_test = np.full(sizes.shape, params.leave_k, dtype=np.int64)
    else:
        n_test = half_up(params.test_frac * sizes)
    n_val = half_up(params.validation_frac * sizes)
    room = np.maximum(sizes - params.min_train, 0)
    n_test = np.minimum(n_test, room)
    n_val = np.minimum(n_val, room - n_test)
    return n_test, n_val


def _grouped(entries: Entries) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, order): entries grouped by user, file order within a user."""
    from mfcli.kernels import split as ks

    order = np.empty(entries.n, dtype=np.int32 if entries.n < 2**31 else np.int64)
    return ks.group_entries(entries.users, entries.n_users, order), order


def _per_user(entries: Entries, params: SplitParams, ranking: _Ranking, part) -> None:
    from mfcli.kernels import split as ks

    indptr, order = _grouped(entries)
    n_test, n_val = per_user_counts(np.diff(indptr), params)
    ks.mark_newest_per_group(
        indptr, order, ranking.keys, ranking.base, n_test, n_val, part, TEST, VALIDATION
    )


def _no_time(strategy: str) -> InputDataError:
    return InputDataError(
        f"the {strategy} strategy needs a time column and the input has none",
        hint="name it with --columns user,item,rating,time, or use --strategy random|user "
        "(leave-k-out picks random entries without times)",
    )


# ------------------------------------------------------------------ counts
def part_counts(group: np.ndarray, entries: Entries, n_groups: int) -> dict:
    """Entries, users and items of each group, as (n_groups,) arrays.

    Also the tallies ``users_by_group`` and ``items_by_group`` ((n_groups, n)
    entry counts) that :func:`unseen` and fold counts use.
    """
    from mfcli.kernels.split import tally

    users = tally(group, entries.users, n_groups, entries.n_users)
    items = tally(group, entries.items, n_groups, entries.n_items)
    return {
        "entries": users.sum(axis=1),  # (np.bincount would widen group to int64 first)
        "users_by_group": users,
        "items_by_group": items,
    }


def summarize(users_in: np.ndarray, items_in: np.ndarray, n_entries: int) -> dict:
    """``{"entries", "users", "items"}`` for one part given its per-id entry counts."""
    return {
        "entries": int(n_entries),
        "users": int(np.count_nonzero(users_in)),
        "items": int(np.count_nonzero(items_in)),
    }


def unseen(users_in: np.ndarray, items_in: np.ndarray, train_users, train_items) -> dict:
    """Users and items of a part that have no entry in train."""
    return {
        "users": int(np.count_nonzero((users_in > 0) & (train_users == 0))),
        "items": int(np.count_nonzero((items_in > 0) & (train_items == 0))),
    }
