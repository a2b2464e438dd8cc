"""A naive per-user reference for every metric: plain loops over Python lists.

Independent of mfcli's kernels and NumPy code paths; it follows the written
definitions in docs/metrics.md. Coordinates are positions: a test row ``r``
is model user ``r`` when ``r < n_users`` (likewise items).
"""

from __future__ import annotations

import math


def reference_evaluate(
    user_factors,
    item_factors,
    test,
    train,
    ks,
    *,
    threshold=None,
    cold_start="drop",
    biases=None,
):
    """Metric values and counts.

    Parameters
    ----------
    user_factors, item_factors : lists of lists of floats
    test : list of (row, col, value) in test positions
    train : list of (row, col, value) in model positions, or None
    ks : list of K for the metrics at K
    biases : (global, user list, item list) or None

    Returns
    -------
    dict with "values" (name -> float) and counts
    """
    n_users, n_items = len(user_factors), len(item_factors)
    train_rows = {}
    train_cols = set()
    if train is not None:
        for r, c, _ in train:
            train_rows.setdefault(r, set()).add(c)
            train_cols.add(c)

    def score(u, i):
        total = 0.0
        for a, b in zip(user_factors[u], item_factors[i], strict=True):
            total += float(a) * float(b)
        if biases is not None:
            total += biases[0] + biases[1][u] + biases[2][i]
        return total

    def user_seen(r):
        return r < n_users and (train is None or r in train_rows)

    def item_seen(c):
        return c < n_items and (train is None or c in train_cols)

    out = {"values": {}}
    # ---- rating
    errors = []
    for r, c, v in test:
        if user_seen(r) and item_seen(c):
            errors.append(score(r, c) - v)
        elif cold_start == "mean":
            if biases is not None:
                guess = biases[0]
                if user_seen(r):
                    guess += biases[1][r]
                if item_seen(c):
                    guess += biases[2][c]
            else:
                guess = sum(v for _, _, v in train) / len(train)
            errors.append(guess - v)
    out["entries"] = len(errors)
    out["unseen_users"] = len({r for r, _, _ in test if not user_seen(r)})
    out["unseen_items"] = len({c for _, c, _ in test if not item_seen(c)})
    if errors:
        out["values"]["rmse"] = math.sqrt(sum(e * e for e in errors) / len(errors))
        out["values"]["mae"] = sum(abs(e) for e in errors) / len(errors)
    else:
        out["values"]["rmse"] = out["values"]["mae"] = math.nan

    # ---- ranking
    per_user = {}
    for r, c, v in test:
        if not user_seen(r):
            continue
        if threshold is not None and v < threshold:
            continue
        entry = per_user.setdefault(r, {"reachable": [], "unreachable": 0})
        if item_seen(c):
            if c not in train_rows.get(r, set()):
                entry["reachable"].append(c)
        elif cold_start == "mean":
            entry["unreachable"] += 1
    ranked_users = sorted(
        u for u, e in per_user.items() if len(e["reachable"]) + e["unreachable"] > 0
    )
    out["ranking_users"] = len(ranked_users)
    sums = {}
    listed = {k: set() for k in ks}
    aucs = []
    for u in ranked_users:
        reachable = per_user[u]["reachable"]
        n_relevant = len(reachable) + per_user[u]["unreachable"]
        candidates = [
            i
            for i in range(n_items)
            if i not in train_rows.get(u, set()) and (train is None or i in train_cols)
        ]
        ranking = sorted(candidates, key=lambda i, u=u: (-score(u, i), i))
        for k in ks:
            top = ranking[:k]
            listed[k].update(top)
            hits = [1 if i in reachable else 0 for i in top]
            n_hits = sum(hits)
            dcg = 0.0
            for pos, h in enumerate(hits):
                if h:
                    dcg += 1.0 / math.log2(pos + 2)
            ideal = 0.0
            for pos in range(min(k, n_relevant)):
                ideal += 1.0 / math.log2(pos + 2)
            ap = 0.0
            seen_hits = 0
            for pos, h in enumerate(hits):
                if h:
                    seen_hits += 1
                    ap += seen_hits / (pos + 1)
            ap /= min(k, n_relevant)
            for name, value in (
                (f"precision@{k}", n_hits / k),
                (f"recall@{k}", n_hits / n_relevant),
                (f"ndcg@{k}", dcg / ideal),
                (f"map@{k}", ap),
                (f"hit_rate@{k}", 1.0 if n_hits else 0.0),
            ):
                sums[name] = sums.get(name, 0.0) + value
        negatives = [i for i in candidates if i not in reachable]
        if negatives:
            wins = 0.0
            for p in reachable:
                for q in negatives:
                    sp, sq = score(u, p), score(u, q)
                    if sp > sq:
                        wins += 1.0
                    elif sp == sq:
                        wins += 0.5
            aucs.append(wins / (n_relevant * len(negatives)))
    for k in ks:
        for base in ("precision", "recall", "ndcg", "map", "hit_rate"):
            name = f"{base}@{k}"
            out["values"][name] = sums[name] / len(ranked_users) if ranked_users else math.nan
        out["values"][f"coverage@{k}"] = len(listed[k]) / n_items if ranked_users else math.nan
    out["values"]["auc"] = sum(aucs) / len(aucs) if aucs else math.nan
    out["auc_users"] = len(aucs)
    return out
