"""Typed configuration per command, loaded from YAML and merged with the CLI.

Precedence, lowest first: dataclass defaults < ``--config`` files (in order)
< ``--set key=value`` < explicit CLI flags. Keys are dotted paths into
sections (``model.rank``, ``runtime.threads``); the layout is documented in
``docs/config.md``. Later issues add commands by subclassing
:class:`BaseConfig` and decorating with :func:`register`.

Only yaml and the standard library are imported here: ``--help`` and config
errors must not pay for numpy or h5py.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from mfcli.errors import ConfigError, MfcliError

FORMATS = ("auto", "mtx", "csv", "h5", "mat")
DUPLICATES = ("sum", "last", "error")
DTYPES = ("float32", "float64")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# Numbers PyYAML (YAML 1.1) leaves as strings, e.g. 1e-4 (no dot).
NUMBER_LITERAL = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def option(
    default: Any,
    *,
    help: str,
    choices: tuple[str, ...] | None = None,
    min: int | float | None = None,
    above: int | float | None = None,
    auto: bool = False,
) -> Any:
    """A config field with its help text and validation rules.

    ``min`` is an inclusive lower bound, ``above`` an exclusive one (``above=0``:
    a positive number). ``auto=True`` lets users write ``auto`` for None (e.g.
    ``threads: auto``).
    """
    meta = {"help": help, "choices": choices, "min": min, "above": above, "auto": auto}
    return field(default=default, metadata=meta)


def section(cls: type) -> Any:
    """A nested section field (a frozen dataclass of options)."""
    return field(default_factory=cls, metadata={"section": True})


# ------------------------------------------------------------------ sections
@dataclass(frozen=True)
class InputSection:
    """How to read the input matrix (mirrors :class:`mfcli.io.ReadOptions`)."""

    path: str | None = option(
        None, help="input file; '-' is stdin; 'file.h5:/object' names an HDF5 object"
    )
    format: str = option("auto", choices=FORMATS, help="input format (auto: suffix, then content)")
    dataset: str | None = option(None, help="object path inside an HDF5 input")
    sep: str | None = option(None, auto=True, help="CSV separator; null sniffs it")
    header: bool | None = option(None, auto=True, help="CSV header line; null detects it")
    columns: str | None = option(None, help="CSV columns user,item,rating[,time] by name or index")
    duplicates: str | None = option(
        None, choices=DUPLICATES, help="duplicate entries: sum|last|error; null: format default"
    )
    row_labels: str | None = option(None, help="file with one row label per line")
    col_labels: str | None = option(None, help="file with one column label per line")


@dataclass(frozen=True)
class OutputSection:
    """Where the result goes."""

    path: str | None = option(None, help="result file (.h5)")
    force: bool = option(False, help="overwrite an existing output file")


@dataclass(frozen=True)
class ModelSection:
    """What is fitted; solver commands extend it with their own options."""

    rank: int = option(10, min=1, help="number of factors k")
    dtype: str = option("float32", choices=DTYPES, help="floating point type of values and factors")


@dataclass(frozen=True)
class RuntimeSection:
    """How the run executes; never changes the factors (see the guide, section 5)."""

    seed: int = option(0, min=0, help="random seed")
    threads: int | None = option(None, min=1, auto=True, help="threads; null: scheduler or cores")
    scheduler: str | None = option(
        None,
        help="Dask scheduler (tcp://HOST:PORT, a scheduler .json file, or local:N); "
        "null: $MFCLI_SCHEDULER, else this process",
    )
    checkpoint: str | None = option(
        None, help="als, nmf, sgd: save the fit's state to this .h5 as it goes (and on a signal)"
    )
    checkpoint_every: int = option(1, min=1, help="iterations (sgd: epochs) between checkpoints")


# ------------------------------------------------------------------- configs
@dataclass(frozen=True)
class BaseConfig:
    """Options every command shares. Subclasses add sections or extend them."""

    command: ClassVar[str] = ""
    # CLI parameter name -> config key, so the CLI can pass flags by name.
    FLAGS: ClassVar[dict[str, str]] = {
        "input": "input.path",
        "format": "input.format",
        "dataset": "input.dataset",
        "sep": "input.sep",
        "header": "input.header",
        "columns": "input.columns",
        "duplicates": "input.duplicates",
        "row_labels": "input.row_labels",
        "col_labels": "input.col_labels",
        "output": "output.path",
        "force": "output.force",
        "rank": "model.rank",
        "k": "model.rank",
        "dtype": "model.dtype",
        "seed": "runtime.seed",
        "threads": "runtime.threads",
        "scheduler": "runtime.scheduler",
        "checkpoint": "runtime.checkpoint",
        "checkpoint_every": "runtime.checkpoint_every",
    }

    input: InputSection = section(InputSection)
    output: OutputSection = section(OutputSection)
    model: ModelSection = section(ModelSection)
    runtime: RuntimeSection = section(RuntimeSection)

    def validate(self) -> None:
        """Cross-field checks; subclasses extend it. Raises ConfigError."""

    def get(self, key: str) -> Any:
        """The value of a dotted key, e.g. ``config.get("model.rank")``."""
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict, ``command`` first."""
        head = {"command": self.command} if self.command else {}
        return {**head, **dataclasses.asdict(self)}

    def read_options(self):
        """The :class:`mfcli.io.ReadOptions` for the input section.

        Values are read in ``model.dtype`` so the solver needs no copy.
        """
        from mfcli.io.options import ReadOptions

        i = self.input
        return ReadOptions(
            format=i.format,
            dataset=i.dataset,
            sep=i.sep,
            header=i.header,
            columns=i.columns,
            duplicates=i.duplicates,
            dtype=self.model.dtype,
            row_labels=i.row_labels,
            col_labels=i.col_labels,
        )


REGISTRY: dict[str, type[BaseConfig]] = {}
C = typing.TypeVar("C", bound=BaseConfig)


def register(name: str):
    """Class decorator: ``@register("svd")`` makes the config of ``mfcli svd``."""

    def deco(cls: type[C]) -> type[C]:
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise ValueError(f"config for command {name!r} registered twice")
        cls.command = name
        REGISTRY[name] = cls
        return cls

    return deco


def config_class(command: str) -> type[BaseConfig]:
    """The registered config class of ``command``; ConfigError if unknown."""
    try:
        return REGISTRY[command]
    except KeyError:
        raise ConfigError(
            f"unknown command {command!r}", hint=suggest(command, list(REGISTRY))
        ) from None


@dataclass(frozen=True)
class InfoSection:
    """Options of ``mfcli info``."""

    env: bool = option(False, help="also show threads, BLAS and versions")


@register("info")
@dataclass(frozen=True)
class InfoConfig(BaseConfig):
    """``mfcli info``: describe an input matrix or a result file."""

    FLAGS: ClassVar[dict[str, str]] = {**BaseConfig.FLAGS, "env": "info.env"}

    info: InfoSection = section(InfoSection)


# ------------------------------------------------------------------- schema
@dataclass(frozen=True)
class _Spec:
    key: str
    base: type | None  # None for a section
    optional: bool = False
    meta: typing.Mapping[str, Any] = dataclasses.field(default_factory=dict)


@functools.cache
def schema_of(cls: type) -> dict[str, _Spec]:
    """Dotted key -> spec for every section and leaf of ``cls``, in order."""
    out: dict[str, _Spec] = {}

    def walk(c: type, prefix: str) -> None:
        for f in dataclasses.fields(c):
            key = prefix + f.name
            if f.metadata.get("section"):
                out[key] = _Spec(key, None)
                walk(f.default_factory, key + ".")
                continue
            base, optional = _unwrap(_leaf_type(f), key)
            out[key] = _Spec(key, base, optional, f.metadata)

    walk(cls, "")
    return out


def _leaf_type(f: dataclasses.Field) -> Any:
    # Leaf annotations are builtins (``int``, ``str | None``), so they evaluate
    # anywhere; sections are found by their default_factory, which also works
    # for classes defined inside functions.
    if isinstance(f.type, str):
        return eval(f.type, {"__builtins__": __builtins__}, {})
    return f.type


def _unwrap(hint: Any, key: str) -> tuple[type, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and rest[0] in (bool, int, float, str):
            return rest[0], len(rest) < len(args)
    elif hint in (bool, int, float, str):
        return hint, False
    raise TypeError(f"config field {key}: unsupported type {hint!r}")


def keys(cls: type[BaseConfig]) -> list[str]:
    """All dotted leaf keys of a config class, in declaration order."""
    return [k for k, s in schema_of(cls).items() if s.base is not None]


def describe(cls: type[BaseConfig]) -> list[tuple[str, Any, str]]:
    """(key, default, help) for every leaf, for docs and ``--help`` text."""
    defaults = cls()
    return [(k, defaults.get(k), schema_of(cls)[k].meta.get("help", "")) for k in keys(cls)]


# ---------------------------------------------------------------- coercion
class _Source:
    """Where values come from, so errors can name the file and line."""

    def __init__(self, path=None, lines=None, prefix="") -> None:
        self.path = path
        self.lines: dict[tuple, int] = lines or {}
        self.prefix = prefix

    def error(self, message: str, parts: tuple = (), hint: str | None = None) -> ConfigError:
        line = None
        for n in range(len(parts), 0, -1):  # the nearest enclosing key with a line
            line = self.lines.get(tuple(parts[:n]))
            if line:
                break
        return ConfigError(self.prefix + message, path=self.path, line=line, hint=hint)


def _coerce(spec: _Spec, value: Any, source: _Source, parts: tuple) -> Any:
    """Check and convert one value; raises ConfigError naming key and value."""
    meta = spec.meta
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if meta.get("auto") and isinstance(value, str) and value.lower() == "auto":
        value = None
    if value is None:
        if spec.optional:
            return None
        raise source.error(f"{spec.key}: expected {_expected(spec)}, got null", parts)
    base = spec.base
    ok = isinstance(value, base) and not (base is not bool and isinstance(value, bool))
    if base is float and not ok:
        if isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        elif isinstance(value, str) and NUMBER_LITERAL.match(value.strip()):
            value, ok = float(value), True  # PyYAML reads 1e-4 as a string
    if not ok:
        hint = "quote the value" if base is str else None
        raise source.error(
            f"{spec.key}: expected {_expected(spec)}, got {_show(value)}", parts, hint
        )
    choices = meta.get("choices")
    if choices and value not in choices:
        raise source.error(
            f"{spec.key}: expected one of {', '.join(choices)}, got {_show(value)}",
            parts,
            suggest(str(value), list(choices)),
        )
    if base is float and math.isnan(value):
        raise source.error(f"{spec.key}: expected {_expected(spec)}, got nan", parts)
    low = meta.get("min")
    if low is not None and value < low:
        raise source.error(f"{spec.key}: must be >= {low}, got {value}", parts)
    above = meta.get("above")
    if above is not None and not value > above:
        raise source.error(f"{spec.key}: must be > {above}, got {value}", parts)
    return value


def _expected(spec: _Spec) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    text = names[spec.base]
    if spec.meta.get("min") is not None:
        text += f" >= {spec.meta['min']}"
    if spec.meta.get("above") is not None:
        text += f" > {spec.meta['above']}"
    if spec.optional:
        text += " or null" + (" (auto)" if spec.meta.get("auto") else "")
    return text


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return yaml.safe_dump(value).split("\n")[0]
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


def suggest(word: str, candidates: list[str]) -> str | None:
    """A "did you mean ..." hint for a misspelt key or choice, or None."""
    match = difflib.get_close_matches(word, candidates, n=2, cutoff=0.6)
    return _did_you_mean(match)


def _did_you_mean(matches: list[str]) -> str | None:
    if not matches:
        return None
    return "did you mean " + " or ".join(f"'{m}'" for m in matches) + "?"


def _unknown_key_hint(key: str, cls: type) -> str:
    """Did-you-mean for an unknown dotted key: same section first, then any leaf."""
    schema = schema_of(cls)
    parent, _, leaf = key.rpartition(".")
    siblings = {
        k.rpartition(".")[2]: k for k in [*schema, "command"] if k.rpartition(".")[0] == parent
    }
    close = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.6)
    if close:
        return _did_you_mean([siblings[close[0]]])
    leaves = sorted({k.rpartition(".")[2] for k in keys(cls)})
    close = difflib.get_close_matches(leaf, leaves, n=1, cutoff=0.75)
    if close:
        return _did_you_mean([k for k in keys(cls) if k.rpartition(".")[2] == close[0]])
    command = f"mfcli {cls.command} " if cls.command else "mfcli <command> "
    return f"{command}--print-config lists every key"


def collect_layer(cls, mapping, source, out, parts=(), prefix="") -> None:
    """Flatten a (nested or dotted) mapping into ``out`` as checked values."""
    schema = schema_of(cls)
    for raw, value in mapping.items():
        here = (*parts, raw)
        if not isinstance(raw, str):
            raise source.error(f"keys must be strings, got {_show(raw)}", here)
        key = prefix + raw
        if key == "command":
            _check_command(cls, value, source, here)
            continue
        spec = schema.get(key)
        if spec is None:
            raise source.error(f"unknown key '{key}'", here, _unknown_key_hint(key, cls))
        if spec.base is None:
            if value is None:  # an empty section
                continue
            if not isinstance(value, dict):
                raise source.error(
                    f"'{key}' is a section: expected a mapping, got {_show(value)}", here
                )
            collect_layer(cls, value, source, out, here, key + ".")
            continue
        if key in out:  # e.g. both 'model.rank:' and 'model: {rank: }'
            raise source.error(f"key '{key}' given twice", here)
        out[key] = _coerce(spec, value, source, here)


def _check_command(cls, value, source: _Source, parts: tuple) -> None:
    if not isinstance(value, str):
        raise source.error(f"command: expected a string, got {_show(value)}", parts)
    if cls.command and value != cls.command:
        raise source.error(
            f"this config is for 'mfcli {value}', not 'mfcli {cls.command}'",
            parts,
            f"run mfcli {value}, or remove the 'command' key",
        )


# ------------------------------------------------------------------- YAML
def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML config file (or the ``/config`` of a result ``.h5``) as a dict.

    Only ``yaml.safe_load`` semantics: tags such as ``!!python/object`` are
    refused. An empty file is an empty mapping.

    Raises
    ------
    ConfigError
        exit 2: missing file, invalid YAML (with the line), a top level that is
        not a mapping, duplicate keys, or an ``.h5`` that is not an mfcli result.
    """
    return load_with_source(path)[0]


def load_with_source(path: str | os.PathLike) -> tuple[dict[str, Any], _Source]:
    """:func:`load_yaml`, and the source that later errors name (it keeps each key's line)."""
    path = os.fspath(path)
    text, shown, replay = _read_text(path)
    source = _Source(shown)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        if node is not None:
            _lines(node, (), source)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise source.error(
            f"expected a mapping of keys at the top, got {_show(data)}",
            hint="write key: value pairs, e.g. model: {rank: 10}",
        )
    if replay:  # a replayed result never carries --force
        data.pop("output.force", None)
        if isinstance(data.get("output"), dict):
            data["output"].pop("force", None)
    return data, source


def _read_text(path: str) -> tuple[str, str, bool]:
    """YAML text, the name errors show, and whether it came from a result ``.h5``."""
    if not os.path.exists(path):
        raise ConfigError("config file not found", path=path, hint="check the path")
    if os.path.isdir(path):
        raise ConfigError("config path is a directory", path=path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror or exc}", path=path) from None
    if raw.startswith(_HDF5_MAGIC):
        from mfcli.io.results import read_config_text

        try:
            return read_config_text(path), f"{path}:/config", True
        except MfcliError as exc:
            raise ConfigError(exc.message, path=path, hint=exc.hint) from None
    try:
        return raw.decode("utf-8-sig"), path, False
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("config is not UTF-8 text", path=path, line=line) from None


def _lines(node, parts: tuple, source: _Source) -> None:
    """Record the line of every mapping key and refuse duplicate keys."""
    if not isinstance(node, yaml.MappingNode):
        return
    seen: set[str] = set()
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
            continue
        key = key_node.value
        here = (*parts, key)
        source.lines.setdefault(here, key_node.start_mark.line + 1)
        if key in seen:
            raise ConfigError(
                f"duplicate key '{'.'.join(here)}'",
                path=source.path,
                line=key_node.start_mark.line + 1,
            )
        seen.add(key)
        _lines(value_node, here, source)


def _yaml_error(exc: yaml.YAMLError, source: _Source) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    hint = None
    if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
        tag = re.search(r"'([^']*)'", problem)
        problem = f"YAML tag {tag.group(1) if tag else ''!r} is not allowed"
        hint = "mfcli reads plain YAML only, without Python tags"
    return ConfigError(f"invalid YAML: {problem}", path=source.path, line=line, hint=hint)


def to_yaml(config: BaseConfig) -> str:
    """The config as YAML that :func:`load_yaml` + :func:`resolve` read back equal.

    Order is stable: ``command``, then sections and keys in declaration order.
    """
    import mfcli

    name = config.command or "base"
    header = f"# mfcli {mfcli.__version__} resolved config for '{name}'\n"
    body = yaml.safe_dump(
        config.to_dict(), sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return header + body


# ---------------------------------------------------------------- resolve
def parse_set_item(item: str, cls: type[BaseConfig]) -> tuple[str, Any]:
    """``"model.rank=32"`` -> ``("model.rank", 32)``; values are YAML scalars.

    String options take the text as written (so ``input.sep=|`` and
    ``input.dataset=yes`` mean what they say) unless it is quoted or ``null``.
    """
    key, eq, raw = item.partition("=")
    key = key.strip()
    source = _Source(prefix=f"--set {item}: ")
    if not eq or not key:
        raise source.error("expected key=value", hint="e.g. --set model.rank=32")
    spec = schema_of(cls).get(key)
    text = raw.strip()
    if spec is not None and spec.base is str and not _quoted(text):
        if text in ("", "~", "null", "Null", "NULL"):
            return key, None
        return key, raw
    try:
        return key, yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        raise source.error(f"cannot parse the value {raw!r}", hint="quote it") from None


def _quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""


def resolve(
    cls: type[C],
    config_files: typing.Sequence[str | os.PathLike] = (),
    set_items: typing.Sequence[str] = (),
    explicit: typing.Mapping[str, Any] | None = None,
) -> C:
    """Merge every layer into one validated config of type ``cls``.

    Parameters
    ----------
    cls : a config class (``BaseConfig`` or a registered subclass)
    config_files : YAML files or result ``.h5`` files, later ones win
    set_items : ``--set key=value`` strings, later ones win
    explicit : only the CLI flags the user actually passed, by dotted key or
        by CLI parameter name (``cls.FLAGS``); None values mean "not given"

    Raises
    ------
    ConfigError
        exit 2, naming the file and line, the ``--set`` item or the key.
    """
    flat: dict[str, Any] = {}
    for path in config_files:
        data, source = load_with_source(path)
        layer: dict[str, Any] = {}
        collect_layer(cls, data, source, layer)
        flat.update(layer)
    for item in set_items:
        key, value = parse_set_item(item, cls)
        layer = {}
        collect_layer(cls, {key: value}, _Source(prefix=f"--set {item}: "), layer)
        flat.update(layer)
    flags = {}
    for name, value in (explicit or {}).items():
        if value is not None:
            flags[cls.FLAGS.get(name, name)] = value
    layer = {}
    collect_layer(cls, flags, _Source(prefix="command line: "), layer)
    flat.update(layer)
    config = build_config(cls, flat)
    check(config)
    return config


def build_config(cls: type, flat: dict[str, Any], prefix: str = "") -> Any:
    """An instance of ``cls`` from checked dotted values (defaults for the rest)."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        if f.metadata.get("section"):
            kwargs[f.name] = build_config(f.default_factory, flat, key + ".")
        elif key in flat:
            kwargs[f.name] = flat[key]
    return cls(**kwargs)


def check(config: BaseConfig) -> None:
    """Validate every value of a config (also one built in Python) and cross-field rules."""
    schema = schema_of(type(config))
    source = _Source()
    for key, spec in schema.items():
        if spec.base is not None:
            _coerce(spec, config.get(key), source, ())
    config.validate()


def command_of(config_files: typing.Sequence[str | os.PathLike]) -> str | None:
    """The ``command`` the config files name (the last one wins), for ``mfcli run``."""
    command = None
    for path in config_files:
        data, source = load_with_source(path)
        if "command" in data:
            _check_command(BaseConfig, data["command"], source, ("command",))
            command = data["command"]
    return command


@dataclass(frozen=True)
class GenerateSection:
    """Options of ``mfcli generate``; null means the kind's default."""

    kind: str | None = option(
        None,
        choices=("ratings", "implicit", "lowrank", "lowrank-sparse", "docterm"),
        help="what to generate",
    )
    rank: int | None = option(None, min=1, help="rank of the planted structure; topics")
    rows: int | None = option(None, min=1, help="rows: users, or documents for docterm")
    cols: int | None = option(None, min=1, help="columns: items")
    nnz: int | None = option(None, min=0, help="stored entries")
    noise: float | None = option(None, min=0, help="standard deviation of the noise")
    timestamps: bool | None = option(None, help="write a timestamp column")
    scale: str | None = option(None, help="ratings: LOW,HIGH")
    step: float | None = option(None, help="ratings: granularity")
    user_zipf: float | None = option(None, min=0, help="power-law exponent of row activity")
    item_zipf: float | None = option(None, min=0, help="power-law exponent of column popularity")
    counts: str | None = option(None, choices=("poisson", "geometric"), help="implicit counts")
    decimals: int | None = option(None, min=0, help="lowrank kinds: decimals kept")
    spectrum: str | None = option(None, help="lowrank kinds: singular values S1,S2,...")
    doc_length: float | None = option(None, help="docterm: mean words per document")
    format: str = option("auto", help="output format: auto|csv|tsv|mtx|h5")
    sep: str | None = option(None, help="CSV separator")
    header: bool = option(True, help="CSV header line")


@register("generate")
@dataclass(frozen=True)
class GenerateConfig(BaseConfig):
    """``mfcli generate``: seeded synthetic data; the YAML reproduces the file."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        **{
            name: f"generate.{name}"
            for name in (
                "kind", "rank", "rows", "cols", "nnz", "noise", "timestamps", "scale", "step",
                "user_zipf", "item_zipf", "counts", "decimals", "spectrum", "doc_length",
                "sep", "header",
            )
        },
        "format": "generate.format",
    }  # fmt: skip

    generate: GenerateSection = section(GenerateSection)


# ------------------------------------------------------------------- split
SPLIT_STRATEGIES = ("random", "temporal", "user", "leave-k-out", "kfold")
# Which split.* options each strategy takes (others must stay null/false).
SPLIT_OPTIONS = {
    "random": ("test_frac", "validation_frac"),
    "temporal": ("test_frac", "validation_frac", "cut_time", "per_user", "min_train"),
    "user": ("test_frac", "validation_frac", "min_train"),
    "leave-k-out": ("leave_k", "validation_frac", "min_train"),
    "kfold": ("folds", "fold"),
}


@dataclass(frozen=True)
class SplitSection:
    """Options of ``mfcli split``; null means the strategy's default."""

    strategy: str = option("random", choices=SPLIT_STRATEGIES, help="how entries are assigned")
    test_frac: float | None = option(
        None, help="share of the entries (per user: of each user's) for test; null: 0.2"
    )
    validation_frac: float | None = option(
        None, help="share for a validation part, carved like test; null: 0"
    )
    cut_time: str | None = option(
        None, help="temporal: entries at or after this time (number or ISO date) are test"
    )
    per_user: bool = option(False, help="temporal: each user's newest share is test")
    min_train: int | None = option(
        None, min=0, help="per-user strategies: entries each user keeps in train; null: 1"
    )
    leave_k: int | None = option(None, min=1, help="leave-k-out: newest k per user; null: 1")
    folds: int | None = option(None, min=2, help="kfold: number of folds; null: 5")
    fold: int | None = option(None, min=0, help="kfold: write only this fold (0-based)")

    def applicable(self) -> tuple[str, ...]:
        return SPLIT_OPTIONS[self.strategy]


@register("split")
@dataclass(frozen=True)
class SplitConfig(BaseConfig):
    """``mfcli split``: seeded train/validation/test files in the input's own format."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        **{
            name: f"split.{name}"
            for name in (
                "strategy", "test_frac", "validation_frac", "cut_time", "per_user",
                "min_train", "leave_k", "folds", "fold",
            )
        },
    }  # fmt: skip

    split: SplitSection = section(SplitSection)

    def validate(self) -> None:
        s = self.split
        allowed = s.applicable()
        for name in SPLIT_OPTIONS["temporal"] + ("leave_k", "folds", "fold"):
            value = getattr(s, name)
            if value not in (None, False) and name not in allowed:
                raise ConfigError(
                    f"split.{name} does not apply to the {s.strategy} strategy",
                    hint="see 'mfcli split --help' for which options each strategy takes",
                )
        for name, low_open in (("test_frac", True), ("validation_frac", False)):
            value = getattr(s, name)
            if value is not None and not ((0 < value if low_open else 0 <= value) and value < 1):
                bounds = "0 < x < 1" if low_open else "0 <= x < 1"
                raise ConfigError(f"split.{name} must be in {bounds}, got {value:g}")
        test = s.test_frac
        if test is None:
            test = 0.2 if "test_frac" in allowed and s.cut_time is None else 0.0
        if test + (s.validation_frac or 0.0) >= 1:
            raise ConfigError(
                "split.test_frac + split.validation_frac must be below 1, got "
                f"{test + (s.validation_frac or 0.0):g}",
                hint="leave some entries for train",
            )
        if s.cut_time is not None and s.per_user:
            raise ConfigError(
                "split.cut_time and split.per_user exclude each other",
                hint="a time cut is global; per user, the newest --test-frac is test",
            )
        if s.cut_time is not None and s.test_frac is not None:
            raise ConfigError(
                "split.cut_time and split.test_frac exclude each other",
                hint="the time cut decides what is test; drop one of them",
            )
        if s.strategy == "temporal" and not s.per_user and s.min_train is not None:
            raise ConfigError(
                "split.min_train applies per user: add --per-user (or use --strategy user)"
            )
        if s.fold is not None and s.fold >= (s.folds or 5):
            raise ConfigError(
                f"split.fold must be below split.folds ({s.folds or 5}), got {s.fold}",
                hint="folds are numbered from 0",
            )


# -------------------------------------------------------------------- eval
COLD_START = ("drop", "mean", "error")
DEFAULT_METRICS = "rmse,mae,precision@10,recall@10,ndcg@10"


@dataclass(frozen=True)
class EvalSection:
    """Options of ``mfcli eval``; the test file is ``input.path``."""

    model: str | None = option(None, help="the result file (.h5) to score")
    train: str | None = option(
        None, help="training file (read like the test file); null: the model's stored /train"
    )
    metrics: str = option(DEFAULT_METRICS, help="comma-separated metrics, e.g. rmse,ndcg@10,auc")
    relevance_threshold: float | None = option(
        None, help="test entries with value >= this are relevant for ranking; null: all are"
    )
    cold_start: str = option(
        "drop", choices=COLD_START, help="test users/items unseen in training: drop|mean|error"
    )
    fail_if: str | None = option(
        None, help="comma-separated quality gates, e.g. 'rmse>0.95,ndcg@10<0.1' (exit 3)"
    )
    write: bool = option(False, help="record the metrics in the model's /metrics")


@register("eval")
@dataclass(frozen=True)
class EvalConfig(BaseConfig):
    """``mfcli eval``: score a result file on held-out data."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        "test": "input.path",
        "model_path": "eval.model",
        **{
            name: f"eval.{name}"
            for name in (
                "train", "metrics", "relevance_threshold", "cold_start", "fail_if", "write",
            )
        },
    }  # fmt: skip

    eval: EvalSection = section(EvalSection)

    def validate(self) -> None:
        from mfcli.evaluate.metrics import parse_fail_if, parse_metrics

        metrics = parse_metrics(self.eval.metrics)
        names = {str(m) for m in metrics}
        for text in _gate_list(self.eval.fail_if):
            gate = parse_fail_if(text)
            if gate.metric not in names:
                raise ConfigError(
                    f"eval.fail_if {text!r}: {gate.metric} is not among the metrics computed",
                    hint=f"add it: --metrics {self.eval.metrics},{gate.metric}",
                )

    def gates(self) -> list[str]:
        """The ``fail_if`` conditions, one string each."""
        return _gate_list(self.eval.fail_if)


def _gate_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# --------------------------------------------------------------------- svd
SVD_METHODS = ("randomized", "lanczos")


@dataclass(frozen=True)
class SvdSection:
    """Options of ``mfcli svd``; null means the solver's default."""

    method: str = option(
        "randomized", choices=SVD_METHODS, help="randomized (HMT range finder) or lanczos (tight)"
    )
    oversample: int = option(10, min=0, help="randomized: extra columns of the range finder")
    power_iters: int | None = option(
        None, min=0, help="randomized: power iterations; null: the solver's default"
    )
    tol: float | None = option(None, min=0, help="lanczos / missing: convergence tolerance")
    max_iter: int | None = option(None, min=1, help="lanczos / missing: iteration limit")
    center: bool = option(False, help="subtract column means (PCA) without densifying")
    missing: bool = option(
        False, help="fit only the stored entries (soft-impute), e.g. to complete ratings"
    )
    shrink: float | None = option(
        None, min=0, help="missing: soft threshold on the singular values; null: default"
    )


@register("svd")
@dataclass(frozen=True)
class SvdConfig(BaseConfig):
    """``mfcli svd``: truncated SVD / PCA, or soft-impute of a matrix with missing entries."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        **{
            name: f"svd.{name}"
            for name in (
                "method", "oversample", "power_iters", "tol", "max_iter", "center", "missing",
                "shrink",
            )
        },
    }  # fmt: skip

    svd: SvdSection = section(SvdSection)

    def validate(self) -> None:
        s = self.svd
        if s.missing and s.center:
            raise ConfigError(
                "svd.center and svd.missing exclude each other",
                hint="with --missing the observed mean is removed already",
            )
        if s.shrink is not None and not s.missing:
            raise ConfigError("svd.shrink applies to --missing only", hint="add --missing")


# --------------------------------------------------------------------- nmf
NMF_SOLVERS = ("hals", "mu")
NMF_LOSSES = ("frobenius", "kl")
NMF_INITS = ("auto", "nndsvd", "nndsvda", "nndsvdar", "random")
NMF_MASKS = ("none", "observed")


@dataclass(frozen=True)
class NmfSection:
    """Options of ``mfcli nmf``."""

    solver: str = option(
        "hals", choices=NMF_SOLVERS, help="hals (coordinate descent) or mu (multiplicative updates)"
    )
    loss: str = option(
        "frobenius", choices=NMF_LOSSES, help="frobenius (squared error) or kl (generalized KL)"
    )
    init: str = option(
        "auto", choices=NMF_INITS, help="auto: nndsvda, or random with mask observed; seeded"
    )
    mask: str = option(
        "none", choices=NMF_MASKS, help="none: zeros are data; observed: fit stored entries only"
    )
    l1_w: float = option(0.0, min=0, help="L1 penalty on W (row factors): l1_w * sum(W)")
    l1_h: float = option(0.0, min=0, help="L1 penalty on H (column factors): l1_h * sum(H)")
    l2_w: float = option(0.0, min=0, help="L2 penalty on W: 0.5 * l2_w * ||W||^2")
    l2_h: float = option(0.0, min=0, help="L2 penalty on H: 0.5 * l2_h * ||H||^2")
    tol: float = option(1e-4, min=0, help="relative objective decrease to stop at")
    max_iter: int = option(200, min=1, help="iteration limit")
    top: int = option(10, min=0, help="labels kept (and printed) per component; 0: none")


@register("nmf")
@dataclass(frozen=True)
class NmfConfig(BaseConfig):
    """``mfcli nmf``: non-negative matrix factorization X ~ W H^T."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        **{
            name: f"nmf.{name}"
            for name in (
                "solver", "loss", "init", "mask", "l1_w", "l1_h", "l2_w", "l2_h", "tol",
                "max_iter", "top",
            )
        },
    }  # fmt: skip

    nmf: NmfSection = section(NmfSection)


# --------------------------------------------------------------------- als
ALS_SOLVERS = ("cg", "cholesky")
ALS_CONFIDENCE = ("linear", "log")
REG_SCALINGS = ("auto", "none", "count")


@dataclass(frozen=True)
class AlsSection:
    """Options of ``mfcli als``; rows are users (``transpose`` when they are items)."""

    implicit: bool = option(False, help="implicit feedback (Hu-Koren-Volinsky confidence)")
    alpha: float = option(1.0, min=0, help="implicit: confidence scale alpha")
    confidence: str = option(
        "linear", choices=ALS_CONFIDENCE, help="implicit: 1 + alpha r, or 1 + alpha log(1 + r/eps)"
    )
    eps: float = option(
        1.0, help="implicit, log confidence: the eps of log(1 + r/eps), > 0 (checked only there)"
    )
    solver: str = option("cg", choices=ALS_SOLVERS, help="cg (conjugate gradient) or cholesky")
    cg_steps: int = option(3, min=1, help="cg: steps per row and half-iteration")
    reg: float | None = option(
        None, min=0, help="lambda; null: 0.1 explicit, 0.01 implicit (the implicit library's)"
    )
    reg_scaling: str = option(
        "auto", choices=REG_SCALINGS,
        help="none: lambda; count: lambda x the row's entries (ALS-WR); auto: count explicit, "
        "none implicit",
    )  # fmt: skip
    biases: bool = option(True, help="explicit: user and item biases")
    iters: int = option(15, min=1, help="iterations (each solves users, then items)")
    transpose: bool = option(False, help="the file is items x users")
    validation: str | None = option(
        None, help="held-out file scored after every iteration; the best iteration is kept"
    )
    metric: str | None = option(
        None, help="early-stopping metric on validation; null: rmse explicit, ndcg@10 implicit"
    )
    patience: int | None = option(
        None, min=1, help="stop after this many iterations without improvement; keep the best"
    )


@register("als")
@dataclass(frozen=True)
class AlsConfig(BaseConfig):
    """``mfcli als``: alternating least squares, explicit or implicit feedback."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        **{
            name: f"als.{name}"
            for name in (
                "implicit", "alpha", "confidence", "eps", "solver", "cg_steps", "reg",
                "reg_scaling", "biases", "iters", "transpose", "validation", "metric", "patience",
            )
        },
    }  # fmt: skip

    als: AlsSection = section(AlsSection)

    def validate(self) -> None:
        a = self.als
        if a.patience is not None and not a.validation:
            raise ConfigError("als.patience needs a validation file", hint="add --validation FILE")
        if a.implicit and a.confidence == "log" and not a.eps > 0:
            raise ConfigError(
                f"als.eps (--eps) must be > 0 with the log confidence, got {a.eps}",
                hint="eps scales the counts: log(1 + r / eps)",
            )


# --------------------------------------------------------------------- sgd
SGD_SCHEDULES = ("constant", "decay", "adagrad")


@dataclass(frozen=True)
class SgdSection:
    """Options of ``mfcli sgd``; null means the solver's default."""

    lr: float | None = option(None, above=0, help="learning rate; null: the solver's default")
    reg: float | None = option(None, min=0, help="L2 on the factors; null: the solver's default")
    reg_bias: float | None = option(
        None, min=0, help="L2 on the biases; null: the solver's default"
    )
    reg_power: float | None = option(
        None, min=0, help="factor L2 per update is reg * n^-reg_power (n: the row's ratings)"
    )
    epochs: int = option(20, min=1, help="passes over the ratings")
    schedule: str | None = option(
        None, choices=SGD_SCHEDULES, help="learning-rate schedule; null: the solver's default"
    )
    decay: float | None = option(
        None, above=0, help="schedule decay: the factor on lr per epoch, <= 1 with schedule decay"
    )
    init_scale: float | None = option(
        None, min=0, help="scale of the seeded initial factors; null: the solver's default"
    )
    biases: bool = option(True, help="user and item biases (the global mean is always fitted)")
    blocks: int = option(8, min=1, help="blocks per side of the grid (fixed: results depend on it)")
    time_bins: int = option(0, min=0, help="time-aware biases over this many bins; 0: off")
    resume: str | None = option(None, help="continue from this result file with new ratings")
    validation: str | None = option(
        None, help="held-out file scored after every epoch; the best epoch is kept"
    )
    metric: str | None = option(None, help="early-stopping metric on validation; null: rmse")
    patience: int | None = option(
        None, min=1, help="stop after this many epochs without improvement; keep the best"
    )


@register("sgd")
@dataclass(frozen=True)
class SgdConfig(BaseConfig):
    """``mfcli sgd``: biased matrix factorization by parallel, deterministic SGD."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        **{
            name: f"sgd.{name}"
            for name in (
                "lr", "reg", "reg_bias", "reg_power", "epochs", "schedule", "decay", "init_scale",
                "biases", "blocks", "time_bins", "resume", "validation", "metric", "patience",
            )
        },
    }  # fmt: skip

    sgd: SgdSection = section(SgdSection)

    def validate(self) -> None:
        s = self.sgd
        if s.patience is not None and not s.validation:
            raise ConfigError("sgd.patience needs a validation file", hint="add --validation FILE")
        if s.decay is not None and s.decay > 1 and s.schedule in (None, "decay"):
            raise ConfigError(
                f"sgd.decay (--decay) must be at most 1 with the decay schedule, got {s.decay}",
                hint="the learning rate is lr * decay ** (epoch - 1)",
            )


# --------------------------------------------------------------- transform
@dataclass(frozen=True)
class TransformSection:
    """Options of ``mfcli transform``; the new rows are ``input.path``."""

    model: str | None = option(None, help="the fitted result file (.h5)")


@register("transform")
@dataclass(frozen=True)
class TransformConfig(BaseConfig):
    """``mfcli transform``: project new rows onto a fitted model (fold-in)."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        "model_path": "transform.model",
        "rows": "input.path",
    }

    transform: TransformSection = section(TransformSection)


# --------------------------------------------------------------- recommend
@dataclass(frozen=True)
class RecommendSection:
    """Options of ``mfcli recommend``; ``--from`` interactions are ``input.path``."""

    model: str | None = option(None, help="the fitted result file (.h5)")
    users: str | None = option(None, help="comma-separated user ids to recommend for")
    users_file: str | None = option(None, help="file with one user id per line")
    all: bool = option(False, help="recommend for every user of the model")
    n: int = option(10, min=1, help="items per user (neighbours per item)")
    exclude_seen: bool | None = option(
        None, help="drop the users' known items; null: when the model has /train (else a note)"
    )
    similar_items: str | None = option(
        None, help="comma-separated item ids: their nearest items by cosine of item factors"
    )


@register("recommend")
@dataclass(frozen=True)
class RecommendConfig(BaseConfig):
    """``mfcli recommend``: top-N items per user, or similar items, from a result file."""

    FLAGS: ClassVar[dict[str, str]] = {
        **BaseConfig.FLAGS,
        "model_path": "recommend.model",
        "user": "recommend.users",
        "users_file": "recommend.users_file",
        "all_users": "recommend.all",
        "n": "recommend.n",
        "exclude_seen": "recommend.exclude_seen",
        "similar_items": "recommend.similar_items",
        "from_file": "input.path",
    }

    recommend: RecommendSection = section(RecommendSection)

    def validate(self) -> None:
        r = self.recommend
        if r.similar_items is not None:
            users = r.users is not None or r.users_file is not None or r.all
            if users or self.input.path is not None:
                raise ConfigError(
                    "recommend.similar_items excludes the user options",
                    hint="ask for similar items or for users' recommendations, not both",
                )
            if r.exclude_seen is not None:
                raise ConfigError(
                    "recommend.exclude_seen applies to users, not to --similar-items",
                    hint="an item is never its own neighbour; drop --exclude-seen/--include-seen",
                )
        elif r.all and (r.users is not None or r.users_file is not None):
            raise ConfigError(
                "recommend.all excludes recommend.users and recommend.users_file",
                hint="use --all, or name the users with --user/--users",
            )
