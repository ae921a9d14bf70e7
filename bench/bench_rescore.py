"""Re-scoring the registry after a rule change: households per second through the real command path.

Builds a synthetic registry in a fresh SQLite file, then runs ``registry.households.rescore`` (the code
behind ``flask --app app registry rescore``): load, score with the rule files, insert, commit per batch.
Prints ``bench rescore_rate: N households/s``. ``--smoke`` (or ``BENCH_SMOKE=1``) builds 200 households,
only to show the benchmark still runs.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMOKE = "--smoke" in sys.argv[1:] or os.environ.get("BENCH_SMOKE", "") not in ("", "0")
HOUSEHOLDS = 200 if SMOKE else 5000


def main() -> None:
    from sqlalchemy import select

    from app import create_app
    from registry.households import rescore
    from registry.models import Directorate, Household, Person
    from registry.seed import seed_reference
    from webui.cli import upgrade_database
    from webui.db import db_session

    with tempfile.TemporaryDirectory(prefix="bench_rescore_") as tmp:
        url = f"sqlite:///{tmp}/rescore.sqlite3"
        upgrade_database(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        with app.app_context():
            session = db_session()
            seed_reference(session)
            directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
            assert directorate is not None
            rnd = random.Random(7)
            for index in range(HOUSEHOLDS):
                household = Household(directorate_id=directorate.id, governorate_code="PS-RBH", locality="-",
                                      living_conditions={
                                          "monthly_income": rnd.randint(0, 5000), "dwelling_type": "apartment",
                                          "dwelling_tenure": rnd.choice(["owned", "rented"]),
                                          "rooms": rnd.randint(1, 4),
                                          "water_source": "public_network", "sanitation": "public_sewer",
                                          "electricity": rnd.random() > 0.1, "cooking_fuel": "gas",
                                          "assets": ["refrigerator"], "services_hard_to_reach": []})
                session.add(household)
                session.flush()
                for position in range(rnd.randint(1, 8)):
                    session.add(Person(household_id=household.id, position=position,
                                       national_id=f"{index:05d}{position:04d}", name_ar="-", name_search="-",
                                       relation="head" if position == 0 else "son", sex="male",
                                       birth_date=dt.date(1960 + rnd.randint(0, 60), 1, 1),
                                       disability=rnd.random() < 0.05, health_insurance=rnd.random() > 0.3))
            session.commit()
            started = time.perf_counter()
            summary = rescore(session, rules_dir=str(ROOT / "rules"), now=dt.datetime.now(dt.UTC))
            elapsed = time.perf_counter() - started
    print(f"bench rescore_rate: {summary.households / elapsed:.0f} households/s")
    size = f"{HOUSEHOLDS // 1000}k" if HOUSEHOLDS >= 1000 else str(HOUSEHOLDS)
    print(f"bench rescore_{size}: {elapsed:.1f} s")


if __name__ == "__main__":
    main()
