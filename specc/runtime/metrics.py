"""Per-epoch metrics as JSON lines and CSV (rank 0 only), and top-k accuracy."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import torch

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
        with self.jsonl.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        new = not self.csv.exists()
        with self.csv.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(record)

    def rows(self) -> list[dict[str, Any]]:
        if not self.jsonl.exists():
            return []
        return [json.loads(line) for line in self.jsonl.read_text().splitlines() if line]


class StepProgress:
    """Rank 0's view of a run: on a terminal, a progress bar with loss, LR and images/s;
    otherwise a log line every `interval` steps. Reading the loss synchronises the device,
    so the bar refreshes its numbers every `refresh` steps, not every step."""

    def __init__(self, enabled: bool, interval: int, total: int, done: int, refresh: int = 10):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled, self.interval, self.refresh = enabled, interval, refresh
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
            self.console.print(
                f"epoch {epoch} step {step}: loss {float(loss):.4f} lr {lr:.5g} {rate:.1f} img/s",
                highlight=False,
            )

    def line(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False)
