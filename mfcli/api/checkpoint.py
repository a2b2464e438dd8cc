"""Checkpoints: a fit's state saved as it goes, so a killed batch job loses little.

A checkpoint is a result file like the final one (the factors of the last
whole iteration, its history, config and provenance: ``mfcli info``,
``eval`` and ``recommend`` take it as a model) plus a ``/checkpoint`` group
with what the solver needs to go on: the iteration reached, the planned
count, and solver state that is not a factor (the best validation iterate,
NMF's extrapolation state, SGD's accumulators and shuffle position).

``--checkpoint FILE`` rewrites FILE atomically every ``--checkpoint-every``
iterations and when SIGTERM or SIGINT arrives; the signal is held until the
iteration ends (a second one stops at once), the checkpoint written, and the
run exits 143 or 130. ``--resume FILE`` takes the config stored in FILE (as
``--config`` would) and continues after its iteration: for als and nmf the
final factors equal those of an uninterrupted run. A completed fit removes
its checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager

GROUP = "checkpoint"


def check_paths(cfg) -> None:
    """Refuse a checkpoint path that is the output, or an existing non-checkpoint file."""
    from mfcli.errors import OutputError, UsageError

    path = cfg.runtime.checkpoint
    if not path:
        return
    if cfg.output.path and os.path.abspath(path) == os.path.abspath(cfg.output.path):
        raise UsageError(
            "--checkpoint must differ from the output file",
            hint="e.g. --checkpoint run.ckpt.h5 -o model.h5",
        )
    if os.path.exists(path) and not is_checkpoint(path) and not cfg.output.force:
        raise OutputError(
            "exists and is not an mfcli checkpoint", path=path, hint="use another name or --force"
        )


def is_checkpoint(path) -> bool:
    from mfcli.io.results import is_result_file

    if not is_result_file(path):
        return False
    import h5py

    with h5py.File(path, "r") as f:
        return GROUP in f


def saver(cfg, build: Callable[[dict], tuple], matrix, threads, timer) -> Callable | None:
    """The ``checkpoint(iteration, state)`` hook for a solver, or None without --checkpoint.

    ``build(state)`` turns the solver's state into the model so far (a
    :class:`~mfcli.io.results.Result`) and what ``/checkpoint`` keeps; the
    provenance is the run's (``matrix``, ``threads``, ``timer``).
    """
    path = cfg.runtime.checkpoint
    if not path:
        return None
    every = cfg.runtime.checkpoint_every

    def save(iteration: int, state: Callable[[], dict]) -> None:
        from mfcli.api.common import provenance_of
        from mfcli.errors import Interrupted
        from mfcli.io.results import write_result
        from mfcli.runtime import pending_interrupt

        signum = pending_interrupt()
        if iteration % every == 0 or signum is not None:
            result, saved = build(state())
            result.extra[GROUP] = saved
            result.provenance = provenance_of(cfg, matrix, threads.n, timer.elapsed)
            write_result(result, path, force=True)
        if signum is not None:
            raise Interrupted(signum)

    return save


@contextmanager
def signals_held(cfg):
    """Hold SIGINT/SIGTERM to iteration ends while a checkpoint is kept."""
    if not cfg.runtime.checkpoint:
        yield
        return
    from mfcli.runtime import deferred_interrupts

    with deferred_interrupts():
        yield


def done(cfg) -> None:
    """The fit completed and its result is written: the checkpoint has served."""
    path = cfg.runtime.checkpoint
    if path and os.path.isfile(path) and is_checkpoint(path):
        os.remove(path)


def load(path, method: str):
    """The result and ``/checkpoint`` state of a checkpoint file written by ``method``.

    Raises
    ------
    InputDataError : exit 65, not a checkpoint, or one of another method
    """
    from mfcli.errors import InputDataError
    from mfcli.io.results import read_result

    result = read_result(path)
    state = result.extra.get(GROUP)
    if not isinstance(state, dict):
        raise InputDataError(
            "not a checkpoint (no /checkpoint group)",
            path=path,
            hint="--resume takes the file written by --checkpoint",
        )
    if result.method != method:
        raise InputDataError(
            f"a checkpoint of mfcli {result.method}, not of mfcli {method}",
            path=path,
            hint=f"resume it with mfcli {result.method} --resume {path}",
        )
    return result, state
