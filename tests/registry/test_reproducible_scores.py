"""Every decision can be reproduced from the database alone, and each new score says what changed.

Households are registered through the API as reception staff would; rule changes are deployed as an
analyst would (a copy of the rule files, `processes deploy`), then the registry is re-scored.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from registry import eligibility
from registry.models import EligibilityScore, Household, RuleVersion
from tests.conftest import Api, Clock
from tests.factories import member, registration
from tests.webui.test_case_paths import BOTH_DATABASES, complete, open_case

ROOT = Path(__file__).resolve().parents[2]


def _cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def _register(reception: Api, **overrides: Any) -> int:
    case_id = open_case(reception)
    complete(reception, case_id, registration(**overrides))
    return case_id


def _scores(reception: Api, case_id: int) -> list[dict[str, Any]]:
    """The case's scores as the API gives them, newest first."""
    scores: list[dict[str, Any]] = reception.get(f"/cases/{case_id}").get_json()["eligibility"]
    return scores


def _deploy_rules(app: Flask, tmp_path: Path, change: Callable[[str], str]) -> Path:
    """Deploy a copy of the rule files with ``change`` applied to the measure; returns the copy's folder."""
    rules = tmp_path / "rules"
    if not rules.exists():
        shutil.copytree(ROOT / "rules", rules)
    measure = rules / eligibility.MEASURE_FILE
    text = measure.read_text(encoding="utf-8")
    changed = change(text)
    assert changed != text
    measure.write_text(changed, encoding="utf-8")
    app.config["RULES_DIR"] = str(rules)
    deployed = _cli(app, "processes", "deploy")
    assert deployed.exit_code == 0, deployed.output
    return rules


def _lower_k(text: str) -> str:
    """k from 1/3 to 1/100: a household deprived in anything becomes poor."""
    return re.sub(r'(poverty_cutoff_k:\s*)"?[0-9/.]+"?', r'\g<1>"1/100"', text, count=1)


def _db(app: Flask) -> Any:
    from webui.db import db_session

    return db_session()


@BOTH_DATABASES
def test_every_stored_score_is_recomputed_from_the_database_alone(api: Callable[[str], Api], app: Flask,
                                                                  tmp_path: Path) -> None:
    reception = api("reception1")
    cases = [_register(reception),
             _register(reception, monthly_income=0, feels_unsafe=True, movement_restricted=True),
             _register(reception, monthly_income=9000, unmet_medical_needs=False, damp_or_leaking=False,
                       services_hard_to_reach=[], rooms=4, water_source="public_network", sanitation="public_sewer"),
             _register(api("reception2"), monthly_income=150)]
    rules = _deploy_rules(app, tmp_path, _lower_k)
    rescored = _cli(app, "registry", "rescore")
    assert rescored.exit_code == 0 and "4 households re-scored" in rescored.output, rescored.output
    assert "rules_changed 4" in rescored.output

    with app.app_context():
        session = _db(app)
        versions = {v.label: v for v in session.scalars(select(RuleVersion))}
        labels = set(session.scalars(select(EligibilityScore.rule_version)))
        assert set(versions) == labels and len(labels) == 2
        new_label = eligibility.load_measure(rules).rule_version
        assert versions[new_label].files[eligibility.MEASURE_FILE] == \
            (rules / eligibility.MEASURE_FILE).read_text(encoding="utf-8")
        assert session.scalar(select(EligibilityScore.id).where(EligibilityScore.rule_version == new_label)) \
            is not None

    # No rule file anywhere: neither the working copy, nor the shipped files, nor the deployed copies.
    shutil.rmtree(rules)
    empty = tmp_path / "nothing"
    empty.mkdir()
    for name in ("RULES_DIR", "PROCESSES_DIR", "FORMS_DIR"):
        app.config[name] = str(empty)
    shutil.rmtree(Path(app.config["VERSIONS_DIR"]), ignore_errors=True)
    eligibility._MEASURE_CACHE.clear()
    eligibility._STORED_CACHE.clear()

    result = _cli(app, "registry", "recompute", "--all")
    assert result.exit_code == 0, result.output
    assert "8 score(s) confirmed, 0 not confirmed" in result.output

    score_id = _scores(reception, cases[1])[0]["id"]
    answer = reception.get(f"/scores/{score_id}/recompute")
    assert answer.status_code == 200
    assert answer.get_json()["outcome"] == "confirmed" and answer.get_json()["differences"] == []


def test_a_stored_score_that_no_longer_matches_its_rules_is_reported_with_what_differs(
        api: Callable[[str], Api], app: Flask) -> None:
    reception = api("reception1")
    case_id = _register(reception)
    stored = _scores(reception, case_id)[0]
    indicators = [dict(row, deprived=not row["deprived"]) if row["key"] == stored["indicators"][0]["key"] else row
                  for row in stored["indicators"]]
    with app.app_context():
        session = _db(app)
        session.execute(update(EligibilityScore).where(EligibilityScore.id == stored["id"])
                        .values(category="not_poor" if stored["category"] != "not_poor" else "poor",
                                indicators=indicators))
        session.commit()

    answer = reception.get(f"/scores/{stored['id']}/recompute").get_json()
    assert answer["outcome"] == "differs" and not answer["confirmed"]
    differing = {d["what"]: d for d in answer["differences"]}
    assert set(differing) == {"category", f"indicator:{indicators[0]['key']}"}
    assert differing["category"]["recomputed"] == stored["category"]

    result = _cli(app, "registry", "recompute", "--score", str(stored["id"]))
    assert result.exit_code == 1
    assert f"score {stored['id']}: differs" in result.output and "- category: stored" in result.output


def test_recomputing_is_for_staff_of_the_scores_directorate(api: Callable[[str], Api], app: Flask) -> None:
    case_id = _register(api("reception1"))
    score_id = _scores(api("reception1"), case_id)[0]["id"]
    assert api("supervisor1").get(f"/scores/{score_id}/recompute").get_json()["outcome"] == "confirmed"
    assert api("reception2").get(f"/scores/{score_id}/recompute").status_code == 404
    assert api("reception1").get(f"/scores/{score_id + 1000}/recompute").status_code == 404
    missing = _cli(app, "registry", "recompute", "--score", str(score_id + 1000))
    assert missing.exit_code == 1 and "no such score" in missing.output
    assert _cli(app, "registry", "recompute").exit_code == 2  # neither --all nor --score


def test_a_score_without_stored_rules_says_so(api: Callable[[str], Api], app: Flask) -> None:
    reception = api("reception1")
    score_id = _scores(reception, _register(reception))[0]["id"]
    with app.app_context():
        session = _db(app)
        session.execute(update(EligibilityScore).where(EligibilityScore.id == score_id)
                        .values(rule_version="2024.9+000000000000"))
        session.commit()
    answer = reception.get(f"/scores/{score_id}/recompute").get_json()
    assert answer["outcome"] == "rules_not_stored" and answer["problem"]


def test_the_label_changes_with_any_rule_file_and_the_same_files_share_one_version(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    first = eligibility.load_measure(rules)
    table = rules / eligibility.CATEGORY_FILE
    table.write_text(table.read_text(encoding="utf-8").replace("Everyone else.", "Every other household."),
                     encoding="utf-8")
    second = eligibility.load_measure(rules)
    assert first.rule_version.split("+")[0] == second.rule_version.split("+")[0] == "2025.1-draft"
    assert second.rule_version != first.rule_version
    again = eligibility.load_stored_measure(second.rule_version, second.sources)
    assert again.rule_version == second.rule_version and set(second.sources) == set(eligibility.MEASURE_FILES)


def test_each_new_score_says_whether_the_rules_the_data_or_time_changed(
        api: Callable[[str], Api], app: Flask, clock: Clock, tmp_path: Path) -> None:
    reception = api("reception1")
    # The son turns 18 on 2026-12-01, a month after registration (2026-11-02): the equivalence scale
    # counts him as an adult from then on, so the income per adult equivalent falls.
    members = [member(), member("son", birth_date="2008-12-01", marital_status="single", work="student",
                                schooling="enrolled")]
    case_id = _register(reception, members=members, monthly_income=1500)
    first = _scores(reception, case_id)[0]
    assert first["reasons"] == ["first_score"] and first["previous_score_id"] is None

    assert _cli(app, "registry", "rescore").exit_code == 0  # same rules, data and day
    assert _scores(reception, case_id)[0]["reasons"] == ["unchanged"]

    clock.advance(days=3)  # no birthday on the way: time passing alone changed nothing
    reception = api("reception1")  # a new token: the first one has expired
    assert _cli(app, "registry", "rescore").exit_code == 0
    assert _scores(reception, case_id)[0]["reasons"] == ["unchanged"]

    clock.advance(days=30)
    reception = api("reception1")
    result = _cli(app, "registry", "rescore")
    assert "time_passed 1" in result.output, result.output
    latest, before = _scores(reception, case_id)[:2]
    assert latest["reasons"] == ["time_passed"] and latest["previous_score_id"] == before["id"]
    assert latest["income_per_ae"] < before["income_per_ae"]

    with app.app_context():
        session = _db(app)
        household = session.scalar(select(Household).join(EligibilityScore).where(
            EligibilityScore.id == latest["id"]))
        household.living_conditions = {**household.living_conditions, "monthly_income": 400}
        session.commit()
    _deploy_rules(app, tmp_path, _lower_k)
    assert _cli(app, "registry", "rescore").exit_code == 0
    changed = _scores(reception, case_id)[0]
    assert changed["reasons"] == ["rules_changed", "data_changed"]
    assert changed["inputs"]["monthly_income"] == 400


def test_the_api_eligibility_output_carries_inputs_date_income_cut_offs_lines_and_reason(
        api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = _register(reception, monthly_income=0, feels_unsafe=True, movement_restricted=True)
    score = _scores(reception, case_id)[0]
    assert score["as_of"] == "2026-11-02"
    assert score["inputs"]["monthly_income"] == 0 and len(score["inputs"]["members"]) == 4
    assert score["income_per_ae"] == 0 and score["k"] == "1/3" and score["deep_k"] == "1/2"
    assert score["poverty_line"] > score["deep_poverty_line"] > 0
    reason = score["category_reason"]
    assert reason["category"] == score["category"] == "deeply_poor"
    assert "income_below_deep_poverty_line" in reason["facts"]
    assert reason["numbers"]["income_per_ae"] == 0 and reason["numbers"]["k"] == "1/3"
    assert reason["code"] and reason["because"]


def test_the_case_page_compares_two_scores_in_both_languages(api: Callable[[str], Api], app: Flask,
                                                            login_as: Callable[..., FlaskClient],
                                                            tmp_path: Path) -> None:
    reception = api("reception1")
    case_id = _register(reception, monthly_income=9000, unmet_medical_needs=False, damp_or_leaking=False,
                        services_hard_to_reach=[])
    _deploy_rules(app, tmp_path, _lower_k)
    assert _cli(app, "registry", "rescore").exit_code == 0
    later, earlier = _scores(reception, case_id)[:2]

    page = login_as("supervisor1").get(f"/cases/{case_id}?tab=eligibility").get_data(as_text=True)
    link = f"/cases/{case_id}/scores/compare?a={earlier['id']}&amp;b={later['id']}"
    assert link in page and 'data-reason="rules_changed"' in page

    english = login_as("supervisor1").get(f"/cases/{case_id}/scores/compare",
                                          query_string={"a": earlier["id"], "b": later["id"]})
    assert english.status_code == 200
    html = english.get_data(as_text=True)
    assert "The two scores used different rules." in html
    assert earlier["rule_version"] in html and later["rule_version"] in html
    assert "The data the rules read is the same." in html
    assert "Poverty cut-off k" in html  # 1/3 before, 1/100 after

    arabic = login_as("supervisor1", "ar").get(f"/cases/{case_id}/scores/compare",
                                               query_string={"a": earlier["id"], "b": later["id"]})
    assert arabic.status_code == 200 and "مقارنة درجتين" in arabic.get_data(as_text=True)

    other = login_as("supervisor2").get(f"/cases/{case_id}/scores/compare",
                                        query_string={"a": earlier["id"], "b": later["id"]})
    assert other.status_code == 404
    missing = login_as("supervisor1").get(f"/cases/{case_id}/scores/compare", query_string={"a": "x"})
    assert missing.status_code == 400


def test_upgrading_keeps_the_rule_files_of_earlier_scores_from_the_deployed_versions(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from webui.cli import upgrade_database

    url = f"sqlite:///{tmp_path / 'earlier.sqlite3'}"
    upgrade_database(url, "0008")
    measure_text = (ROOT / "rules" / eligibility.MEASURE_FILE).read_text(encoding="utf-8")
    table_text = (ROOT / "rules" / eligibility.CATEGORY_FILE).read_text(encoding="utf-8")
    # Before 0009 a label hashed these two files; early versions stored the decision table bare.
    digest = eligibility.content_digest({eligibility.MEASURE_FILE: measure_text.encode(),
                                         eligibility.CATEGORY_FILE: table_text.encode()})
    label = f"2025.1-draft+{digest[:12]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO directorates (id, code, name_en, name_ar, governorate_code) "
                                "VALUES (1, 'RBH', 'Ramallah', 'رام الله', 'PS-RBH')"))
        connection.execute(text(
            "INSERT INTO households (id, directorate_id, governorate_code, locality, reasons, living_conditions, "
            "consent_data_exchange, created_at, updated_at) "
            "VALUES (1, 1, 'PS-RBH', 'x', '[]', '{}', 0, '2026-01-01', '2026-01-01')"))
        connection.execute(text(
            "INSERT INTO process_versions (process_id, version, content_hash, spec_json, sources, deployed_at, "
            "origin) VALUES ('case_management', 1, 'h', '{}', :sources, '2026-01-01', 'file')"),
            {"sources": json.dumps({f"rules/{eligibility.MEASURE_FILE}": measure_text,
                                    eligibility.CATEGORY_FILE: table_text})})
        for score_id, day, inputs in ((1, "2026-01-05", {"monthly_income": 700}),
                                      (2, "2026-02-05", {"monthly_income": 700}),
                                      (3, "2026-03-05", {"monthly_income": 300})):
            connection.execute(text(
                "INSERT INTO eligibility_scores (id, household_id, directorate_id, rule_version, inputs, indicators, "
                "score, score_exact, category, details, created_at) "
                "VALUES (:id, 1, 1, :label, :inputs, '[]', 0.5, '1/2', 'poor', '{}', :day)"),
                {"id": score_id, "label": label if score_id < 3 else "2024.1+abcdefabcdef",
                 "inputs": json.dumps(inputs), "day": day})
    upgrade_database(url)
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT label, files, first_used_at FROM rule_versions")).all()
        linked = connection.execute(text(
            "SELECT id, previous_score_id, reasons FROM eligibility_scores ORDER BY id")).all()
    engine.dispose()
    assert [(row[0], json.loads(row[1]), str(row[2])[:10]) for row in kept] == [
        (label, {eligibility.MEASURE_FILE: measure_text, eligibility.CATEGORY_FILE: table_text}, "2026-01-05")]
    assert [(row[0], row[1], json.loads(row[2])) for row in linked] == [
        (1, None, ["first_score"]), (2, 1, ["not_recorded"]), (3, 2, ["rules_changed", "data_changed"])]


def test_an_older_rule_version_without_the_words_added_since_still_loads_to_recompute() -> None:
    """Category labels were added to the measure file later; they change no score, so a stored version
    without them loads (with the keys as labels), while the working files must have them."""
    files = {name: (ROOT / "rules" / name).read_text(encoding="utf-8") for name in eligibility.MEASURE_FILES
             if (ROOT / "rules" / name).exists()}
    older = dict(files)
    older[eligibility.MEASURE_FILE] = re.sub(r"\ncategories:\n(?:  .*\n|\s*\n)*", "\n", files[eligibility.MEASURE_FILE])
    assert "categories:" not in older[eligibility.MEASURE_FILE]
    measure = eligibility.load_stored_measure("older", older)
    assert measure.category_labels["incomplete"] == {"en": "incomplete", "ar": "incomplete"}
    assert measure.rule_version != eligibility.load_stored_measure("now", files).rule_version


@BOTH_DATABASES
def test_a_score_stored_without_the_rules_words_explains_itself_as_one_stored_with_them(
        api: Callable[[str], Api], app: Flask) -> None:
    from registry import scores
    from registry.explanations import explain

    reception = api("reception1")
    case_id = _register(reception, feels_unsafe=True)
    labelled = _scores(reception, case_id)[0]
    with app.app_context():
        session = _db(app)
        stored = session.get(EligibilityScore, labelled["id"])
        assert stored is not None and all("label" in row for row in stored.indicators)
        columns = {name: getattr(stored, name) for name in (
            "household_id", "case_id", "directorate_id", "rule_version", "inputs", "score", "score_exact", "category",
            "details", "created_at", "reasons")}
        compact = EligibilityScore(**columns, indicators=scores.stored_indicators(stored.indicators))
        session.add(compact)
        session.commit()
        raw = session.scalar(select(EligibilityScore.indicators).where(EligibilityScore.id == compact.id))
        assert raw and not any({"label", "cutoff", "unit", "dimension_label"} & set(row) for row in raw)
        assert len(json.dumps(raw, ensure_ascii=False)) * 3 < len(json.dumps(stored.indicators, ensure_ascii=False))
        assert compact.indicators == stored.indicators  # written in this session: labelled at once

        session.expunge_all()  # read both back as a page would
        old, new = session.get(EligibilityScore, labelled["id"]), session.get(EligibilityScore, compact.id)
        assert old is not None and new is not None
        assert new.indicators == old.indicators
        for lang in ("ar", "en"):
            assert explain(new, lang=lang) == explain(old, lang=lang)
    by_id = {score["id"]: score for score in _scores(reception, case_id)}
    assert by_id[compact.id]["indicators"] == by_id[labelled["id"]]["indicators"]


def test_a_stored_indicator_row_keeps_the_households_results_and_reads_back_as_scored() -> None:
    from registry import scores
    from tests.registry.test_eligibility import AS_OF, RULES, household

    measure = eligibility.load_measure(RULES)
    data = household(monthly_income=0)
    del data["electricity"]  # unknown: its weight is shared among the others, so applied weights differ
    data["members"][0]["disability"] = True
    scoring = eligibility.score_household(measure, data, as_of=AS_OF)
    assert any(row["weight_exact"] != row["rule_weight_exact"] for row in scoring.indicators)
    dimension_labels = {d.key: dict(d.label) for d in measure.dimensions}
    as_stored_before = [{**row, "dimension_label": dimension_labels[row["dimension"]]} for row in scoring.indicators]

    stored = json.loads(json.dumps(scores.stored_indicators(scoring.indicators)))
    assert all(set(row) <= {"key", "value", "deprived", "counted", "unknown", "unknown_counts_as", "reason",
                            "unverified", "weight", "weight_exact"} for row in stored)
    assert scores.labelled_indicators(stored, eligibility.rule_words(measure)) == \
        json.loads(json.dumps(as_stored_before))
