"""Median of each figure of scripts/load.sh's tables over several runs.

Usage: load_median.py <table file>...  Rows are matched by store and endpoint; each column
is the median over the runs on its own, so a row's ratio is not its requests/s over the
/healthz median but the median of the runs' ratios, printed with each run's ratio beside it.
"""

import statistics
import sys

HEADER = (
    "| store | endpoint | requests/s | p99 ms | ratio to /healthz | issuer CPU µs/request "
    "| Redis commands/request |"
)


def rows(path):
    with open(path, encoding="utf-8") as table:
        for line in table:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 7 and cells[0] not in ("store", "---"):
                yield (cells[0], cells[1]), cells[2:]


def main(paths):
    figures, order = {}, []
    for path in paths:
        for key, cells in rows(path):
            if key not in figures:
                figures[key] = []
                order.append(key)
            figures[key].append(cells)
    print(HEADER)
    print("|---|---|---|---|---|---|---|")
    for key in order:
        runs = figures[key]

        def median(column, runs=runs):
            return statistics.median(float(r[column].replace(",", "")) for r in runs)

        ratios = ", ".join(r[2] for r in runs)
        print(
            f"| {key[0]} | {key[1]} | {median(0):,.0f} | {median(1):.2f} "
            f"| {median(2):.2f} ({ratios}) | {median(3):.1f} | {runs[0][4]} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
