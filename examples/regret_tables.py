"""Print the mean-regret / waste tables and the mean-rank table of a comparison, in the
layout of docs/benchmarks/compare-synthetic.md, from the ``summary.json`` that
``deploybench compare`` writes.

    python examples/regret_tables.py docs/benchmarks/synthetic/summary.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def regret_tables(summary: dict[str, Any]) -> str:
    samplers: list[str] = summary["samplers"]
    cells = {(c["sampler"], c["problem"], c["budget"]): c for c in summary["cells"]}
    out: list[str] = []
    for budget in summary["budgets"]:
        out.append(
            f"**Budget {budget}** — mean normalised regret (lower is better; **bold** = best) "
            "and mean waste\n"
        )
        out.append("| problem | " + " | ".join(samplers) + " |")
        out.append("|---" * (len(samplers) + 1) + "|")
        for problem in summary["problems"]:
            row = [cells.get((s, problem, budget)) for s in samplers]
            means = [round(c["regret_mean"], 3) for c in row if c and c["regret_mean"] is not None]
            best = min(means) if means else None
            texts = []
            for c in row:
                if c is None or c["regret_mean"] is None:
                    texts.append("–")
                    continue
                m = round(c["regret_mean"], 3)
                regret = f"**{m:.3f}**" if m == best else f"{m:.3f}"
                texts.append(f"{regret} / {c['waste_mean']:.2f}")
            out.append(f"| {problem} | " + " | ".join(texts) + " |")
        out.append("")
    out.append("| sampler | " + " | ".join(f"B={b}" for b in summary["budgets"]) + " | all |")
    out.append("|---" * (len(summary["budgets"]) + 2) + "|")
    for s in samplers:
        ranks = summary["ranks"][s]
        cols = [f"{ranks[str(b)]:.2f}" for b in summary["budgets"]] + [f"{ranks['all']:.2f}"]
        out.append(f"| {s} | " + " | ".join(cols) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("summary", type=Path, help="summary.json of a comparison")
    args = parser.parse_args()
    try:
        summary = json.loads(args.summary.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        parser.error(f"cannot read {args.summary}: {exc}")
    print(regret_tables(summary))


if __name__ == "__main__":
    main()
