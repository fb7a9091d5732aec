"""Progress of long stages: a bar when stderr is a terminal, a few plain lines otherwise (logs,
CI, `dvc repro` piped to a file).

``Progress`` counts units of anything (a construction's rounds); ``trainer_progress`` gives the
``pl.Trainer`` keywords for a fit of a known number of steps: Lightning's own bar on a terminal,
else a callback printing one line every ``1/lines`` of the steps and one at the end. Progress
output only reads numbers (no random generator, no tensor is changed), so it never alters a
result.
"""

from __future__ import annotations

import functools
import sys
import time
from typing import Any


def on_terminal() -> bool:
    """Whether progress goes to a person watching (a bar) rather than a log (plain lines)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def say(text: str) -> None:
    """One plain progress line on stderr."""
    print(text, file=sys.stderr, flush=True)


class Progress:
    """``total`` units of work named ``desc``: a tqdm bar on a terminal, else one line per
    ``every`` units and one for the last.
    """

    def __init__(self, desc: str, total: int, unit: str, every: int = 1) -> None:
        self.desc, self.total, self.unit, self.every = desc, total, unit, max(1, every)
        self.done = 0
        self.bar: Any = None
        if on_terminal():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit)

    def update(self, done: int | None = None, text: str = "") -> None:
        """Set the count to ``done`` (default: one more) with a short status ``text``."""
        done = self.done + 1 if done is None else done
        step, self.done = done - self.done, done
        if self.bar is not None:
            self.bar.update(step)
            if text:
                self.bar.set_postfix_str(text, refresh=True)
        elif done % self.every == 0 or done >= self.total:
            say(f"{self.desc}: {self.unit} {done}/{self.total}" + (f", {text}" if text else ""))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


LOG_EVERY = 10  # optimiser steps between the points of a fit's training-loss curve in the logger


def log_every(steps: int) -> int:
    """``Trainer(log_every_n_steps=...)`` for a fit of ``steps`` steps."""
    return min(LOG_EVERY, steps)


def logs_step(step: int, steps: int) -> bool:
    """Whether the logger keeps training step ``step`` (0-based) of a fit of ``steps``: only
    then is ``LightningModule.log`` worth its cost, about 0.4 ms a call on the CPU, a sixth of a
    small model's whole step (and more beside a GPU's)."""
    return (step + 1) % log_every(steps) == 0


def trainer_progress(name: str, steps: int, lines: int = 10, bar: bool = True
                     ) -> dict[str, Any]:
    """``pl.Trainer`` keywords for a fit of ``steps`` steps: Lightning's own (tqdm) bar on a
    terminal; a bar of global steps on stderr instead with ``bar=False`` (fits of many tiny
    epochs, where Lightning's restarts every epoch) or when stdout, where Lightning draws, is
    not the terminal; off a terminal, ``lines`` plain lines (1: one at the end).
    """
    terminal = on_terminal()
    if terminal and bar and _stdout_is_terminal():
        from lightning.pytorch.callbacks import TQDMProgressBar  # not Rich's: no epoch count

        return {"enable_progress_bar": True, "callbacks": [TQDMProgressBar()]}
    return {"enable_progress_bar": False,
            "callbacks": [_step_progress()(name, steps, lines, terminal)]}


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


@functools.cache
def _step_progress() -> type:
    import lightning.pytorch as pl  # here: the stages that only count rounds never import it

    class StepProgress(pl.Callback):
        """Global steps of one fit, as a tqdm bar or as plain lines with the last loss."""

        def __init__(self, name: str, steps: int, lines: int, terminal: bool) -> None:
            self.name, self.steps = name, max(1, steps)
            self.every = max(1, -(-self.steps // max(1, lines)))
            self.terminal, self.bar, self.start = terminal, None, 0.0

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.start = time.perf_counter()
            if self.terminal:
                from tqdm import tqdm

                self.bar = tqdm(total=self.steps, desc=self.name, unit="step")

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                               batch_idx: int) -> None:
            step = trainer.global_step
            if self.bar is not None:
                self.bar.update(step - self.bar.n)
            elif step % self.every == 0 or step >= self.steps:
                loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
                text = f", loss {float(loss):.4g}" if loss is not None else ""
                say(f"{self.name}: step {step}/{self.steps}{text}, "
                    f"{time.perf_counter() - self.start:.1f} s")

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            if self.bar is not None:
                self.bar.close()

    return StepProgress
