"""`processes check` and deployment refuse what would break at run time, naming the file and the task."""

from __future__ import annotations

import pytest
from flask import Flask

from engine.errors import ProcessInvalid
from engine.library import Library, check_library, deploy

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
