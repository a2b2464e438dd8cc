"""Replaying a result file: is the input still the file the result was fitted on?"""

from __future__ import annotations

import os
from collections.abc import Sequence


def check_replayed_input(cfg, config_files: Sequence[str | os.PathLike]) -> None:
    """Refuse (exit 65) to replay a result file whose input file has changed since.

    For every result ``.h5`` among ``config_files`` whose stored input is the
    input this run will read (``cfg.input.path``, the same string), the input
    file's current sha256 must equal the stored ``/provenance`` ``input_sha256``
    (for a directory or glob of parts: :func:`mfcli.io.parts.input_digest`, so
    a changed, added or removed part is refused).
    YAML files store no hash and are not checked; neither are stdin inputs,
    results without a stored hash, nor an input the user named anew (then the
    run is deliberately on other data). A missing input is left to the reader
    (exit 66).

    Raises
    ------
    InputDataError
        exit 65, naming the input file and the result file.
    """
    input_path = getattr(getattr(cfg, "input", None), "path", None)
    if not input_path or input_path == "-":
        return
    from mfcli.errors import InputDataError
    from mfcli.io.detect import split_object_path
    from mfcli.io.results import is_result_file, read_result, sha256_file

    file_path, _ = split_object_path(str(input_path))
    current = None
    for config in config_files:
        config = os.fspath(config)
        if not is_result_file(config):
            continue
        stored = read_result(config, load=("provenance",)).provenance
        if stored.get("input_path") != str(input_path) or not stored.get("input_sha256"):
            continue
        if not os.path.isfile(file_path) and not _has_parts(file_path):
            return  # the reader reports it (exit 66)
        if current is None:
            current = sha256_file(file_path)  # input_digest for a directory or glob of parts
        if current != stored["input_sha256"]:
            raise InputDataError(
                f"input changed since {config} was written "
                f"(sha256 {current[:12]}..., the result has {stored['input_sha256'][:12]}...)",
                path=file_path,
                hint="restore the input, or pass --allow-changed-input to fit the new data",
            )


def _has_parts(spec: str) -> bool:
    """A partitioned input with at least one part."""
    from mfcli.errors import MfcliError
    from mfcli.io.parts import is_partitioned, list_parts

    if not is_partitioned(spec):
        return False
    try:
        return bool(list_parts(spec))
    except MfcliError:
        return False  # no parts, mixed formats: the reader reports it
