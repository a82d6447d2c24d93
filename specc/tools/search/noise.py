"""When a search's scores cannot rank its candidates: the best score near chance (the proxy
training learned little), or the leaders closer together than the validation set can tell
apart (the binomial standard error of a top-1 on n images, sqrt(p (1 - p) / n); two
candidates within two of it may swap places with another seed). Returns warnings a user can
act on; decides nothing."""

from __future__ import annotations

import math

from specc.tools.search.candidates import Result

ADVICE = "train longer (--epochs), rank by the EMA weights (--top1 ema), or use more data"


def ranking_warnings(rows: list[Result], num_classes: int, val_images: int) -> list[str]:
    """Warnings about top-1 scores of ranked `rows` (best first; finished ones count)."""
    scores = [r.metric for r in rows if r.status in ("ok", "duplicate") and r.metric is not None]
    if len(scores) < 2:
        return []
    best, chance = scores[0], 1.0 / num_classes
    if best < chance + 0.1 * (1 - chance):  # not a tenth of the way from chance to perfect
        return [
            f"the best val top-1 {best:.3f} is near chance ({chance:.3f} for {num_classes} "
            f"classes): these scores cannot rank the candidates; {ADVICE}"
        ]
    if val_images <= 0:
        return []
    error = math.sqrt(max(best * (1 - best), 1e-12) / val_images)
    if best - scores[1] < 2 * error:
        return [
            f"the two best scores ({best:.3f}, {scores[1]:.3f}) differ by less than twice the "
            f"standard error of a top-1 on {val_images} validation images ({error:.3f}): "
            f"another seed may swap them; {ADVICE}"
        ]
    return []
