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
