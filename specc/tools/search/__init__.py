"""Search compound coefficients: step 1 of the paper, on the user's own baseline.

The pipeline, one module each: `candidates` (the grid, compiling each candidate at phi = 1,
the architecture hash) -> `strategies` (grid or Optuna TPE: what to try next) -> `driver`
(skip what is recorded or a duplicate network, run the rest, record each result) with
`evaluators` (specc's trainer or a user command, per candidate) on `executors` (local
processes or Ray tasks) -> `results` (the results file, ranking, Pareto front, --write)
and `plot`. Only `executors` (Ray), `strategies` (Optuna) and `plot` (matplotlib) import
anything optional, and only when used.
"""

from specc.tools.search.candidates import (
    COEFFICIENTS,
    FIELDS,
    Candidate,
    Result,
    arch_hash,
    build,
    grid,
    measure,
    with_coefficients,
)
from specc.tools.search.results import ResultsFile, pareto_front, rank, write_spec_with

__all__ = [
    "COEFFICIENTS", "FIELDS", "Candidate", "Result", "ResultsFile", "arch_hash", "build", "grid",
    "measure", "pareto_front", "rank", "with_coefficients", "write_spec_with",
]  # fmt: skip
