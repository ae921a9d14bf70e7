"""The registry-size database of one ``make bench`` run: created before the scripts, dropped after them.

    registry_db.py create     # prints the URL of a new empty database on DATABASE_URL's server, or nothing
    registry_db.py drop URL   # drops it (only ``mosd_*`` names)

``create`` prints nothing when DATABASE_URL is not PostgreSQL (the scripts then run as they do without
it) or when BENCH_REGISTRY_URL is already set (that database is reused and kept). The Makefile fills the
new database with ``generate_registry.py`` and hands it to the scripts as BENCH_REGISTRY_URL.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from generate_registry import (  # noqa: E402 (after the path set-up)
    configured_postgres_url,
    create_database,
    drop_database,
    postgres_available,
    registry_url,
)


def main(argv: list[str]) -> int:
    if argv[:1] == ["create"] and len(argv) == 1:
        if registry_url():
            print("# BENCH_REGISTRY_URL is set: the scripts reuse that database", file=sys.stderr)
        elif configured_postgres_url() and postgres_available():  # stops with a message when it does not answer
            print(create_database("mosd_registry"))
        return 0
    if argv[:1] == ["drop"] and len(argv) == 2:
        drop_database(argv[1])
        print(f"# dropped {argv[1].split('@')[-1]}", file=sys.stderr)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
