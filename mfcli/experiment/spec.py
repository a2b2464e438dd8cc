"""The experiment file: what `mfcli run` reads, checked before any work starts.

Every method's parameter sets are resolved into full command configs here,
so a typo in the last trial of a grid fails in a second (exit 2, naming the
file and line) and not after an hour of fitting. Relative paths in the file
are relative to the file's own folder, so an experiment runs the same from
any working directory (a Makefile, a CI job, a batch script).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from mfcli.errors import ConfigError, UsageError

FIT_COMMANDS = ("svd", "nmf", "als", "sgd")
TOP_KEYS = (
    "name", "data", "input", "split", "eval", "select", "seed", "threads", "output", "methods",
)  # fmt: skip
METHOD_KEYS = ("command", "params", "grid", "random")
INPUT_KEYS = ("format", "dataset", "sep", "header", "columns", "duplicates", "row_labels",
              "col_labels")  # fmt: skip
EVAL_KEYS = ("metrics", "relevance_threshold", "cold_start")
LOWER_IS_BETTER = ("rmse", "mae")


@dataclass(frozen=True)
class Candidate:
    """One parameter set of a method: what was searched and the resolved config."""

    index: int
    searched: dict[str, Any]  # key -> value as written in grid/random ({} without a search)
    config: Any  # the command's resolved config (input and output paths filled per fit)


@dataclass(frozen=True)
class Method:
    name: str
    command: str
    params: dict[str, Any]  # as written
    search: str  # "none" | "grid" | "random"
    candidates: list[Candidate]


@dataclass(frozen=True)
class Experiment:
    path: str  # the experiment file
    name: str
    data: str  # the input file, resolved against the experiment's folder
    split: Any  # a resolved SplitConfig (its input.path is ``data``)
    metrics: str  # comma-separated, as mfcli eval takes them
    relevance_threshold: float | None
    cold_start: str
    select: str  # the metric that chooses among a method's parameter sets
    output: str
    methods: list[Method] = field(default_factory=list)
    read: dict[str, Any] = field(default_factory=dict)  # input.* options for every read
    raw: dict[str, Any] = field(default_factory=dict)  # the file's mapping as written

    @property
    def kfold(self) -> bool:
        return self.split.split.strategy == "kfold"

    @property
    def folds(self) -> int:
        return (self.split.split.folds or 5) if self.kfold else 1

    @property
    def has_validation(self) -> bool:
        return bool(self.split.split.validation_frac)

    @property
    def lower_is_better(self) -> bool:
        return self.select.split("@")[0] in LOWER_IS_BETTER


def load_experiment(path: str, output: str | None = None, threads: int | None = None) -> Experiment:
    """Read and check ``path``; ``output`` and ``threads`` (from the command line) win.

    Raises
    ------
    ConfigError : exit 2, naming the file and the line of the offending key
    """
    from mfcli.config import load_with_source

    data, source = load_with_source(path)
    return _Parser(path, data, source).experiment(output, threads)


def is_experiment(data: dict) -> bool:
    """An experiment has ``methods`` (or ``data``); a command config has ``command``."""
    return "methods" in data or ("command" not in data and "data" in data)


class _Parser:
    def __init__(self, path: str, data: dict, source) -> None:
        self.path = path
        self.data = data
        self.source = source
        self.folder = os.path.dirname(os.path.abspath(path))

    def error(self, message: str, parts: tuple = (), hint: str | None = None) -> ConfigError:
        return self.source.error(message, parts, hint)

    def experiment(self, output: str | None, threads: int | None) -> Experiment:
        from mfcli.config import suggest

        d = self.data
        for key in d:
            if key not in TOP_KEYS:
                raise self.error(
                    f"unknown key '{key}'",
                    (key,),
                    suggest(str(key), list(TOP_KEYS)) or "see docs/experiments.md",
                )
        if "data" not in d or not isinstance(d["data"], str) or not d["data"]:
            raise self.error("data: the input file is required", ("data",),
                             "e.g. data: ratings.csv (relative to this file)")  # fmt: skip
        name = d.get("name") or os.path.splitext(os.path.basename(self.path))[0]
        if not isinstance(name, str):
            raise self.error("name: expected a string", ("name",))
        data_path = self._path(d["data"])
        read = self._mapping("input", INPUT_KEYS)
        for key in ("row_labels", "col_labels"):
            if read.get(key):
                read[key] = self._path(read[key])
        self.read = read
        self.seed = self._int("seed", 0, low=0)
        self.threads = threads if threads is not None else self._int("threads", None, low=1)
        split = self._split(data_path)
        metrics, threshold, cold_start = self._eval()
        select = d.get("select", metrics.split(",")[0])
        if isinstance(select, str):
            select = self._metric_names(select, ("select",))
        if not isinstance(select, str) or select not in metrics.split(","):
            raise self.error(
                f"select: {select!r} is not among the metrics ({metrics})", ("select",),
                "select one of eval.metrics",
            )  # fmt: skip
        if output is None:
            raw = d.get("output", os.path.join("runs", name))
            if not isinstance(raw, str) or not raw:
                raise self.error("output: expected a folder name", ("output",))
            output = self._path(raw)
        methods = self._methods()
        exp = Experiment(
            path=self.path, name=name, data=data_path, split=split, metrics=metrics,
            relevance_threshold=threshold, cold_start=cold_start, select=select,
            output=output, methods=methods, read=read, raw=d,
        )  # fmt: skip
        self._check_search(exp)
        return exp

    # ------------------------------------------------------------- pieces
    def _path(self, raw: str) -> str:
        if raw == "-" or os.path.isabs(raw):
            return raw
        return os.path.normpath(os.path.join(self.folder, os.path.expanduser(raw)))

    def _mapping(self, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        from mfcli.config import suggest

        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            raise self.error(f"{key}: expected a mapping", (key,))
        for k in value:
            if k not in allowed:
                raise self.error(
                    f"unknown key '{key}.{k}'", (key, k), suggest(str(k), list(allowed))
                )
        return dict(value)

    def _int(self, key: str, default: int | None, low: int) -> int | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise self.error(f"{key}: expected an integer >= {low}, got {value!r}", (key,))
        return value

    def _split(self, data_path: str):
        from mfcli.config import SplitConfig

        raw = self.data.get("split") or {}
        if not isinstance(raw, dict):
            raise self.error("split: expected a mapping, e.g. {strategy: random, test_frac: 0.2}",
                             ("split",))  # fmt: skip
        raw = dict(raw)
        seed = raw.pop("seed", self.seed)
        layers = [
            ({"split": raw}, ()),
            ({"input": self.read}, ()),
            ({"runtime": {"seed": seed, "threads": self.threads}}, ("split",)),
        ]
        cfg = self._resolve(SplitConfig, layers, ("split",))
        return dataclasses.replace(cfg, input=dataclasses.replace(cfg.input, path=data_path))

    def _eval(self) -> tuple[str, float | None, str]:
        from mfcli.config import EvalConfig

        raw = self._mapping("eval", EVAL_KEYS)
        metrics = raw.get("metrics", "rmse,mae,precision@10,ndcg@10")
        if isinstance(metrics, list):
            metrics = ",".join(str(m) for m in metrics)
        raw["metrics"] = metrics
        where = ("eval", "metrics") if "metrics" in raw else ("eval",)
        cfg = self._resolve(EvalConfig, [({"eval": raw}, ())], where)
        return (
            self._metric_names(cfg.eval.metrics, where),
            cfg.eval.relevance_threshold,
            cfg.eval.cold_start,
        )

    def _metric_names(self, text: str, where: tuple) -> str:
        """Canonical names (``prec@10`` -> ``precision@10``); errors located in the file."""
        from mfcli.errors import MfcliError
        from mfcli.evaluate.metrics import parse_metrics

        try:
            return ",".join(str(m) for m in parse_metrics(text))
        except MfcliError as exc:
            raise self.error(f"{'.'.join(where)}: {exc.message}", where, exc.hint) from None

    def _methods(self) -> list[Method]:
        raw = self.data.get("methods")
        if not isinstance(raw, dict) or not raw:
            raise self.error(
                "methods: expected a mapping of name: {command, params, grid | random}",
                ("methods",), "e.g. methods: {sgd: {params: {rank: 20}}}",
            )  # fmt: skip
        return [self._method(str(name), spec) for name, spec in raw.items()]

    def _method(self, name: str, spec: Any) -> Method:
        from mfcli.config import config_class, suggest
        from mfcli.experiment import search

        here = ("methods", name)
        spec = spec or {}
        if not isinstance(spec, dict):
            raise self.error(f"methods.{name}: expected a mapping", here)
        for k in spec:
            if k not in METHOD_KEYS:
                raise self.error(f"unknown key 'methods.{name}.{k}'", (*here, k),
                                 suggest(str(k), list(METHOD_KEYS)))  # fmt: skip
        command = spec.get("command", name)
        if command not in FIT_COMMANDS:
            raise self.error(
                f"methods.{name}: unknown command {command!r}", (*here, "command"),
                f"set command: to one of {', '.join(FIT_COMMANDS)}",
            )  # fmt: skip
        if "grid" in spec and "random" in spec:
            raise self.error(f"methods.{name}: grid and random exclude each other", here)
        params = spec.get("params") or {}
        if not isinstance(params, dict):
            raise self.error(f"methods.{name}.params: expected a mapping", (*here, "params"))
        try:
            if "grid" in spec:
                kind, sets = "grid", search.grid(spec["grid"], (*here, "grid"))
            elif "random" in spec:
                kind, sets = "random", search.random_search(spec["random"], (*here, "random"))
            else:
                kind, sets = "none", [{}]
        except search.SearchError as exc:
            raise self.error(f"methods.{name}.{exc}", exc.parts) from None
        cls = config_class(command)
        where = "grid" if kind == "grid" else "random"
        candidates = []
        for i, values in enumerate(sets):
            layers = [
                ({"input": self.read}, ()),
                ({"runtime": {"seed": self.seed, "threads": self.threads}}, ()),
                (self._flags(cls, params, (*here, "params")), (*here, "params")),
            ]
            if values:
                parts = (*here, where) if kind == "grid" else (*here, "random", "space")
                layers.append((self._flags(cls, values, parts), parts))
            candidates.append(Candidate(i, values, self._resolve(cls, layers, here)))
        return Method(name, command, params, kind, candidates)

    def _flags(self, cls, mapping: dict, parts: tuple) -> dict:
        """Accept CLI names (``rank``, ``reg``) beside config keys (``model.rank``)."""
        from mfcli.config import schema_of

        schema = schema_of(cls)
        sections = {k.split(".")[0] for k in schema}
        out = {}
        for key, value in mapping.items():
            full = key
            if isinstance(key, str) and key not in schema and key.split(".")[0] not in sections:
                full = cls.FLAGS.get(key, key)
            owned = isinstance(full, str) and (
                full in ("input", "output") or full.startswith(("input.", "output."))
            )
            if owned:
                raise self.error(
                    f"{'.'.join(map(str, parts))}.{key}: the experiment sets this for every fit",
                    (*parts, key), "set data:, input: and output: at the top of the file",
                )  # fmt: skip
            if full != key and (*parts, key) in self.source.lines:
                self.source.lines[(*parts, full)] = self.source.lines[(*parts, key)]
            out[full] = value
        return out

    def _resolve(self, cls, layers: list[tuple[dict, tuple]], where: tuple):
        from mfcli.config import build_config, check, collect_layer

        flat: dict[str, Any] = {}
        for mapping, parts in layers:
            layer: dict[str, Any] = {}
            collect_layer(cls, mapping, self.source, layer, parts)
            flat.update(layer)
        try:
            config = build_config(cls, flat)
            check(config)
        except UsageError as exc:  # ConfigError, or a validate() that parses (metrics)
            if exc.path:
                raise
            raise self.error(f"{'.'.join(map(str, where))}: {exc.message}", where,
                             exc.hint) from None  # fmt: skip
        return config

    def _check_search(self, exp: Experiment) -> None:
        for m in exp.methods:
            if len(m.candidates) > 1 and not exp.kfold and not exp.has_validation:
                raise self.error(
                    f"methods.{m.name}: a search needs held-out data to choose on",
                    ("methods", m.name, m.search),
                    "set split.validation_frac (e.g. 0.1) or use split.strategy: kfold",
                )
