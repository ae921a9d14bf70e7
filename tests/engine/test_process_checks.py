"""`processes check` and deployment refuse what would break at run time, naming the file and the task."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from engine.errors import ProcessInvalid
from engine.library import Library, check_library, deploy
from registry.checks import check_all

BPMN = "case_management.bpmn"


@pytest.fixture
def workspace(editable_library: Library) -> Library:
    return editable_library


def edit(library: Library, old: str, new: str) -> None:
    path = library.processes_dir / BPMN
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(library: Library) -> list[str]:
    return check_library(library)[str(library.processes_dir / BPMN)]


def test_the_shipped_files_pass(workspace: Library) -> None:
    assert all(found == [] for found in check_library(workspace).values())


@pytest.mark.parametrize("condition", [
    '__import__("os").system("id")',
    "decision.__class__",
    'open("/etc/passwd") != None',
])
def test_a_dangerous_condition_is_refused_at_deployment(workspace: Library, condition: str, app: Flask) -> None:
    edit(workspace, 'decision == "approve"</bpmn:conditionExpression>',
         condition.replace('"', "&quot;") + "</bpmn:conditionExpression>")
    assert any("gw_review condition" in p for p in problems(workspace))
    with app.app_context():
        from webui.db import db_session

        with pytest.raises(ProcessInvalid):
            deploy(db_session(), workspace, "case_management")


def test_an_unknown_form_key_is_reported(workspace: Library) -> None:
    edit(workspace, 'name="formKey" value="plan_review"', 'name="formKey" value="plan_reveiw"')
    assert "case_management: review_plan: unknown form key 'plan_reveiw' (no forms/plan_reveiw.yaml)" \
        in problems(workspace)


def test_a_lane_without_a_role_is_reported(workspace: Library) -> None:
    edit(workspace, '<bpmn:lane id="lane_supervisor" name="supervisor">',
         '<bpmn:lane id="lane_supervisor" name="supervisors">')
    assert any("lane 'supervisors' is not a known role" in p for p in problems(workspace))


def test_an_unknown_service_operation_is_reported(workspace: Library) -> None:
    edit(workspace, 'serviceTaskOperator id="extend_plan"', 'serviceTaskOperator id="extend_the_plan"')
    assert any("unknown service operation 'extend_the_plan'" in p for p in problems(workspace))


def test_a_missing_rule_table_is_reported(workspace: Library) -> None:
    path = workspace.processes_dir / BPMN
    text = path.read_text(encoding="utf-8")
    start = text.index('<bpmn:serviceTask id="score_household"')
    end = text.index("</bpmn:serviceTask>", start) + len("</bpmn:serviceTask>")
    path.write_text(text[:start] + (
        '<bpmn:businessRuleTask id="score_household" name="Classify"><bpmn:extensionElements>'
        "<spiffworkflow:calledDecisionId>no_such_table</spiffworkflow:calledDecisionId></bpmn:extensionElements>"
        "<bpmn:incoming>f_save</bpmn:incoming><bpmn:outgoing>f_score</bpmn:outgoing></bpmn:businessRuleTask>"
    ) + text[end:], encoding="utf-8")
    assert any("no_such_table" in p for p in problems(workspace))


def test_a_broken_form_condition_is_reported(workspace: Library) -> None:
    path = workspace.forms_dir / "eligibility_review.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "required_if: 'decision == \"reject\"'", "required_if: 'decision.upper() == \"REJECT\"'"), encoding="utf-8")
    assert any("form eligibility_review" in p and "refused" in p for p in problems(workspace))


def test_an_unreachable_task_and_a_script_task_are_reported(workspace: Library) -> None:
    edit(workspace, '<bpmn:endEvent id="end_rejected"',
         '<bpmn:scriptTask id="orphan" name="Orphan"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>'
         '<bpmn:endEvent id="end_rejected"')
    found = problems(workspace)
    assert any("orphan: unreachable" in p for p in found)
    assert any("orphan: script tasks are not allowed" in p for p in found)


def test_the_check_command_reports_and_fails(workspace: Library, app: Flask) -> None:
    edit(workspace, 'name="formKey" value="plan_review"', 'name="formKey" value="missing_form"')
    app.config.update(PROCESSES_DIR=str(workspace.processes_dir), FORMS_DIR=str(workspace.forms_dir),
                      RULES_DIR=str(workspace.rules_dir))
    result = app.test_cli_runner().invoke(args=["processes", "check"])
    assert result.exit_code == 1
    assert "unknown form key 'missing_form'" in result.output


def test_the_check_command_passes_on_the_shipped_files(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["processes", "check"])
    assert result.exit_code == 0, result.output
    assert "processes/case_management.bpmn: ok" in result.output


# -- files that cannot be read are listed with their problem, never a traceback --------------------

PYTHON_TAG = '!!python/object/apply:os.system ["touch {marker}"]'


@pytest.mark.parametrize("place", [
    "forms/plan_review.yaml",  # named by a task
    "forms/unused_form.yaml",  # named by nothing, deployed all the same
    "forms/registration.yaml",  # read by the poverty measure too
    "rules/poverty_measure.yaml",
    "rules/extra_data.yaml",  # rule data nothing reads yet
])
def test_a_yaml_file_with_a_python_tag_is_listed_and_never_run(
        workspace: Library, place: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = _library_file(workspace, place)
    before = path.read_text(encoding="utf-8") if path.exists() else "title: {en: Spare, ar: احتياطي}\n"
    path.write_text(before + "sneaky: " + PYTHON_TAG.format(marker=marker) + "\n", encoding="utf-8")
    report = check_all(workspace)
    assert any("python/object/apply:os.system" in p for p in report[str(path)]), report[str(path)]
    assert not marker.exists()


@pytest.mark.parametrize(("content", "problem"), [
    (b"title: {en: Broken, ar: [\n", "not valid YAML at line 2"),
    (b"- a list\n- not named sections\n", "must hold named sections, not a list"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8 text"),
    (b"title: \x00\x01\n", "not valid YAML"),
], ids=["syntax_error", "list_at_top", "binary", "control_characters"])
@pytest.mark.parametrize("place", ["forms/plan_review.yaml", "forms/unused_form.yaml",
                                   "rules/priority.yaml", "rules/extra_data.yaml"])
def test_a_broken_yaml_file_is_listed_with_its_problem(
        workspace: Library, place: str, content: bytes, problem: str) -> None:
    path = _library_file(workspace, place)
    path.write_bytes(content)
    report = check_all(workspace)
    assert any(problem in p for p in report[str(path)]), report[str(path)]


def test_a_form_field_of_the_wrong_shape_is_listed(workspace: Library) -> None:
    path = workspace.forms_dir / "unused_form.yaml"
    path.write_text("fields:\n  - just a string\n", encoding="utf-8")
    assert check_all(workspace)[str(path)] == ["AttributeError: 'str' object has no attribute 'get'"]


def test_a_process_file_that_is_not_utf8_is_listed(workspace: Library) -> None:
    # Well-formed XML in its declared encoding, which SpiffWorkflow parses; deploying stores UTF-8 text.
    path = workspace.processes_dir / BPMN
    data = path.read_bytes().replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1)
    assert b'encoding="ISO-8859-1"' in data
    path.write_bytes(data.replace(b"Review", b"R\xe9view", 1))
    assert any("not UTF-8 text" in p for p in problems(workspace))


def test_deployment_refuses_a_form_file_that_cannot_be_read(workspace: Library, app: Flask) -> None:
    (workspace.forms_dir / "unused_form.yaml").write_bytes(b"\xff\xfe binary")
    with app.app_context():
        from webui.db import db_session

        with pytest.raises(ProcessInvalid, match="unused_form.yaml: not UTF-8 text"):
            deploy(db_session(), workspace, "case_management")


def test_the_check_command_lists_a_python_tag_instead_of_crashing(
        workspace: Library, app: Flask, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = workspace.forms_dir / "plan_review.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "sneaky: " + PYTHON_TAG.format(marker=marker) + "\n",
                    encoding="utf-8")
    app.config.update(PROCESSES_DIR=str(workspace.processes_dir), FORMS_DIR=str(workspace.forms_dir),
                      RULES_DIR=str(workspace.rules_dir))
    result = app.test_cli_runner().invoke(args=["processes", "check"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert "plan_review.yaml" in result.output and "python/object/apply:os.system" in result.output
    assert not marker.exists()


def _library_file(library: Library, place: str) -> Path:
    folder, name = place.split("/")
    return {"forms": library.forms_dir, "rules": library.rules_dir}[folder] / name


@pytest.mark.parametrize(("place", "old", "new"), [
    ("processes/case_management.bpmn", 'decision == "approve"</bpmn:conditionExpression>',
     "-" * 20_000 + "1 == 1</bpmn:conditionExpression>"),
    ("rules/poverty_category.dmn", "<text>&gt;= deep_k</text>", "<text>" + "-" * 20_000 + "deep_k</text>"),
    ("rules/poverty_measure.yaml", 'household_size: "len(members)"',
     'household_size: "' + "not " * 3_000 + 'members"'),
], ids=["gateway_condition", "decision_entry", "rule_expression"])
def test_a_deeply_nested_expression_is_listed_instead_of_crashing_the_check(
        workspace: Library, place: str, old: str, new: str) -> None:
    folder, name = place.split("/")
    path = {"processes": workspace.processes_dir, "rules": workspace.rules_dir}[folder] / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert any("refused" in p for p in check_all(workspace)[str(path)])
