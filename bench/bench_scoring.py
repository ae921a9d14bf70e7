"""Re-score a synthetic registry of 136,000 households with the rule files, on one core.

Run from the repository root: ``.venv/bin/python bench/bench_scoring.py``. The households are
random but deterministic (fixed seed), with 1–10 members and the field names of
forms/registration.yaml. Building them is not timed; scoring is (rules loaded once, as in a
re-scoring run). ``--smoke`` (or ``BENCH_SMOKE=1``) scores 2,000 households, only to show the
benchmark still runs.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from registry.eligibility import load_measure, score_many  # noqa: E402 - needs the path above

SMOKE = "--smoke" in sys.argv[1:] or os.environ.get("BENCH_SMOKE", "") not in ("", "0")
HOUSEHOLDS = 2_000 if SMOKE else 136_000
AS_OF = dt.date(2025, 6, 1)
# Share of households by number of members (1..10): a mean of about 5.4, as in the CTP's caseload.
SIZE_WEIGHTS = [5, 8, 10, 13, 15, 15, 12, 9, 7, 6]
SERVICES = ["health_centre", "school", "transport", "market"]
ASSETS = ["refrigerator", "washing_machine", "heater", "television", "computer", "car"]


def _birth_date(rng: random.Random, age: int) -> str:
    return (AS_OF - dt.timedelta(days=age * 365 + rng.randrange(365))).isoformat()


def _schooling(rng: random.Random, age: int) -> str | None:
    if age < 6:
        return None
    if age <= 17:
        return rng.choices(["enrolled", "dropped_out", "none", "basic"], [88, 7, 2, 3])[0]
    return rng.choices(["none", "basic", "secondary", "higher", "dropped_out", "enrolled"],
                       [8, 35, 30, 17, 7, 3])[0]


def _work(rng: random.Random, age: int) -> str | None:
    if age < 15:
        return rng.choices(["student", "employed", None], [90, 2, 8])[0]
    if age < 65:
        return rng.choices(["employed", "unemployed", "not_in_labour_force", "student", "unable_to_work"],
                           [38, 20, 30, 8, 4])[0]
    return rng.choices(["not_in_labour_force", "unable_to_work", "employed"], [70, 25, 5])[0]


def _member(rng: random.Random, number: int, relation: str, sex: str, age: int) -> dict[str, Any]:
    return {
        "national_id": f"{number:09d}",
        "name_ar": "اسم العائلة",
        "relation": relation,
        "sex": sex,
        "birth_date": _birth_date(rng, age),
        "marital_status": "married" if relation in ("head", "spouse") else "single",
        "disability": rng.random() < 0.06,
        "chronic_illness": rng.random() < (0.35 if age >= 50 else 0.05),
        "health_insurance": rng.random() < 0.8,
        "schooling": _schooling(rng, age),
        "work": _work(rng, age),
    }


def synthetic_household(rng: random.Random, number: int) -> dict[str, Any]:
    """One household as the registration form records it."""
    size = rng.choices(range(1, 11), SIZE_WEIGHTS)[0]
    head_sex = "female" if rng.random() < 0.12 else "male"
    head_age = rng.randrange(22, 80)
    members = [_member(rng, number * 16, "head", head_sex, head_age)]
    if size > 1 and rng.random() < 0.85:
        members.append(_member(rng, number * 16 + 1, "spouse", "male" if head_sex == "female" else "female",
                               max(18, head_age + rng.randrange(-8, 4))))
    while len(members) < size:
        if rng.random() < 0.08:
            relation, age = "parent", rng.randrange(min(max(head_age + 16, 60), 95), 100)
        else:
            relation, age = rng.choice(["son", "daughter"]), rng.randrange(0, max(1, min(head_age - 16, 35)))
        sex = {"daughter": "female", "son": "male"}.get(relation) or rng.choice(["male", "female"])
        members.append(_member(rng, number * 16 + len(members), relation, sex, age))
    income = 0 if rng.random() < 0.1 else round(rng.lognormvariate(7.6, 0.6))
    return {
        "consent_data_exchange": True,
        "head_national_id": members[0]["national_id"],
        "phone": "0599000000",
        "governorate": rng.choice(["PS-GZA", "PS-KYS", "PS-HBN", "PS-NBS", "PS-JEN", "PS-RBH"]),
        "locality": "locality",
        "members": members,
        "reasons": ["loss_of_income"],
        "reasons_details": "…",
        "monthly_income": income,
        "dwelling_type": rng.choices(["house", "apartment", "shared_room", "tent_or_caravan"],
                                     [45, 45, 7, 3])[0],
        "dwelling_tenure": rng.choice(["owned", "rented", "hosted"]),
        "rooms": rng.randrange(1, 6),
        "damp_or_leaking": rng.random() < 0.25,
        "water_source": rng.choices(["public_network", "tanker", "well_or_spring", "none_reliable"],
                                    [75, 15, 5, 5])[0],
        "sanitation": rng.choices(["public_sewer", "cesspit", "none"], [65, 32, 3])[0],
        "electricity": rng.random() < 0.8,
        "cooking_fuel": rng.choices(["gas", "electricity", "wood_or_coal"], [85, 5, 10])[0],
        "assets": [asset for asset in ASSETS if rng.random() < 0.5],
        "services_hard_to_reach": [service for service in SERVICES if rng.random() < 0.12],
        "unmet_medical_needs": rng.random() < 0.2,
        "feels_unsafe": rng.random() < 0.15,
        "violence_in_household": rng.random() < 0.05,
        "movement_restricted": rng.random() < 0.2,
    }


def main() -> None:
    rng = random.Random(20250601)
    households = [synthetic_household(rng, number) for number in range(1, HOUSEHOLDS + 1)]
    measure = load_measure(ROOT / "rules")
    categories: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    for scoring in score_many(measure, households, as_of=AS_OF):
        categories[scoring.category] += 1
    elapsed = time.perf_counter() - started
    print(f"bench scoring_rate: {HOUSEHOLDS / elapsed:.0f} households/s")
    print(f"bench scoring_{HOUSEHOLDS // 1000}k: {elapsed:.1f} s")
    mix = ", ".join(f"{name} {count / HOUSEHOLDS:.1%}" for name, count in sorted(categories.items()))
    print(f"# categories ({measure.rule_version}): {mix}")


if __name__ == "__main__":
    main()
