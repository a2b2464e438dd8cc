"""Rating and ranking metrics of a model on held-out data (guide, section 6).

One entry point, :func:`evaluate`, takes a model, a test matrix and
optionally the training matrix, and returns an :class:`EvalReport`: the
metric values and the counts behind them (entries, users, unseen users and
items under the cold-start policy). Definitions are in ``docs/metrics.md``;
one-line versions are in :data:`DEFINITIONS` for ``--help``.

Ranking never builds a users x items score matrix: users are scored in
chunks (:mod:`mfcli.evaluate.topk`), each chunk's top-K and AUC are taken by
numba kernels, and only (users, K) arrays are kept. Values are accumulated in
float64.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import InputDataError, UsageError
from mfcli.evaluate.model import ScoringModel, entries, model_indices, to_model_space
from mfcli.evaluate.topk import exclusion_csr, score_chunks, top_k  # noqa: F401 - re-exported
from mfcli.io.results import Result
from mfcli.kernels import metrics as km

# ------------------------------------------------------------------ names
RATING_METRICS = ("rmse", "mae")
AT_K_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")
WHOLE_LIST_METRICS = ("auc",)
COLD_START_POLICIES = ("drop", "mean", "error")

DEFINITIONS = {
    "rmse": "sqrt(mean((prediction - rating)^2)) over test entries with known user and item",
    "mae": "mean(|prediction - rating|) over test entries with known user and item",
    "precision@K": "hits in the top K / K (K, not min(K, |relevant|)), averaged over users",
    "recall@K": "hits in the top K / |relevant|, averaged over users",
    "ndcg@K": "DCG / ideal DCG; binary gain, discount 1/log2(rank + 2) with rank from 0, "
    "ideal over min(K, |relevant|) hits",
    "map@K": "sum over hits at rank i of precision@(i+1), / min(K, |relevant|), "
    "averaged over users",
    "hit_rate@K": "1 if any of the top K is relevant, else 0, averaged over users",
    "coverage@K": "share of the model's items that appear in at least one top-K list",
    "auc": "P(a relevant test item scores above a non-relevant candidate; ties 1/2), "
    "averaged over users",
}

# Accepted spellings -> canonical names.
ALIASES = {
    "p": "precision",
    "prec": "precision",
    "r": "recall",
    "rec": "recall",
    "hr": "hit_rate",
    "hitrate": "hit_rate",
    "hit-rate": "hit_rate",
    "hits": "hit_rate",
    "cov": "coverage",
    "mean_ap": "map",
}


@dataclass(frozen=True)
class MetricName:
    """A parsed metric name: ``base`` and, for metrics at K, ``k``."""

    base: str
    k: int | None = None

    def __str__(self) -> str:
        return self.base if self.k is None else f"{self.base}@{self.k}"

    @property
    def is_rating(self) -> bool:
        return self.base in RATING_METRICS

    @property
    def is_ranking(self) -> bool:
        return not self.is_rating


_NAME = re.compile(r"^\s*([A-Za-z_\-]+)\s*(?:@\s*(\S*))?\s*$")


def parse_metric(text: str) -> MetricName:
    """``"ndcg@10"`` -> ``MetricName("ndcg", 10)``; ``"RMSE"`` -> ``MetricName("rmse")``.

    Raises
    ------
    UsageError
        exit 2: unknown name (with a did-you-mean hint), a missing or invalid
        K, or a K on a metric that takes none.
    """
    match = _NAME.match(str(text))
    if not match:
        raise UsageError(f"invalid metric name {text!r}", hint=_known_hint())
    base, k_text = match.group(1).lower(), match.group(2)
    base = ALIASES.get(base, base)
    if base not in (*RATING_METRICS, *AT_K_METRICS, *WHOLE_LIST_METRICS):
        raise UsageError(f"unknown metric {text!r}", hint=_suggest_metric(base, k_text))
    if base in AT_K_METRICS:
        if k_text is None:
            raise UsageError(f"metric {text!r} needs a list length", hint=f"e.g. {base}@10")
        if not k_text.isdigit() or int(k_text) < 1:
            raise UsageError(
                f"metric {text!r}: K must be a positive integer", hint=f"e.g. {base}@10"
            )
        return MetricName(base, int(k_text))
    if k_text is not None:
        raise UsageError(f"metric {text!r} takes no @K", hint=f"use {base!r}")
    return MetricName(base)


def parse_metrics(names: Iterable[str] | str) -> list[MetricName]:
    """Parse names (a list, or one comma-separated string); duplicates dropped, order kept."""
    if isinstance(names, str):
        names = names.split(",")
    out: list[MetricName] = []
    for text in names:
        if not str(text).strip():
            continue
        metric = parse_metric(text)
        if metric not in out:
            out.append(metric)
    return out


def _known_hint() -> str:
    return "known metrics: " + ", ".join(DEFINITIONS)


def _suggest_metric(base: str, k_text: str | None) -> str:
    names = [*RATING_METRICS, *AT_K_METRICS, *WHOLE_LIST_METRICS, *ALIASES]
    close = difflib.get_close_matches(base, names, n=2, cutoff=0.6)
    if not close:
        return _known_hint()
    shown = []
    for name in close:
        name = ALIASES.get(name, name)
        if name in AT_K_METRICS:
            name += f"@{k_text if k_text and k_text.isdigit() else 10}"
        if name not in shown:
            shown.append(name)
    return "did you mean " + " or ".join(f"'{m}'" for m in shown) + "?"


# ---------------------------------------------------------------- fail-if
_OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_CONDITION = re.compile(r"^\s*([^<>=\s]+)\s*(>=|<=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class FailCondition:
    """A quality gate such as ``rmse>0.95``: it fails when the comparison holds."""

    metric: str
    op: str
    threshold: float
    text: str

    def fails(self, value: float) -> bool:
        """True when ``value`` meets the condition, or is NaN (nothing was measured)."""
        return math.isnan(value) or _OPERATORS[self.op](value, self.threshold)


@dataclass(frozen=True)
class GateFailure:
    """A condition that failed, with the value measured."""

    condition: FailCondition
    value: float

    @property
    def message(self) -> str:
        c = self.condition
        if math.isnan(self.value):
            return f"{c.metric} could not be measured (nan) (--fail-if {c.text})"
        return f"{c.metric} = {self.value:.6g} {c.op} {c.threshold:g} (--fail-if {c.text})"


def parse_fail_if(text: str) -> FailCondition:
    """``"ndcg@10<0.1"`` -> ``FailCondition("ndcg@10", "<", 0.1, ...)``.

    Operators: ``>``, ``>=``, ``<``, ``<=``. The metric name is checked and
    made canonical (``NDCG@10`` -> ``ndcg@10``).

    Raises
    ------
    UsageError
        exit 2: not of the form METRIC OP NUMBER, or an unknown metric.
    """
    match = _CONDITION.match(str(text))
    if not match:
        raise UsageError(
            f"invalid --fail-if {text!r}",
            hint="write METRIC OP NUMBER with OP one of > >= < <=, e.g. 'rmse>0.95'",
        )
    name, op, number = match.groups()
    try:
        threshold = float(number)
    except ValueError:
        raise UsageError(
            f"invalid --fail-if {text!r}: {number!r} is not a number", hint="e.g. 'rmse>0.95'"
        ) from None
    return FailCondition(str(parse_metric(name)), op, threshold, str(text).strip())


def check_fail_if(
    conditions: Iterable[str | FailCondition], values: Mapping[str, float]
) -> list[GateFailure]:
    """The conditions that fail on ``values`` (empty when every gate passes).

    Raises
    ------
    UsageError
        exit 2: a condition names a metric not in ``values`` (add it to the
        metrics computed; :attr:`FailCondition.metric` is its canonical name).
    """
    failed = []
    for condition in conditions:
        if not isinstance(condition, FailCondition):
            condition = parse_fail_if(condition)
        if condition.metric not in values:
            raise UsageError(
                f"--fail-if {condition.text}: {condition.metric} was not computed",
                hint="add it to the metrics",
            )
        value = float(values[condition.metric])
        if condition.fails(value):
            failed.append(GateFailure(condition, value))
    return failed


# ----------------------------------------------------------------- report
@dataclass
class EvalReport:
    """Metric values and the counts behind them.

    Attributes
    ----------
    values : metric name -> value (float; NaN when nothing could be measured)
    entries : test entries scored by rmse/mae under the cold-start policy
    users, items : distinct users and items among those entries
    test_entries, test_users, test_items : in the test matrix (users and
        items with at least one entry)
    unseen_users, unseen_items : test users/items without factors, or
        without training entries when the training matrix is known
    unseen_entries : test entries with an unseen user or item
    ranking_users : users averaged by the @K metrics (at least one relevant
        test item); None when no ranking metric was asked
    auc_users : users averaged by auc (also at least one non-relevant
        candidate); None when auc was not asked
    relevant_entries : relevant test entries used for ranking, or None
    train_overlap : test entries also in the user's training row, left out
        of ranking (training items are never ranked), or None
    excluded_training : whether training items were excluded from ranking
        (False when no training matrix was known)
    cold_start, relevance_threshold : the settings used
    """

    values: dict[str, float] = field(default_factory=dict)
    entries: int = 0
    users: int = 0
    items: int = 0
    test_entries: int = 0
    test_users: int = 0
    test_items: int = 0
    unseen_users: int = 0
    unseen_items: int = 0
    unseen_entries: int = 0
    ranking_users: int | None = None
    auc_users: int | None = None
    relevant_entries: int | None = None
    train_overlap: int | None = None
    excluded_training: bool = False
    cold_start: str = "drop"
    relevance_threshold: float | None = None

    def as_dict(self) -> dict:
        """JSON-ready (NaN values become None)."""
        out = asdict(self)
        out["values"] = {k: (None if math.isnan(v) else v) for k, v in self.values.items()}
        return out


# --------------------------------------------------------------- evaluate
def evaluate(
    model: ScoringModel | Result,
    test: Matrix,
    train: Matrix | None = None,
    metrics: Iterable[str] | str = ("rmse",),
    relevance_threshold: float | None = None,
    cold_start: str = "drop",
    chunk: int | None = None,
) -> EvalReport:
    """Score ``model`` on ``test``.

    Parameters
    ----------
    model : ScoringModel, or a Result (read with its factors)
    test : the held-out matrix, with its own ids (matched to the model's)
    train : the training matrix (its own ids, or none and the model's
        shape); None uses the model's stored ``/train`` when it has one.
        Its items are excluded from each user's ranking, and users/items
        without training entries are unseen.
    metrics : names such as ``"rmse"``, ``"ndcg@10"``, ``"auc"``
    relevance_threshold : test entries with value >= this are relevant for
        ranking; None makes every test entry relevant
    cold_start : "drop", "mean" or "error" (see ``docs/metrics.md``)
    chunk : users scored per BLAS call; None keeps each block <= 64 MiB

    Returns
    -------
    EvalReport

    Raises
    ------
    UsageError
        exit 2: unknown metric or policy; ``mean`` without biases or training data.
    InputDataError
        exit 65: ids that cannot be matched; ``error`` policy with unseen
        users or items.
    """
    specs = parse_metrics(metrics)
    if cold_start not in COLD_START_POLICIES:
        close = difflib.get_close_matches(str(cold_start), COLD_START_POLICIES, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use drop, mean or error"
        raise UsageError(f"unknown cold-start policy {cold_start!r}", hint=hint)
    if isinstance(model, Result):
        model = ScoringModel.from_result(model)
    if train is not None:
        train = to_model_space(model, train)
    else:
        train = model.train
    threshold = None if relevance_threshold is None else float(relevance_threshold)
    report = EvalReport(
        cold_start=cold_start, relevance_threshold=threshold, excluded_training=train is not None
    )
    pairs = _TestPairs.build(model, test, train)
    _count(report, pairs)
    if cold_start == "error" and (report.unseen_users or report.unseen_items):
        raise InputDataError(
            f"{report.unseen_users} test users and {report.unseen_items} test items "
            "are unseen in training",
            hint="use --cold-start drop or --cold-start mean",
        )
    rating = [m for m in specs if m.is_rating]
    if rating:
        errors = _rating_errors(model, train, pairs, cold_start)
        report.values.update(_rating_values(errors, rating))
    ranking = [m for m in specs if m.is_ranking]
    if ranking:
        report.values.update(
            _ranking(model, train, pairs, ranking, threshold, cold_start, chunk, report)
        )
    report.values = {str(m): report.values[str(m)] for m in specs}
    return report


@dataclass
class _TestPairs:
    """Test entries in test and model coordinates, with what the model knows."""

    rows: np.ndarray  # (nnz,) test rows
    cols: np.ndarray  # (nnz,) test columns
    users: np.ndarray  # (nnz,) model rows, -1 unknown
    items: np.ndarray  # (nnz,) model columns, -1 unknown
    values: np.ndarray  # (nnz,) float64
    user_seen: np.ndarray  # (nnz,) bool: factors (and training entries, when known)
    item_seen: np.ndarray  # (nnz,) bool

    @classmethod
    def build(cls, model: ScoringModel, test: Matrix, train: Matrix | None) -> _TestPairs:
        row_map, col_map = model_indices(model, test)
        rows, cols, values = entries(test)
        users, items = row_map[rows], col_map[cols]
        user_seen, item_seen = users >= 0, items >= 0
        if train is not None:
            has_row = train.row_degrees() > 0
            has_col = train.col_degrees() > 0
            user_seen[user_seen] = has_row[users[user_seen]]
            item_seen[item_seen] = has_col[items[item_seen]]
        return cls(rows, cols, users, items, values, user_seen, item_seen)


def _count(report: EvalReport, pairs: _TestPairs) -> None:
    report.test_entries = int(pairs.rows.size)
    report.test_users = int(np.unique(pairs.rows).size)
    report.test_items = int(np.unique(pairs.cols).size)
    report.unseen_users = int(np.unique(pairs.rows[~pairs.user_seen]).size)
    report.unseen_items = int(np.unique(pairs.cols[~pairs.item_seen]).size)
    seen = pairs.user_seen & pairs.item_seen
    report.unseen_entries = int(np.count_nonzero(~seen))
    used = seen if report.cold_start != "mean" else np.ones_like(seen)
    report.entries = int(np.count_nonzero(used))
    report.users = int(np.unique(pairs.rows[used]).size)
    report.items = int(np.unique(pairs.cols[used]).size)


# ----------------------------------------------------------------- rating
def predict(model: ScoringModel, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Scores of (user, item) pairs in float64.

    Parameters
    ----------
    model : ScoringModel
    users, items : (n,) model rows and columns

    Returns
    -------
    (n,) float64: ``user_factors[u] @ item_factors[i]`` plus the biases,
    clipped to ``model.clip`` when the model has a rating range
    """
    users = np.ascontiguousarray(users, dtype=np.int64)
    items = np.ascontiguousarray(items, dtype=np.int64)
    out = km.predict_pairs(model.user_factors, model.item_factors, users, items)
    if model.global_bias is not None:
        out += model.global_bias
    if model.user_bias is not None:
        out += model.user_bias[users]
    if model.item_bias is not None:
        out += model.item_bias[items]
    if model.clip is not None:
        np.clip(out, model.clip[0], model.clip[1], out=out)
    return out


def _rating_errors(model, train, pairs: _TestPairs, cold_start: str) -> np.ndarray:
    """prediction - rating for each test entry used (float64)."""
    seen = pairs.user_seen & pairs.item_seen
    if cold_start != "mean":
        return predict(model, pairs.users[seen], pairs.items[seen]) - pairs.values[seen]
    pred = np.empty(pairs.values.shape, dtype=np.float64)
    pred[seen] = predict(model, pairs.users[seen], pairs.items[seen])
    cold = ~seen
    if cold.any():
        pred[cold] = _fallback(model, train, pairs, cold)
    return pred - pairs.values


def _fallback(model, train, pairs: _TestPairs, cold: np.ndarray) -> np.ndarray:
    """``mean`` policy: global bias + the known side's bias, else the training mean."""
    if model.has_biases:
        out = np.full(int(cold.sum()), model.global_bias or 0.0, dtype=np.float64)
        if model.user_bias is not None:
            known = pairs.user_seen[cold]
            out[known] += model.user_bias[pairs.users[cold][known]]
        if model.item_bias is not None:
            known = pairs.item_seen[cold]
            out[known] += model.item_bias[pairs.items[cold][known]]
        return out
    if train is None or train.nnz == 0:
        raise UsageError(
            "cold-start 'mean' needs a model with biases or the training data",
            hint="give the training matrix, or use --cold-start drop",
        )
    return np.full(int(cold.sum()), np.mean(train.data, dtype=np.float64))


def _rating_values(errors: np.ndarray, wanted: list[MetricName]) -> dict[str, float]:
    out = {}
    for metric in wanted:
        if errors.size == 0:
            out[str(metric)] = math.nan
        elif metric.base == "rmse":
            out[str(metric)] = float(np.sqrt(np.mean(errors * errors)))
        else:
            out[str(metric)] = float(np.mean(np.abs(errors)))
    return out


# ---------------------------------------------------------------- ranking
def _ranking(model, train, pairs, wanted, threshold, cold_start, chunk, report) -> dict:
    relevant = pairs.user_seen.copy()  # unseen users are never ranked
    if threshold is not None:
        relevant &= pairs.values >= threshold
    reachable = relevant & pairs.item_seen
    if cold_start == "mean":
        unreachable = relevant & ~pairs.item_seen  # stay relevant, can never be hit
    else:
        unreachable = np.zeros_like(relevant)
    exclude = None
    blocked = None
    if train is not None:
        exclude = exclusion_csr(_sorted_rows(train), model.n_users, model.n_items)
        users, items = pairs.users[reachable], pairs.items[reachable]
        in_train = km.contains_pairs(exclude[0], exclude[1], users, items)
        report.train_overlap = int(in_train.sum())
        reachable[np.flatnonzero(reachable)[in_train]] = False
        # Items without training entries have untrained factors: never candidates.
        blocked = np.flatnonzero(train.col_degrees() == 0)
    else:
        report.train_overlap = 0
    rel_users, rel_indptr, rel_indices, n_unreachable = _relevance_csr(
        pairs.users[reachable], pairs.items[reachable], pairs.users[unreachable], model.n_items
    )
    report.relevant_entries = int(rel_indices.size + n_unreachable.sum())
    report.ranking_users = int(rel_users.size)
    n_relevant = np.diff(rel_indptr) + n_unreachable

    k_max = max((m.k for m in wanted if m.k is not None), default=0)
    want_auc = any(m.base == "auc" for m in wanted)
    top = np.empty((rel_users.size, k_max), dtype=np.int64)
    auc = np.empty(rel_users.size if want_auc else 0, dtype=np.float64)
    if rel_users.size and (k_max or want_auc):
        for a, b, scores in score_chunks(
            model, rel_users, exclude=exclude, blocked_items=blocked, chunk=chunk
        ):
            if k_max:
                top[a:b] = km.select_top_k(scores, k_max)[0]
            if want_auc:
                auc[a:b] = km.auc_rows(
                    scores, rel_indptr[a : b + 1], rel_indices, n_unreachable[a:b]
                )
    hits = km.mark_hits(top, rel_indptr, rel_indices) if k_max else None

    out = {}
    for metric in wanted:
        if metric.base == "auc":
            finite = auc[~np.isnan(auc)]
            report.auc_users = int(finite.size)
            out["auc"] = float(np.mean(finite)) if finite.size else math.nan
        elif rel_users.size == 0:
            out[str(metric)] = math.nan
        elif metric.base == "coverage":
            listed = top[:, : metric.k]
            out[str(metric)] = np.unique(listed[listed >= 0]).size / model.n_items
        else:
            per_user = at_k(metric.base, hits[:, : metric.k], n_relevant, metric.k)
            out[str(metric)] = float(np.mean(per_user))
    return out


def _sorted_rows(train: Matrix) -> Matrix:
    """``train`` with columns sorted within rows (binary search needs it)."""
    csr = train.to_scipy()
    if csr.has_sorted_indices:
        return train
    csr = csr.copy()
    csr.sort_indices()
    return Matrix.from_csr(csr.indptr, csr.indices, csr.data, csr.shape, check=False)


def _relevance_csr(users, items, unreachable_users, n_items: int):
    """Relevant items per ranked user, as CSR over the sorted distinct users.

    Returns
    -------
    rel_users : (n,) int64 model rows with at least one relevant item
    rel_indptr : (n + 1,) int64
    rel_indices : (nnz,) int64, sorted within rows
    n_unreachable : (n,) int64 relevant items without a score (``mean`` policy)
    """
    keys = np.unique(users * np.int64(n_items) + items)
    users, items = keys // n_items, keys % n_items
    rel_users = np.union1d(users, unreachable_users).astype(np.int64)
    counts = np.bincount(np.searchsorted(rel_users, users), minlength=rel_users.size)
    rel_indptr = np.zeros(rel_users.size + 1, dtype=np.int64)
    np.cumsum(counts, out=rel_indptr[1:])
    n_unreachable = np.bincount(
        np.searchsorted(rel_users, unreachable_users), minlength=rel_users.size
    ).astype(np.int64)
    return rel_users, rel_indptr, np.ascontiguousarray(items, dtype=np.int64), n_unreachable


def at_k(base: str, hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user precision, recall, ndcg, map or hit_rate at ``k``, in float64.

    Parameters
    ----------
    base : "precision", "recall", "ndcg", "map" or "hit_rate"
    hits : (n_users, k) bool, whether the item at each rank is relevant
        (padding ranks of short lists are False)
    n_relevant : (n_users,) int, |relevant| per user (>= 1)
    k : the list length

    Returns
    -------
    (n_users,) float64
    """
    gain = hits.astype(np.float64)
    n_hits = gain.sum(axis=1)
    if base == "precision":
        return n_hits / k
    if base == "recall":
        return n_hits / n_relevant
    if base == "hit_rate":
        return (n_hits > 0).astype(np.float64)
    ideal_hits = np.minimum(k, n_relevant)
    if base == "ndcg":
        discount = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
        ideal = np.cumsum(discount)[ideal_hits - 1]
        return (gain @ discount) / ideal
    if base == "map":
        precision_at = np.cumsum(gain, axis=1) / np.arange(1, k + 1, dtype=np.float64)
        return (precision_at * gain).sum(axis=1) / ideal_hits
    raise ValueError(f"not a metric at K: {base!r}")
