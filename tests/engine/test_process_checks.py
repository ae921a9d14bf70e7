"""`processes check` and deployment refuse what would break at run time, naming the file and the task."""

from __future__ import annotations

import re
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
    assert any(p.startswith("""case_management: f_approve ("approve"): condition of the flow from gw_review """
                            """("Supervisor's decision?") to assign_manager: """) for p in problems(workspace)), \
        problems(workspace)
    with app.app_context():
        from webui.db import db_session

        with pytest.raises(ProcessInvalid):
            deploy(db_session(), workspace, "case_management")


def test_an_unknown_form_key_is_reported(workspace: Library) -> None:
    edit(workspace, 'name="formKey" value="plan_review"', 'name="formKey" value="plan_reveiw"')
    assert ('case_management: review_plan ("Review the assistance plan"): unknown form key \'plan_reveiw\' '
            "(no forms/plan_reveiw.yaml)") in problems(workspace)


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
    assert 'case_management: orphan ("Orphan"): unreachable from the start event' in found
    assert 'case_management: orphan ("Orphan"): script tasks are not allowed (use a service task or DMN)' in found


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


# -- structure: flows, layout and ids, named by file, element id and name ---------------------------

def test_a_flow_to_a_missing_element_is_reported(workspace: Library) -> None:
    edit(workspace, 'sourceRef="gw_review" targetRef="assign_manager" name="approve"',
         'sourceRef="gw_review" targetRef="assign_mangaer" name="approve"')
    assert ('case_management: f_approve ("approve"): sequence flow leads to \'assign_mangaer\', '
            "which is no element of the file") in problems(workspace)


def test_a_flow_from_a_missing_element_is_reported(workspace: Library) -> None:
    edit(workspace, 'id="f_reject" sourceRef="gw_review"', 'id="f_reject" sourceRef="gw_reveiw"')
    found = problems(workspace)
    assert ('case_management: f_reject ("reject"): sequence flow comes from \'gw_reveiw\', '
            "which is no element of the file") in found
    # The gateway still lists the flow as its own.
    assert ("""case_management: gw_review ("Supervisor's decision?"): lists f_reject ("reject") as outgoing, """
            "but that flow comes from 'gw_reveiw'") in found


def test_an_outgoing_flow_that_does_not_exist_is_reported(workspace: Library) -> None:
    edit(workspace, "<bpmn:outgoing>f_rejected</bpmn:outgoing>", "<bpmn:outgoing>f_rejectd</bpmn:outgoing>")
    assert problems(workspace) == [
        'case_management: close_rejected ("Close the case as rejected"): outgoing \'f_rejectd\' names no sequence flow']


def test_a_flow_listed_as_outgoing_of_another_node_is_reported(workspace: Library) -> None:
    edit(workspace, "<bpmn:outgoing>f_review</bpmn:outgoing>",
         "<bpmn:outgoing>f_review</bpmn:outgoing><bpmn:outgoing>f_plan_ok</bpmn:outgoing>")
    assert problems(workspace) == [
        'case_management: review_eligibility ("Review eligibility"): lists f_plan_ok ("approve") as outgoing, '
        "but that flow comes from 'gw_plan'"]


@pytest.mark.parametrize(("drawing", "element", "kind"), [
    ('<bpmndi:BPMNShape id="review_eligibility_di" bpmnElement="review_eligibility">',
     'review_eligibility ("Review eligibility")', "shape"),
    ('<bpmndi:BPMNShape id="lane_supervisor_di" bpmnElement="lane_supervisor" isHorizontal="true">',
     'lane_supervisor ("supervisor")', "shape"),
    ('<bpmndi:BPMNShape id="ministry_di" bpmnElement="ministry" isHorizontal="true">',
     'ministry ("Directorate of Social Development / مديرية التنمية الاجتماعية")', "shape"),
    ('<bpmndi:BPMNEdge id="f_approve_di" bpmnElement="f_approve">', 'f_approve ("approve")', "edge"),
], ids=["task", "lane", "pool", "sequence_flow"])
def test_an_element_without_layout_is_reported(workspace: Library, drawing: str, element: str, kind: str) -> None:
    path = workspace.processes_dir / BPMN
    text = path.read_text(encoding="utf-8")
    closing = f"</bpmndi:BPMN{kind.capitalize()}>"
    start = text.index(drawing)
    end = text.index(closing, start) + len(closing)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    owner = "case_management_collaboration" if element.startswith("ministry") else "case_management"
    assert problems(workspace) == [
        f"{owner}: {element}: no {kind} in the diagram layout (bpmndi:BPMN{kind.capitalize()}), "
        "so a modeler cannot draw it"]


def test_a_file_without_any_layout_is_reported_once(workspace: Library) -> None:
    path = workspace.processes_dir / BPMN
    text = path.read_text(encoding="utf-8")
    start, end = text.index("<bpmndi:BPMNDiagram"), text.index("</bpmndi:BPMNDiagram>")
    path.write_text(text[:start] + text[end + len("</bpmndi:BPMNDiagram>"):], encoding="utf-8")
    assert problems(workspace) == [
        "case_management_definitions: the file has no diagram layout (bpmndi:BPMNDiagram), so it does not open "
        "in a modeler: draw it in the modeler and save it again"]


def test_layout_for_a_missing_element_is_reported(workspace: Library) -> None:
    edit(workspace, "</bpmndi:BPMNPlane>",
         '<bpmndi:BPMNShape id="ghost_di" bpmnElement="ghost"><dc:Bounds x="0" y="0" width="10" height="10" />'
         "</bpmndi:BPMNShape></bpmndi:BPMNPlane>")
    assert problems(workspace) == ["diagram: ghost_di: layout shape draws 'ghost', which is no element of the file"]


def test_two_elements_with_the_same_id_are_reported(workspace: Library) -> None:
    edit(workspace, '<bpmn:userTask id="review_plan" ', '<bpmn:userTask id="review_eligibility" ')
    found = problems(workspace)
    duplicate = [p for p in found if "two elements have the id" in p]
    assert len(duplicate) == 1, found
    assert re.fullmatch(
        r"""case_management: review_eligibility \("Review eligibility"\): two elements have the id """
        r"""'review_eligibility': userTask "Review eligibility" \(line \d+\) and """
        r"""userTask "Review the assistance plan" \(line \d+\)""", duplicate[0]), duplicate[0]
    # SpiffWorkflow's schema error about xs:ID is not listed beside ours.
    assert not any("xs:ID" in p for p in found)


def test_a_task_with_two_outgoing_flows_is_refused_naming_the_task(workspace: Library) -> None:
    edit(workspace, '<bpmn:sequenceFlow id="f_rejected" sourceRef="close_rejected" targetRef="tell_rejected" />',
         '<bpmn:sequenceFlow id="f_rejected" sourceRef="close_rejected" targetRef="tell_rejected" />'
         '<bpmn:sequenceFlow id="f_rejected_too" sourceRef="close_rejected" targetRef="end_rejected" />')
    edit(workspace, "</bpmndi:BPMNPlane>",
         '<bpmndi:BPMNEdge id="f_rejected_too_di" bpmnElement="f_rejected_too"><di:waypoint x="1490" y="390" />'
         '<di:waypoint x="1562" y="390" /></bpmndi:BPMNEdge></bpmndi:BPMNPlane>')
    assert problems(workspace) == [
        'case_management: close_rejected ("Close the case as rejected"): a bpmn:serviceTask may have only one '
        "outgoing sequence flow, and this one has 2 (f_rejected, f_rejected_too): only a gateway splits the path, "
        "so lead its one flow into an exclusive or parallel gateway"]


@pytest.mark.parametrize(("old", "new", "named"), [
    ('targetRef="end_rejected" />', 'targetRef="end_nowhere" />',
     "f_rejection_told: sequence flow leads to 'end_nowhere'"),
    ('<bpmndi:BPMNShape id="review_plan_di" bpmnElement="review_plan">',
     '<bpmndi:BPMNShape id="review_plan_di" bpmnElement="review_plam">',
     'review_plan ("Review the assistance plan"): no shape in the diagram layout'),
], ids=["dangling_flow", "missing_layout"])
def test_a_broken_diagram_is_refused_at_deployment(
        workspace: Library, app: Flask, old: str, new: str, named: str) -> None:
    edit(workspace, old, new)
    with app.app_context():
        from webui.db import db_session

        with pytest.raises(ProcessInvalid) as refused:
            deploy(db_session(), workspace, "case_management")
    assert any(p.startswith("processes/case_management.bpmn: case_management: " + named)
               for p in refused.value.problems), refused.value.problems


def test_a_drawn_decision_without_its_shape_is_reported(workspace: Library) -> None:
    path = workspace.rules_dir / "poverty_category.dmn"
    text = path.read_text(encoding="utf-8")
    assert "dmndi:" not in text  # a table alone needs no drawing; a drawing must draw the decision
    path.write_text(text.replace("</definitions>", (
        '<dmndi:DMNDI xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/">'
        '<dmndi:DMNDiagram id="drd"><dmndi:DMNShape id="other_di" dmnElementRef="other_decision">'
        '<dc:Bounds xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" height="80" width="180" x="150" y="80" />'
        "</dmndi:DMNShape></dmndi:DMNDiagram></dmndi:DMNDI></definitions>")), encoding="utf-8")
    assert check_library(workspace)[str(path)] == [
        'poverty_category_definitions: poverty_category ("Poverty category"): no shape in the drawing '
        "(dmndi:DMNShape), so dmn-js cannot draw it",
        "drd: other_di: layout shape draws 'other_decision', which is no element of "
        "the file"]


# -- rule texts say the rule's numbers ------------------------------------------------------------------

def _edit_rules(library: Library, old: str, new: str) -> Path:
    path = library.rules_dir / "poverty_measure.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_rule_text_whose_number_is_not_the_rules_is_reported(workspace: Library) -> None:
    path = _edit_rules(workspace, "crowding_persons_per_room: 3", "crowding_persons_per_room: 2")
    assert check_all(workspace)[str(path)] == [
        f'poverty_measure.yaml: indicator overcrowding ("Crowding"): the cutoff text ({lang}) says 3, '
        "but the rule's numbers are 2 (crowding_persons_per_room): change the text or the rule so they agree"
        for lang in ("en", "ar")]


def test_arabic_indic_digits_in_a_rule_text_are_read_as_numbers(workspace: Library) -> None:
    path = _edit_rules(workspace, 'ar: "3 أفراد أو أكثر', 'ar: "٣ أفراد أو أكثر')
    assert check_all(workspace)[str(path)] == []
    _edit_rules(workspace, 'en: "3 or more persons', 'en: "4 or more persons')
    _edit_rules(workspace, "crowding_persons_per_room: 3", "crowding_persons_per_room: 4")
    assert check_all(workspace)[str(path)] == [
        'poverty_measure.yaml: indicator overcrowding ("Crowding"): the cutoff text (ar) says ٣, '
        "but the rule's numbers are 4 (crowding_persons_per_room): change the text or the rule so they agree"]


def test_a_priority_label_whose_age_is_not_the_rules_is_reported(workspace: Library) -> None:
    path = _edit_rules(workspace, "elderly_age_from: 60", "elderly_age_from: 65")
    priority = workspace.rules_dir / "priority.yaml"
    assert check_all(workspace)[str(priority)] == [
        f'priority.yaml: key elderly_member ("A member aged 60 or older"): the label text ({lang}) says 60, '
        "but the rule's numbers are 0, 65 (elderly_age_from): change the text or the rule so they agree"
        for lang in ("en", "ar")]
    assert check_all(workspace)[str(path)] == []
