"""A seeded synthetic registry for demonstrations and benchmarks: households, people, cases, task rows.

Realistic households (sizes, ages, relations; valid national IDs with their check digit, unique across the
registry), living conditions whose distribution varies by governorate, one case per household spread over
every stage of the case process (old cases may have looped many times between review and documents), the
task index the inbox reads (written in bulk), audit events, document requests and documents' metadata (no
bytes), and one eligibility score per household (real scorings of a pool of profiles by the rule files).

A handful of cases (one per stage, in the big directorate) are real: started and moved on through
``registry.cases`` with the demo users; every synthetic case's process instance holds the state of the real
case at the same stage, so task pages of synthetic tasks load.

The same seed on the same (empty) database gives the same households and IDs; generating again adds more
households after the ones already there (IDs and national IDs continue, nothing clashes).
Rows are written in chunks: PostgreSQL through COPY, SQLite through Core ``insert()`` executemany.
Used by ``flask --app app demo generate`` and ``bench/generate_registry.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

HOUSEHOLDS = 136_000
SMOKE_HOUSEHOLDS = 2_000
BIG_DIRECTORATE = "RBH"
BIG_SHARE = 30_000 / 136_000
CHUNK = 5_000  # households per chunk: every table's rows of a chunk are written together
PROFILES = 800
OLD_LOOPERS = 0.03  # share of the oldest cases that looped 8 to 40 times between review and documents
DOCUMENT_KINDS = ["income_proof", "id_copies", "medical_report", "rent_contract"]
STAFF_PER_DIRECTORATE = {"reception": 4, "supervisor": 2, "case_manager": 19}  # 16 x 19 = 304 case managers


TASKS: dict[str, tuple[str, str, str, str, int]] = {
    "register_household": ("registration", "reception", "registration", "Register the household", 2),
    "recommend_eligibility": ("eligibility_recommendation", "reception", "eligibility", "Recommend on eligibility",
                              2),
    "review_eligibility": ("eligibility_review", "supervisor", "eligibility", "Review eligibility", 3),
    "attach_documents": ("attach_documents", "reception", "eligibility", "Attach the requested documents", 7),
    "needs_assessment_visit": ("needs_assessment", "case_manager", "assessment", "Needs assessment field visit", 7),
    "assistance_plan": ("assistance_plan", "case_manager", "planning", "Build the assistance plan", 7),
    "review_plan": ("plan_review", "supervisor", "planning", "Review the assistance plan", 3),
    "follow_up_visit": ("follow_up", "case_manager", "implementation", "Follow-up visit", 14),
    "outcome_evaluation": ("outcome_evaluation", "case_manager", "evaluation", "Evaluate the outcome", 7),
}

# Where cases stand (percent of cases): open at each user task, closed after the plan, or rejected.
KINDS: dict[str, int] = {
    "registration": 2, "recommendation": 2, "review": 17, "attach": 3, "assessment": 4, "planning": 3,
    "plan_review": 2, "implementation": 9, "evaluation": 2, "closed": 41, "rejected": 15,
}
KIND_INDEX = {kind: n for n, kind in enumerate(KINDS)}
READY_OF_KIND = {
    "registration": "register_household", "recommendation": "recommend_eligibility", "review": "review_eligibility",
    "attach": "attach_documents", "assessment": "needs_assessment_visit", "planning": "assistance_plan",
    "plan_review": "review_plan", "implementation": "follow_up_visit", "evaluation": "outcome_evaluation",
}
STAGE_OF_KIND = {kind: TASKS[spec][2] for kind, spec in READY_OF_KIND.items()} | {"closed": "closed",
                                                                                   "rejected": "closed"}
AGE_DAYS = {  # how long ago a case of each kind was opened (min, max days)
    "registration": (0, 3), "recommendation": (0, 5), "review": (2, 90), "attach": (3, 90), "assessment": (10, 120),
    "planning": (15, 150), "plan_review": (20, 150), "implementation": (30, 400), "evaluation": (90, 450),
    "closed": (100, 540), "rejected": (10, 540),
}

MALE = ["أحمد", "محمد", "محمود", "خالد", "يوسف", "عمر", "علي", "حسن", "إبراهيم", "سامي", "رامي", "طارق", "ماجد",
        "نبيل", "وليد", "زياد", "فادي", "بلال", "سليم", "جمال", "عادل", "باسم", "نضال", "كريم", "هاني", "إياد",
        "مصطفى", "عبد الله", "عبد الرحمن", "حمزة"]
MALE_LATIN = ["Ahmad", "Mohammad", "Mahmoud", "Khaled", "Yousef", "Omar", "Ali", "Hasan", "Ibrahim", "Sami", "Rami",
              "Tareq", "Majed", "Nabil", "Walid", "Ziad", "Fadi", "Bilal", "Salim", "Jamal", "Adel", "Basem",
              "Nidal", "Karim", "Hani", "Iyad", "Mustafa", "Abdallah", "Abdelrahman", "Hamza"]
FEMALE = ["فاطمة", "مريم", "سلمى", "ليلى", "هدى", "رانيا", "نادية", "سعاد", "آمنة", "خديجة", "زينب", "دعاء", "رزان",
          "لينا", "سارة", "نور", "ريم", "هبة", "منى", "وفاء", "إيمان", "أسماء", "رشا", "سناء", "عبير", "ياسمين",
          "جنى", "ليان", "تالا", "شهد"]
FEMALE_LATIN = ["Fatima", "Maryam", "Salma", "Layla", "Huda", "Rania", "Nadia", "Suad", "Amna", "Khadija", "Zainab",
                "Duaa", "Razan", "Lina", "Sara", "Nour", "Reem", "Hiba", "Muna", "Wafaa", "Iman", "Asmaa", "Rasha",
                "Sanaa", "Abeer", "Yasmin", "Jana", "Layan", "Tala", "Shahd"]
FAMILY = ["عودة", "حمدان", "خليل", "صالح", "حداد", "عمرو", "التميمي", "القواسمي", "البرغوثي", "ناصر", "جرار",
          "الشريف", "أبو عيشة", "النتشة", "الجعبري", "زيدان", "سلامة", "عبد الهادي", "مصلح", "الخطيب", "حمايل",
          "دويكات", "شحادة", "عويضات", "الأطرش", "بدر", "قاسم", "يعقوب", "الرجوب", "عابدين", "أبو زيد", "الحلو",
          "منصور", "شاهين", "العلي", "داود", "غنام", "سمارة", "عوض", "الزرو"]
FAMILY_LATIN = ["Odeh", "Hamdan", "Khalil", "Saleh", "Haddad", "Amro", "Tamimi", "Qawasmi", "Barghouti", "Nasser",
                "Jarrar", "Sharif", "Abu Aisheh", "Natsheh", "Jabari", "Zeidan", "Salameh", "Abdelhadi", "Musleh",
                "Khatib", "Hamayel", "Dweikat", "Shehadeh", "Owaidat", "Atrash", "Badr", "Qasem", "Yaqoub", "Rajoub",
                "Abdeen", "Abu Zeid", "Helou", "Mansour", "Shaheen", "Ali", "Daoud", "Ghannam", "Samara", "Awad",
                "Zaro"]
LOCALITIES = ["المدينة", "البلدة القديمة", "الحي الشرقي", "الحي الغربي", "المخيم", "القرية الشمالية",
              "القرية الجنوبية", "الضاحية"]


def with_check_digit(first_eight: str) -> str:
    """The 9-digit national ID: eight digits and their Luhn check digit."""
    total = 0
    for position, char in enumerate(first_eight):
        product = int(char) * (1 if position % 2 == 0 else 2)
        total += product - 9 if product > 9 else product
    return first_eight + str((10 - total % 10) % 10)


def national_id(serial: int) -> str:
    return with_check_digit(f"{serial:08d}")


# --- people and households -------------------------------------------------------------------------

def _birth(rnd: random.Random, first_year: int, last_year: int) -> dt.date:
    return dt.date(rnd.randint(first_year, last_year), rnd.randint(1, 12), rnd.randint(1, 28))


SIZES = list(range(1, 13))
SIZE_WEIGHTS = [5, 9, 10, 13, 15, 15, 12, 8, 6, 3, 2, 2]  # mean 5.48 people per household


def hardship(governorate_code: str) -> float:
    """How hard living conditions are in a governorate (0 to 1): fixed per code, so distributions differ."""
    return random.Random(f"hardship-{governorate_code}").uniform(0.15, 0.85)


def household_profile(rnd: random.Random, hardship: float = 0.5) -> dict[str, Any]:
    """Living conditions and the members' attributes (no names, no IDs): what scoring reads.

    ``hardship`` (0 to 1) shifts income, water, damp and electricity towards deprivation."""
    size = rnd.choices(SIZES, SIZE_WEIGHTS)[0]
    head_sex = "female" if rnd.random() < 0.2 else "male"
    head_married = size > 1 and (head_sex == "male" or rnd.random() < 0.3) and rnd.random() < 0.9
    members: list[dict[str, Any]] = [{
        "relation": "head", "sex": head_sex, "birth_date": _birth(rnd, 1950, 1998),
        "marital_status": "married" if head_married else rnd.choice(["widowed", "divorced", "single"]),
        "disability": rnd.random() < 0.06, "chronic_illness": rnd.random() < 0.15,
        "health_insurance": rnd.random() < 0.6, "schooling": rnd.choice(["none", "basic", "secondary", "higher"]),
        "work": rnd.choice(["employed", "unemployed", "unemployed", "not_in_labour_force", "unable_to_work"]),
    }]
    if head_married:
        members.append({
            "relation": "spouse", "sex": "female" if head_sex == "male" else "male",
            "birth_date": _birth(rnd, 1955, 2000), "marital_status": "married", "disability": rnd.random() < 0.04,
            "chronic_illness": rnd.random() < 0.1, "health_insurance": rnd.random() < 0.6,
            "schooling": rnd.choice(["basic", "secondary", "higher"]),
            "work": rnd.choice(["employed", "not_in_labour_force", "not_in_labour_force", "unemployed"]),
        })
    if size - len(members) >= 3 and rnd.random() < 0.15:
        members.append({
            "relation": "parent", "sex": rnd.choice(["female", "male"]), "birth_date": _birth(rnd, 1935, 1960),
            "marital_status": "widowed", "disability": rnd.random() < 0.2, "chronic_illness": rnd.random() < 0.5,
            "health_insurance": rnd.random() < 0.5, "schooling": "none", "work": "unable_to_work",
        })
    while len(members) < size:
        sex = rnd.choice(["female", "male"])
        born = _birth(rnd, 2000, 2024)
        age = 2026 - born.year
        members.append({
            "relation": "son" if sex == "male" else "daughter", "sex": sex, "birth_date": born,
            "marital_status": "single", "disability": rnd.random() < 0.04, "chronic_illness": rnd.random() < 0.05,
            "health_insurance": rnd.random() < 0.6,
            "schooling": None if age < 6 else rnd.choice(["enrolled", "enrolled", "enrolled", "dropped_out"])
            if age < 18 else rnd.choice(["secondary", "higher", "basic"]),
            "work": None if age < 6 else "student" if age < 18 else rnd.choice(["employed", "unemployed", "student"]),
        })
    conditions = {
        "monthly_income": rnd.choice([0, 0, 300, 500, 700, 900] if rnd.random() < hardship else
                                     [700, 900, 1200, 1500, 2000, 2500, 3500, 5000]),
        "dwelling_type": rnd.choice(["house", "apartment", "apartment", "shared_room", "tent_or_caravan"]),
        "dwelling_tenure": rnd.choice(["owned", "rented", "rented", "hosted"]),
        "rooms": rnd.randint(1, 5), "damp_or_leaking": rnd.random() < 0.6 * hardship,
        "water_source": rnd.choice(["tanker", "well_or_spring", "none_reliable"] if rnd.random() < hardship / 2
                                   else ["public_network", "public_network", "tanker"]),
        "sanitation": rnd.choice(["public_sewer", "public_sewer", "cesspit", "none"]),
        "electricity": rnd.random() < 1 - 0.15 * hardship,
        "cooking_fuel": rnd.choice(["gas", "gas", "electricity", "wood_or_coal"]),
        "assets": [a for a in ("refrigerator", "washing_machine", "heater", "television", "computer", "car")
                   if rnd.random() < 0.45],
        "services_hard_to_reach": [s for s in ("health_centre", "school", "transport", "market") if rnd.random() < 0.2],
        "unmet_medical_needs": rnd.random() < 0.3, "feels_unsafe": rnd.random() < 0.1,
        "violence_in_household": rnd.random() < 0.03, "movement_restricted": rnd.random() < 0.15,
    }
    reasons = rnd.sample(["loss_of_income", "illness", "disability", "death_of_breadwinner", "housing", "debts"],
                         rnd.randint(1, 3))
    return {"members": members, "conditions": conditions, "reasons": reasons}


_SEARCH_KEYS: dict[str, str] = {}


def _search_key(text: str) -> str:
    from registry.names import search_key

    key = _SEARCH_KEYS.get(text)
    if key is None:
        key = _SEARCH_KEYS[text] = search_key(text)
    return key


def named_members(rnd: random.Random, profile: dict[str, Any], first_serial: int) -> list[dict[str, Any]]:
    """The profile's members with names and fresh national IDs (serials from ``first_serial``)."""
    family = rnd.randrange(len(FAMILY))
    head_first = father = 0
    out = []
    for position, member in enumerate(profile["members"]):
        male = member["sex"] == "male"
        first = rnd.randrange(len(MALE if male else FEMALE))
        if member["relation"] == "head":
            head_first, father = first, rnd.randrange(len(MALE))
            middle, surname = father, family
        elif member["relation"] in ("son", "daughter"):
            middle, surname = head_first if profile["members"][0]["sex"] == "male" else rnd.randrange(len(MALE)), family
        else:  # a spouse or a parent keeps their own family name
            middle, surname = rnd.randrange(len(MALE)), rnd.randrange(len(FAMILY))
        name_ar = f"{(MALE if male else FEMALE)[first]} {MALE[middle]} {FAMILY[surname]}"
        name_latin = f"{(MALE_LATIN if male else FEMALE_LATIN)[first]} {FAMILY_LATIN[surname]}"
        out.append({**member, "national_id": national_id(first_serial + position), "name_ar": name_ar,
                    "name_latin": name_latin, "position": position})
    return out


def registration_data(members: list[dict[str, Any]], conditions: dict[str, Any], reasons: list[str], *,
                      governorate: str, locality: str, address: str, phone: str) -> dict[str, Any]:
    """What the registration form submits for this household (also the registration task's stored data)."""
    return {
        "consent_data_exchange": True, "head_national_id": members[0]["national_id"], "phone": phone,
        "governorate": governorate, "locality": locality, "address": address,
        "members": [{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in m.items() if k != "position"}
                    for m in members],
        "reasons": reasons, "reasons_details": "Lost regular income; rent and medicine are unpaid.",
        **conditions,
    }


# --- the plan of one synthetic case ---------------------------------------------------------------

@dataclass
class Staff:
    reception: list[int] = field(default_factory=list)
    supervisor: list[int] = field(default_factory=list)
    case_manager: list[int] = field(default_factory=list)


def completed_path(kind: str, loops: int, follow_ups: int) -> list[tuple[str, str]]:
    """The (task, decision) pairs a case of this kind has completed, in order."""
    path: list[tuple[str, str]] = []
    if kind == "registration":
        return path
    path.append(("register_household", ""))
    if kind == "recommendation":
        return path
    path.append(("recommend_eligibility", ""))
    for _ in range(loops):
        path += [("review_eligibility", "request_documents"), ("attach_documents", "")]
    if kind == "review":
        return path
    if kind == "attach":
        return path + [("review_eligibility", "request_documents")]
    if kind == "rejected":
        return path + [("review_eligibility", "reject")]
    path.append(("review_eligibility", "approve"))
    for spec in ("needs_assessment_visit", "assistance_plan", "review_plan"):
        if READY_OF_KIND.get(kind) == spec:
            return path
        path.append((spec, "approve" if spec == "review_plan" else ""))
    path += [("follow_up_visit", "")] * follow_ups
    if kind == "implementation":
        return path
    path.append(("follow_up_visit", ""))
    if kind == "evaluation":
        return path
    return path + [("outcome_evaluation", "close")]


def task_data(spec: str, decision: str, rnd: random.Random, when: dt.datetime,
              registration: dict[str, Any]) -> dict[str, Any]:
    day = when.date().isoformat()
    if spec == "register_household":
        return registration
    if spec == "recommend_eligibility":
        return {"decision": "recommend_eligible" if rnd.random() < 0.85 else "recommend_ineligible",
                "recommendation_notes": "Deprived in several areas; visited at home."}
    if spec == "review_eligibility":
        data: dict[str, Any] = {"decision": decision, "review_comments": "Reviewed with the score."}
        if decision == "request_documents":
            data["missing_documents"] = rnd.sample(["income_proof", "id_copies", "medical_report", "rent_contract"],
                                                   rnd.randint(1, 2))
        if decision == "reject":
            data["rejection_reason"] = "Income above the poverty line; no deprivation found at the visit."
        return data
    if spec == "attach_documents":
        return {"documents": [], "documents_note": "Collected at the household's visit."}
    if spec == "needs_assessment_visit":
        return {"visit_date": day, "needs_areas": rnd.sample(["health", "education", "work", "housing", "food"], 2),
                "needs_description": "The head is out of work; a child needs treatment.",
                "household_resources": "Relatives help with rent.", "risk_level": rnd.choice(["high", "medium", "low"]),
                "another_visit_needed": False}
    if spec == "assistance_plan":
        end = (when + dt.timedelta(days=90)).date().isoformat()
        return {"goals": "Regular income and treatment.", "plan_start_date": day, "plan_end_date": end,
                "household_agreed": True,
                "interventions": [{"description": "Monthly cash transfer", "area": "cash", "provider_type": "ministry",
                                   "provider_name": "Cash Transfer Programme", "due_date": end}]}
    if spec == "review_plan":
        return {"decision": "approve"}
    if spec == "follow_up_visit":
        return {"visit_date": day, "progress": rnd.choice(["on_track", "on_track", "delayed", "blocked"]),
                "follow_up_notes": "Visited; the plan goes on.", "more_follow_up": False}
    return {"goals_achieved": rnd.choice(["fully", "partly"]), "decision": "close",
            "evaluation_notes": "Goals reached as far as possible."}


# --- writing rows ---------------------------------------------------------------------------------

def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _called(fn: Callable[[Any], Any]) -> Callable[[], Any]:
    return lambda: fn(None)


class Sink:
    """Writes lists of row dicts into tables: COPY on PostgreSQL, Core ``insert()`` executemany on SQLite.

    A row may name shared values (``"_shared": n``, the n-th dict given to ``share()``) that many rows
    hold alike, e.g. a score's indicators or a process state: on PostgreSQL those are sent and parsed
    once and joined in on the server. While loading, PostgreSQL skips foreign-key triggers (the rows are
    consistent by construction) and secondary indexes are dropped, then rebuilt in one pass each.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.connection = engine.connect()
        self.counts: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self._defaults: dict[str, list[tuple[str, Callable[[], Any]]]] = {}
        self._shared: dict[str, list[dict[str, Any]]] = {}
        self._indexes: list[tuple[str, str]] = []
        self.foreign_key_checks = not self.postgres
        if self.postgres:
            self.connection.execute(text("SET synchronous_commit = off"))
            self.connection.execute(text("SET maintenance_work_mem = '256MB'"))
            try:
                with self.connection.begin_nested():
                    self.connection.execute(text("SET session_replication_role = replica"))
            except Exception:  # noqa: BLE001 (not a superuser: foreign keys are checked, only slower)
                self.foreign_key_checks = True
            self.connection.commit()

    def drop_indexes(self, tables: Iterable[str]) -> None:
        """Drop the tables' indexes that back no constraint; ``rebuild_indexes()`` creates them again."""
        if not self.postgres:
            return
        self._indexes = [(row[0], row[1]) for row in self.connection.execute(text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)"), {"tables": list(tables)})]
        for name, _definition in self._indexes:
            self.connection.execute(text(f'DROP INDEX "{name}"'))
        self.connection.commit()

    def rebuild_indexes(self) -> None:
        for _name, definition in self._indexes:
            self.connection.execute(text(definition))
        self.connection.commit()
        self._indexes = []

    def share(self, table: Any, values: list[dict[str, Any]]) -> None:
        """Values rows of ``table`` refer to by position with ``"_shared"``."""
        self._shared[table.name] = values
        if not self.postgres:
            return
        columns = list(values[0])
        quoted = ", ".join(f'"{c}"' for c in columns)
        self.connection.execute(text(f'CREATE TEMP TABLE "_shared_{table.name}" AS SELECT 0 AS _shared, {quoted} '  # noqa: S608
                                     f'FROM "{table.name}" WITH NO DATA'))
        self._copy(f"_shared_{table.name}", ["_shared", *columns],
                   ([n, *row.values()] for n, row in enumerate(values)))
        self.connection.commit()

    def _missing_defaults(self, table: Any, given: Iterable[str]) -> list[tuple[str, Callable[[], Any]]]:
        """Python-side column defaults of columns the rows leave out (COPY does not run them)."""
        if table.name not in self._defaults:
            keys = set(given) | set(self._shared[table.name][0] if table.name in self._shared else ())
            found: list[tuple[str, Callable[[], Any]]] = []
            for column in table.columns:
                default = column.default
                if column.name in keys or default is None:
                    continue
                if default.is_scalar:
                    found.append((column.name, _constant(default.arg)))
                elif default.is_callable:
                    found.append((column.name, _called(default.arg)))
            self._defaults[table.name] = found
        return self._defaults[table.name]

    def write(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        started = time.perf_counter()
        try:
            self._write(table, rows)
        finally:
            self.seconds[table.name] = self.seconds.get(table.name, 0.0) + time.perf_counter() - started
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)

    def _copy(self, table: str, columns: list[str], rows: Iterable[list[Any]]) -> None:
        if not self.connection.in_transaction():  # COPY must run inside the transaction commit() ends
            self.connection.begin()
        quoted = ", ".join(f'"{c}"' for c in columns)
        cursor = self.connection.connection.driver_connection.cursor()
        with cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict | list) else v
                                for v in row])
        cursor.close()

    def _write(self, table: Any, rows: list[dict[str, Any]]) -> None:
        shared = self._shared.get(table.name)
        if not self.postgres:
            if shared is not None:
                rows = [{**{k: v for k, v in row.items() if k != "_shared"}, **shared[row["_shared"]]}
                        for row in rows]
            for start in range(0, len(rows), 10_000):
                self.connection.execute(table.insert(), rows[start:start + 10_000])
            return
        extra = self._missing_defaults(table, rows[0])
        columns = list(rows[0]) + [name for name, _fn in extra]
        values = ([*row.values(), *(fn() for _name, fn in extra)] for row in rows)
        if shared is None:
            self._copy(table.name, columns, values)
            return
        staging = f"_rows_{table.name}"
        own = [c for c in columns if c != "_shared"]
        common = list(shared[0])
        quoted = ", ".join(f'"{c}"' for c in own)
        targets = ", ".join(f'"{c}"' for c in own + common)
        picked = ", ".join([f'r."{c}"' for c in own] + [f's."{c}"' for c in common])
        if table.name not in self.counts:
            self.connection.execute(text(f'CREATE TEMP TABLE "{staging}" AS SELECT 0 AS _shared, {quoted} '  # noqa: S608
                                         f'FROM "{table.name}" WITH NO DATA'))
        self._copy(staging, columns, values)
        self.connection.execute(text(f'INSERT INTO "{table.name}" ({targets}) SELECT {picked} FROM "{staging}" r '  # noqa: S608
                                     f'JOIN "_shared_{table.name}" s ON s._shared = r._shared'))
        self.connection.execute(text(f'TRUNCATE "{staging}"'))

    def commit(self) -> None:
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()


class NotDemoData(Exception):
    """The database holds real (non-demo) data: generating into it needs ``force``."""


def real_data_found(session: Any) -> str | None:
    """Why the database looks like a real registry (staff accounts that are not demo accounts), or None."""
    from sqlalchemy import func, select

    from registry.models import User

    real_users = session.scalar(select(func.count(User.id)).where(User.is_demo.is_(False))) or 0
    return f"{real_users} user account(s) that are not demo accounts" if real_users else None


def fill(session: Any, *, engine: Any, library: Any, rules_dir: Any, households: int, seed: int,
         say: Callable[[str], None], started: float, directorates_wanted: Sequence[str] | None = None,
         require_empty: bool = False, storage: Any = None) -> tuple[dict[str, int], dict[str, int]]:
    """Add ``households`` generated households (and everything that goes with them) to the database.

    Returns the rows per table after writing and the real cases (one per kind) made as templates."""
    from sqlalchemy import func, select

    from engine.db import utcnow
    from engine.models import ProcessInstance, ProcessVersion, TaskRecord
    from registry import eligibility, scores
    from registry.auth import DEMO_PASSWORD, hash_password
    from registry.models import (
        AuditEvent,
        Case,
        Directorate,
        Document,
        DocumentRequest,
        EligibilityScore,
        Household,
        Person,
        User,
    )
    from registry.operations import local_date
    from registry.scores import score_row
    from registry.seed import seed_process, seed_reference, seed_users

    rnd = random.Random(seed)
    if require_empty and session.scalar(select(func.count(Case.id))):
        raise SystemExit("the database already holds cases: generate into a new database")
    seed_reference(session)
    seed_users(session)
    seed_process(session, library=library, now=utcnow())
    directorates = {d.code: d for d in session.scalars(select(Directorate))}
    unknown = sorted(set(directorates_wanted or ()) - set(directorates))
    if unknown:
        raise ValueError(f"unknown directorate code(s): {', '.join(unknown)}")
    staff = {code: Staff() for code in directorates}
    for user in session.scalars(select(User).where(User.directorate_id.is_not(None))):
        assert user.directorate is not None
        if user.role in STAFF_PER_DIRECTORATE:
            getattr(staff[user.directorate.code], user.role).append(user.id)
    password = hash_password(DEMO_PASSWORD)
    for code, directorate in directorates.items():
        for role, wanted in STAFF_PER_DIRECTORATE.items():
            have = len(getattr(staff[code], role))
            for n in range(have + 1, wanted + 1):
                first = rnd.choice(MALE_LATIN + FEMALE_LATIN)
                family = rnd.choice(FAMILY_LATIN)
                user = User(username=f"{role.replace('_', '')}_{code.lower()}_{n:02d}",
                            full_name=f"{first} {family}", role=role, directorate_id=directorate.id, is_demo=True,
                            password_hash=password)
                session.add(user)
                session.flush()
                getattr(staff[code], role).append(user.id)
    session.commit()
    say(f"staff: {sum(len(s.reception) + len(s.supervisor) + len(s.case_manager) for s in staff.values())} users")

    now = utcnow()
    templates, real = _real_cases(session, library, staff[BIG_DIRECTORATE], now=now, rnd=rnd, storage=storage)
    say(f"real cases through registry.cases: {len(real)} ({time.perf_counter() - started:.1f} s)")
    version_id = session.scalar(select(ProcessVersion.id).order_by(ProcessVersion.id.desc()))
    assert version_id is not None
    serializer_version = session.scalar(select(ProcessInstance.serializer_version).limit(1))

    measure = eligibility.load_measure(rules_dir)
    scores.keep_rule_version(session, measure, now=now)  # so every generated score can be recomputed
    session.commit()
    today = local_date(now)
    profile_rnd = random.Random(seed + 1)
    governorates = sorted({d.governorate_code for d in directorates.values()})
    per_governorate = max(10, (PROFILES if households > SMOKE_HOUSEHOLDS else 160) // len(governorates))
    profiles = [household_profile(profile_rnd, hardship=hardship(code)) for code in governorates
                for _ in range(per_governorate)]
    first_profile = {code: n * per_governorate for n, code in enumerate(governorates)}
    scoring_inputs = [{**p["conditions"], "members": [
        {**m, "national_id": "000000000", "name_ar": "-", "birth_date": m["birth_date"].isoformat()}
        for m in p["members"]]} for p in profiles]
    per_row = ("household_id", "case_id", "directorate_id", "created_at", "created_by_id")
    scored = [{k: v for k, v in score_row(measure, s, household_id=0, case_id=None, directorate_id=0, actor_id=None,
                                          now=now, previous=None).items() if k not in per_row}
              for s in eligibility.score_many(measure, scoring_inputs, as_of=today)]
    say(f"{len(profiles)} household profiles scored "
        f"({sum(1 for s in scored if s['category'] != 'not_poor')} poor or deeply poor)")

    def next_id(model: Any) -> int:
        return int(session.scalar(select(func.max(model.id))) or 0) + 1

    ids = {"household": next_id(Household), "person": next_id(Person), "case": next_id(Case),
           "instance": next_id(ProcessInstance), "score": next_id(EligibilityScore), "event": next_id(AuditEvent),
           "request": next_id(DocumentRequest), "document": next_id(Document)}
    person_serial = _next_serial(session, SYNTHETIC_SERIAL, REAL_SERIAL)
    session.close()

    pool = sorted(directorates_wanted or directorates)
    big = round(households * BIG_SHARE) if BIG_DIRECTORATE in pool and len(pool) > 1 else 0
    others = [c for c in pool if c != BIG_DIRECTORATE or not big]
    codes = [BIG_DIRECTORATE] * big + [others[i % len(others)] for i in range(households - big)]
    rnd.shuffle(codes)
    kinds, weights = list(KINDS), list(KINDS.values())

    sink = Sink(engine)
    tables = {name: model.__table__ for name, model in (
        ("households", Household), ("persons", Person), ("process_instances", ProcessInstance), ("cases", Case),
        ("eligibility_scores", EligibilityScore), ("task_records", TaskRecord), ("audit_events", AuditEvent),
        ("document_requests", DocumentRequest), ("documents", Document))}
    sink.share(tables["eligibility_scores"], scored)
    sink.share(tables["process_instances"], [
        {"process_version_id": version_id, "serializer_version": serializer_version, "state": templates[kind]}
        for kind in kinds])
    sink.drop_indexes(tables)
    # The database parses and indexes one chunk while this process builds the next.
    chunks: queue.Queue[dict[str, list[dict[str, Any]]] | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []

    def write_chunks() -> None:
        try:
            while (chunk := chunks.get()) is not None:
                for name, table in tables.items():
                    sink.write(table, chunk[name])
                sink.commit()
                say(f"households {sink.counts.get('households', 0):,}/{households:,}, "
                    f"task rows {sink.counts.get('task_records', 0):,} ({time.perf_counter() - started:.1f} s)")
        except BaseException as err:  # noqa: BLE001 (handed to the main thread)
            failed.append(err)
            while chunks.get() is not None:  # let the producer finish without blocking
                pass

    writer = threading.Thread(target=write_chunks, name="registry-writer", daemon=True)
    writer.start()
    try:
        for chunk_start in range(0, households, CHUNK):
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
            for index in range(chunk_start, min(households, chunk_start + CHUNK)):
                person_serial = _one_household(
                    rows, rnd=rnd, code=codes[index], directorate=directorates[codes[index]], staff=staff[codes[index]],
                    profile_index=first_profile[directorates[codes[index]].governorate_code]
                    + rnd.randrange(per_governorate), profiles=profiles, scored=scored,
                    kind=rnd.choices(kinds, weights)[0], ids=ids, person_serial=person_serial, now=now)
            chunks.put(rows)
            if failed:
                break
        chunks.put(None)
        writer.join()
        if failed:
            raise failed[0]
        if sink.postgres:
            for name in ("households", "persons", "process_instances", "cases", "eligibility_scores", "audit_events",
                         "document_requests", "documents", "users"):
                sink.connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 1) FROM \"{name}\"))"))
            sink.commit()
        say("writing: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sink.seconds.items()))
        rebuilt = time.perf_counter()
        sink.rebuild_indexes()
        say(f"indexes rebuilt ({time.perf_counter() - rebuilt:.1f} s)")
        if sink.postgres:
            # VACUUM too: index-only scans (the inbox's) skip the table only for pages the visibility map
            # marks all-visible, and freshly copied rows are not marked until a vacuum. It runs outside a
            # transaction.
            sink.commit()
            vacuumed = time.perf_counter()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
                autocommit.execute(text("VACUUM ANALYZE"))
            say(f"vacuumed and analysed ({time.perf_counter() - vacuumed:.1f} s)")
        else:
            sink.connection.execute(text("ANALYZE"))
        sink.commit()
        from sqlalchemy import inspect

        counts = {}
        for name in sorted(inspect(engine).get_table_names()):
            if name != "alembic_version":
                counts[name] = int(sink.connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar()  # noqa: S608
                                   or 0)
    finally:
        sink.close()
    return counts, real


def _one_household(rows: dict[str, list[dict[str, Any]]], *, rnd: random.Random, code: str, directorate: Any,
                   staff: Staff, profile_index: int, profiles: list[dict[str, Any]], scored: list[dict[str, Any]],
                   kind: str, ids: dict[str, int], person_serial: int, now: dt.datetime) -> int:
    """Rows of one household, its case (one per household), the case's instance, tasks, events and score."""
    profile = profiles[profile_index]
    members = named_members(rnd, profile, person_serial)
    person_serial += len(members)
    low, high = AGE_DAYS[kind]
    opened = now - dt.timedelta(days=rnd.uniform(low, high))
    household_id, case_id = ids["household"], ids["case"]
    ids["household"] += 1
    governorate = directorate.governorate_code
    locality = rnd.choice(LOCALITIES)
    address = f"شارع {rnd.randint(1, 60)}، بناية {rnd.randint(1, 40)}"
    phone = f"059{rnd.randint(1_000_000, 9_999_999)}"
    rows["households"].append({
        "id": household_id, "directorate_id": directorate.id, "governorate_code": governorate, "locality": locality,
        "address": address, "phone": phone, "reasons": profile["reasons"],
        "reasons_details": "Lost regular income; rent and medicine are unpaid.",
        "living_conditions": profile["conditions"], "consent_data_exchange": True, "consent_at": opened,
        "created_at": opened, "updated_at": opened})
    for m in members:
        rows["persons"].append({
            "id": ids["person"], "household_id": household_id, "position": m["position"],
            "national_id": m["national_id"], "name_ar": m["name_ar"], "name_latin": m["name_latin"],
            "name_search": _search_key(f"{m['name_ar']} {m['name_latin']}"), "relation": m["relation"],
            "sex": m["sex"], "birth_date": m["birth_date"], "marital_status": m["marital_status"],
            "disability": m["disability"], "chronic_illness": m["chronic_illness"],
            "health_insurance": m["health_insurance"], "schooling": m["schooling"], "work": m["work"],
            "active": True})
        ids["person"] += 1
    registered = kind != "registration"  # a case still at registration has not recorded its household yet
    score = scored[profile_index]
    rows["eligibility_scores"].append({
        "id": ids["score"], "household_id": household_id, "case_id": case_id if registered else None,
        "directorate_id": directorate.id, "created_at": opened + dt.timedelta(hours=2), "created_by_id": None,
        "_shared": profile_index})
    ids["score"] += 1

    ids["case"] += 1
    instance_id = ids["instance"]
    ids["instance"] += 1
    loops = rnd.choices([0, 1, 2, 3], [65, 25, 8, 2])[0]
    old = (now - opened).days >= 300 and kind in ("review", "attach", "rejected", "closed")
    if old and rnd.random() < OLD_LOOPERS:  # an old case sent back for documents again and again
        loops = rnd.randint(8, 40)
    follow_ups = rnd.randint(0, 5)
    path = completed_path(kind, loops, follow_ups)
    ready_spec = READY_OF_KIND.get(kind)
    steps = len(path) + (1 if ready_spec else 0)
    span = (now - opened) * 0.95
    times = sorted(opened + span * rnd.random() for _ in range(steps)) if steps else []
    opener = rnd.choice(staff.reception)
    manager = rnd.choice(staff.case_manager) if kind not in (
        "registration", "recommendation", "review", "attach", "rejected") else None
    closed = kind in ("closed", "rejected")
    registration = registration_data(members, profile["conditions"], profile["reasons"], governorate=governorate,
                                     locality=locality, address=address, phone=phone)
    plan_end = None
    for position, (spec, decision) in enumerate(path):
        form_key, lane, stage, title, due_days = TASKS[spec]
        when = times[position]
        by = opener if lane == "reception" else manager if lane == "case_manager" else rnd.choice(staff.supervisor)
        data = task_data(spec, decision, rnd, when, registration)
        if spec == "assistance_plan":
            plan_end = dt.date.fromisoformat(data["plan_end_date"])
        rows["task_records"].append({
            "id": str(uuid.UUID(int=rnd.getrandbits(128) ^ (case_id << 80), version=4)), "instance_id": instance_id,
            "business_key": str(case_id), "scope": code, "spec_id": spec, "title": title, "lane": lane,
            "form_key": form_key, "stage": stage, "assignee_id": by,
            "due_at": when - dt.timedelta(days=rnd.uniform(0.1, 3)) + dt.timedelta(days=due_days),
            "state": "completed", "created_at": when - dt.timedelta(hours=rnd.uniform(1, 48)), "claimed_at": None,
            "completed_at": when, "completed_by_id": by, "data": data})
        if spec == "attach_documents":
            for asked in rnd.sample(DOCUMENT_KINDS, rnd.randint(1, 2)):
                size = rnd.randint(40_000, 2_500_000)
                digest = hashlib.sha256(f"{case_id}-{ids['document']}".encode()).hexdigest()
                rows["documents"].append({
                    "id": ids["document"], "case_id": case_id, "name": f"{asked}.pdf",
                    "content_type": "application/pdf", "size": size, "sha256": digest,
                    "storage_key": f"demo/{digest}", "uploaded_by_id": by,
                    "uploaded_at": when, "requested_document": asked})
                ids["document"] += 1
        if spec == "review_eligibility" and decision == "request_documents":
            rows["document_requests"].append({
                "id": ids["request"], "case_id": case_id, "missing": data["missing_documents"],
                "note": data["review_comments"], "requested_by_id": by, "requested_at": when})
            ids["request"] += 1
    if ready_spec:
        form_key, lane, stage, title, due_days = TASKS[ready_spec]
        when = times[-1]
        assignee = opener if ready_spec in ("register_household", "recommend_eligibility") else manager
        claimed = None
        if lane == "supervisor" and rnd.random() < 0.03:
            assignee, claimed = rnd.choice(staff.supervisor), when + dt.timedelta(hours=1)
        elif ready_spec == "attach_documents" and rnd.random() < 0.05:
            assignee, claimed = rnd.choice(staff.reception), when + dt.timedelta(hours=1)
        rows["task_records"].append({
            "id": str(uuid.UUID(int=rnd.getrandbits(128) ^ (case_id << 80), version=4)), "instance_id": instance_id,
            "business_key": str(case_id), "scope": code, "spec_id": ready_spec, "title": title, "lane": lane,
            "form_key": form_key, "stage": stage, "assignee_id": assignee,
            "due_at": when + dt.timedelta(days=due_days), "state": "ready", "created_at": when,
            "claimed_at": claimed, "completed_at": None, "completed_by_id": None, "data": None})
    last = times[-1] if times else opened
    rows["process_instances"].append({
        "id": instance_id, "_shared": KIND_INDEX[kind], "business_key": str(case_id), "scope": code,
        "lock_version": 1 + len(path),
        "status": "completed" if closed else "running", "created_at": opened, "updated_at": last,
        "completed_at": last if closed else None})
    year = opened.year
    rows["cases"].append({
        "id": case_id, "reference": f"{code}-{year}-{case_id:06d}", "directorate_id": directorate.id,
        "household_id": household_id if registered else None, "instance_id": instance_id,
        "applicant_national_id": members[0]["national_id"], "channel": "reception",
        "status": "closed" if kind == "closed" else "rejected" if kind == "rejected" else "open",
        "stage": STAGE_OF_KIND[kind], "case_manager_id": manager, "opened_by_id": opener,
        "fields": {"plan_end_date": plan_end.isoformat()} if plan_end else {}, "prefill": {"consent_for_lookup": True},
        "outcome_reason": "Income above the poverty line; no deprivation found at the visit."
        if kind == "rejected" else None, "created_at": opened, "closed_at": last if closed else None})

    def event(at: dt.datetime, actor: int | None, action: str, details: dict[str, Any]) -> None:
        rows["audit_events"].append({"id": ids["event"], "at": at, "actor_id": actor, "case_id": case_id,
                                     "action": action, "details": details})
        ids["event"] += 1

    event(opened, opener, "case_opened", {"reference": f"{code}-{year}-{case_id:06d}", "channel": "reception",
                                          "process_version": 1})
    if registered:
        first = times[0]
        event(first, opener, "household_recorded", {"household_id": household_id, "members": len(members)})
        event(first, opener, "eligibility_scored", {"score": score["score"], "category": score["category"],
                                                    "rule_version": score["rule_version"]})
        spec, _decision = path[-1]
        form_key, _lane, _stage, title, _due = TASKS[spec]
        event(times[len(path) - 1], opener, "task_completed",
              {"task": spec, "title": title, "form": form_key, "next": [ready_spec] if ready_spec else []})
    if manager is not None:
        event(times[min(len(times) - 1, 3 + 2 * loops)], None, "case_manager_assigned",
              {"case_manager_id": manager, "chosen_by_supervisor": False})
    if closed:
        event(last, None, f"case_{'closed' if kind == 'closed' else 'rejected'}",
              {"before": "open", "after": "closed" if kind == "closed" else "rejected"})
    return person_serial


# --- the real cases: one per kind, through the services ---------------------------------------------

class Driver:
    """Moves real cases through ``registry.cases`` as the demo users of one directorate."""

    def __init__(self, session: Any, library: Any, *, now: dt.datetime, storage: Any = None) -> None:
        self.session = session
        self.storage = storage
        self.library = library
        self.clock = now - dt.timedelta(days=2)

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=30)
        return self.clock

    def user(self, username: str) -> Any:
        from sqlalchemy import select

        from registry.models import User

        user = self.session.scalar(select(User).where(User.username == username))
        assert user is not None and user.scope
        return user

    def ready(self, case_id: int) -> Any:
        from sqlalchemy import select

        from engine.models import TaskRecord

        rows = self.session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(case_id),
                                                             TaskRecord.state == "ready")).all()
        assert len(rows) == 1, [(r.spec_id, r.state) for r in rows]
        return rows[0]

    def start(self, reception: str) -> int:
        from registry import cases

        self.session.close()
        case = cases.start_registration(self.session, actor=self.user(reception), library=self.library,
                                        now=self.tick())
        return int(case.id)

    def complete(self, username: str, case_id: int, data: dict[str, Any], form: str) -> None:
        import inspect

        from registry import cases

        self.session.close()
        actor = self.user(username)
        task = self.ready(case_id)
        assert task.form_key == form, (task.form_key, form)
        extra: dict[str, Any] = {}
        if self.storage is not None and "storage" in inspect.signature(cases.complete_task).parameters:
            extra["storage"] = self.storage
        cases.complete_task(self.session, actor=actor, library=self.library, task_id=task.id, data=data,
                            now=self.tick(), **extra)

    def state(self, case_id: int) -> str:
        from engine.models import ProcessInstance
        from registry.models import Case

        self.session.close()
        case = self.session.get(Case, case_id)
        assert case is not None and case.instance_id is not None
        instance = self.session.get(ProcessInstance, case.instance_id)
        assert instance is not None
        return str(instance.state)


REAL_SERIAL = 90_000_000  # national IDs of real cases; synthetic people use 20,000,000 upwards
SYNTHETIC_SERIAL = 20_000_000


def _next_serial(session: Any, low: int, high: int) -> int:
    """The first free serial of the range [low, high): after the highest national ID already there."""
    from sqlalchemy import func, select

    from registry.models import Person

    top = session.scalar(select(func.max(Person.national_id)).where(
        Person.national_id >= f"{low:08d}0", Person.national_id <= f"{high - 1:08d}9"))
    return low if top is None else int(top[:8]) + 1


def real_registration(rnd: random.Random, serial: int, governorate: str = "PS-RBH") -> dict[str, Any]:
    """A complete, valid registration of a new household (IDs from ``serial``)."""
    profile = household_profile(rnd)
    members = named_members(rnd, profile, serial)
    return registration_data(members, profile["conditions"], profile["reasons"], governorate=governorate,
                             locality="البيرة", address="حي أم الشرايط", phone="0599123456")


REVIEW_REQUEST = {"decision": "request_documents", "missing_documents": ["income_proof"],
                  "review_comments": "Proof of income, please."}
RECOMMEND = {"decision": "recommend_eligible", "recommendation_notes": "Deprived in several areas."}


def walk(driver: Driver, case_id: int, kind: str, *, rnd: random.Random, serial: int, users: dict[str, str]) -> None:
    """Move a real case (at registration) to where cases of ``kind`` stand."""
    reception, supervisor, manager = users["reception"], users["supervisor"], users["case_manager"]
    if kind == "registration":
        return
    driver.complete(reception, case_id, real_registration(rnd, serial), "registration")
    if kind == "recommendation":
        return
    driver.complete(reception, case_id, RECOMMEND, "eligibility_recommendation")
    if kind == "review":
        return
    if kind in ("attach",):
        driver.complete(supervisor, case_id, REVIEW_REQUEST, "eligibility_review")
        return
    if kind == "rejected":
        driver.complete(supervisor, case_id, {"decision": "reject", "rejection_reason": "Income above the line."},
                        "eligibility_review")
        return
    manager_id = driver.user(manager).id
    driver.complete(supervisor, case_id, {"decision": "approve", "case_manager": str(manager_id)},
                    "eligibility_review")
    if kind == "assessment":
        return
    day = driver.clock.date()
    driver.complete(manager, case_id, task_data("needs_assessment_visit", "", rnd, driver.clock, {}),
                    "needs_assessment")
    if kind == "planning":
        return
    plan = task_data("assistance_plan", "", rnd, driver.clock, {})
    plan["plan_start_date"] = day.isoformat()
    driver.complete(manager, case_id, plan, "assistance_plan")
    if kind == "plan_review":
        return
    driver.complete(supervisor, case_id, {"decision": "approve"}, "plan_review")
    if kind == "implementation":
        return
    driver.complete(manager, case_id, task_data("follow_up_visit", "", rnd, driver.clock, {}), "follow_up")
    if kind == "evaluation":
        return
    driver.complete(manager, case_id, task_data("outcome_evaluation", "close", rnd, driver.clock, {}),
                    "outcome_evaluation")


def _real_cases(session: Any, library: Any, staff: Staff, *, now: dt.datetime, rnd: random.Random,
                storage: Any = None) -> tuple[dict[str, str], dict[str, int]]:
    """One real case per kind in the big directorate; their states are the templates of synthetic instances."""
    driver = Driver(session, library, now=now, storage=storage)
    users = {"reception": "reception1", "supervisor": "supervisor1", "case_manager": "casemanager1"}
    templates, real = {}, {}
    serial = _next_serial(session, REAL_SERIAL, 100_000_000)
    for kind in KINDS:
        case_id = driver.start(users["reception"])
        walk(driver, case_id, kind, rnd=rnd, serial=serial, users=users)
        serial += 20
        templates[kind] = driver.state(case_id)
        real[kind] = case_id
    session.close()
    return templates, real
