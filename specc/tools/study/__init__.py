"""A scaling study: at equal MACs, does compound scaling beat scaling one dimension?

The paper's central experiment (Tan & Le 2019, §3.3, Fig. 3 and 8) on the user's baseline
and data. One module each: `members` (for each MACs budget and rule, the largest built
model within the budget, found by fit's exact step search) -> `driver` (one evaluation per
member and seed on the search's executors and evaluators, recorded as it finishes) with
`results` (the resumable, locked results file) -> `report` (mean ± std per rule and
budget: the ranked table, JSON, CSV, the plot). Nothing here imports torch; `report.plot`
imports matplotlib when called.
"""

from specc.tools.study.members import RULES, Member, members, rule_coefficients

__all__ = ["RULES", "Member", "members", "rule_coefficients"]
