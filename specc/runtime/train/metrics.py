"""Per-epoch metrics as JSON lines and CSV (rank 0 only, optionally TensorBoard), top-k
accuracy, and the progress a user sees while a run goes.

metrics.jsonl holds exactly one row per finished epoch: a resumed run first drops the rows
of epochs its checkpoint had not finished (a kill can land between the row and the
checkpoint), then appends.
"""

from __future__ import annotations

import csv
import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch

from specc.diagnostics import UserError

FIELDS = (
    "epoch", "step", "lr", "train_loss", "train_top1", "images_per_s", "skipped_images",
    "eval_top1", "eval_top5", "ema_top1", "ema_top5", "seconds", "peak_memory_gib",
)  # fmt: skip


def correct_topk(logits: torch.Tensor, labels: torch.Tensor, k: int) -> int:
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return int((top == labels[:, None]).any(dim=1).sum())


class MetricsLog:
    def __init__(self, folder: Path) -> None:
        self.jsonl, self.csv = folder / "metrics.jsonl", folder / "metrics.csv"

    def append(self, row: dict[str, Any]) -> None:
        record = {key: row.get(key) for key in FIELDS}
        for path in (self.jsonl, self.csv):
            _cut_torn_tail(path)
        with self.jsonl.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        new = not self.csv.exists()
        with self.csv.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(record)

    def keep_before(self, epoch: int) -> None:
        """Drop the rows of epoch `epoch` and later (atomically, both files)."""
        rows = [row for row in self.rows() if row["epoch"] < epoch]
        if len(rows) == len(self.rows()):
            return
        for path, text in ((self.jsonl, _jsonl(rows)), (self.csv, _csv(rows))):
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(text)
            os.replace(temporary, path)

    def rows(self) -> list[dict[str, Any]]:
        """The rows; a torn last line (a kill or a full disk mid-write) is not a row, any
        other unreadable line is a UserError naming it."""
        if not self.jsonl.exists():
            return []
        lines = self.jsonl.read_text(encoding="utf-8", errors="replace").split("\n")
        rows = []
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line) if line.strip() else None
            except ValueError:
                if number == len(lines):  # no newline after it: torn
                    break
                raise UserError(
                    f"{self.jsonl}:{number}: not a metrics row",
                    hint="repair or remove the line, then resume",
                ) from None
            if isinstance(row, dict) and isinstance(row.get("epoch"), int):
                rows.append(row)
            elif row is not None:
                raise UserError(f"{self.jsonl}:{number}: not a metrics row (no epoch)")
        return rows


def _cut_torn_tail(path: Path) -> None:
    """Remove a last line that has no newline (a write cut short), so that the next row
    starts on a line of its own."""
    try:
        with path.open("rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            handle.seek(0)
            data = handle.read()
            handle.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        return


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps({key: row.get(key) for key in FIELDS}) + "\n" for row in rows)


def _csv(rows: list[dict[str, Any]]) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key) for key in FIELDS})
    return buffer.getvalue()


class TensorBoardLog:
    """`--log tensorboard`: every epoch row's numbers as scalars under OUT/tensorboard."""

    def __init__(self, folder: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder / "tensorboard"))

    def append(self, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if key not in ("epoch", "step") and isinstance(value, int | float):
                self.writer.add_scalar(key, value, row["epoch"])
        self.writer.flush()


class StepProgress:
    """Rank 0's view of a run: on a terminal, a progress bar with loss, LR and images/s;
    otherwise a log line every `interval` steps. Reading the loss synchronises the device,
    so the bar refreshes its numbers every `refresh` steps, not every step."""

    def __init__(self, enabled: bool, interval: int, total: int, done: int, refresh: int = 10):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled, self.interval, self.refresh = enabled, interval, refresh
        self.total, self.done, self.started = total, done, time.perf_counter()
        self.bar = None
        if enabled and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"), console=self.console, transient=False,
            )  # fmt: skip
            self.task = self.bar.add_task("train", total=total, completed=done, status="")

    def __enter__(self) -> StepProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def step(self, step: int, epoch: int, loss: torch.Tensor, lr: float, rate: float) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            if step % self.refresh == 0:
                status = f"epoch {epoch}  loss {float(loss):.4f}  lr {lr:.4g}  {rate:,.0f} img/s"
                self.bar.update(self.task, completed=step, status=status)
            else:
                self.bar.update(self.task, completed=step)
        elif step % self.interval == 0:
            self.line(
                f"epoch {epoch} step {step}/{self.total}: loss {float(loss):.4f} lr {lr:.5g} "
                f"{rate:.1f} img/s ETA {self.eta(step)}"
            )

    def eta(self, step: int) -> str:
        """The time left at this run's pace so far (h:mm:ss)."""
        done = step - self.done
        if done <= 0:
            return "?"
        left = (time.perf_counter() - self.started) / done * max(self.total - step, 0)
        return str(timedelta(seconds=round(left)))

    def line(self, text: str) -> None:
        """A plain line (never cut or wrapped, so a log file keeps it whole)."""
        if self.enabled:
            self.console.print(text, highlight=False, soft_wrap=True)
