"""The figures of a benchmark run as a Markdown table, for README's Performance section.

    make bench | tee bench.out
    .venv/bin/python bench/summary.py bench.out            # or: ... | .venv/bin/python bench/summary.py

Reads ``bench <name>: <value> <unit>`` lines (anything after the unit, such as a parenthesis, is kept as a
note) and the ``# bench/<script>.py`` headers ``make bench`` prints, and writes one row per figure under
its script. Tables the generator left empty and lines it does not recognise are skipped.
"""

from __future__ import annotations

import fileinput
import re
import sys

FIGURE = re.compile(r"^bench (?P<name>[\w.-]+): (?P<value>\S+)(?: (?P<unit>[^\s(]+))?(?: (?P<note>.*))?$")
SCRIPT = re.compile(r"^# (?P<script>bench/\w+\.py)")


def table(lines: list[str]) -> str:
    rows = ["| script | figure | value | unit | note |", "|---|---|---|---|---|"]
    script = ""
    for line in lines:
        line = line.rstrip("\n")
        if header := SCRIPT.match(line):
            script = header["script"].removeprefix("bench/")
        elif (figure := FIGURE.match(line)) and not (figure["value"] == "0" and figure["unit"] == "rows"):
            note = (figure["note"] or "").strip().strip("()").replace("|", "/")
            rows.append(f"| {script} | `{figure['name']}` | {figure['value']} | {figure['unit'] or ''} | {note} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    with fileinput.input(argv, encoding="utf-8") as lines:
        print(table(list(lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
