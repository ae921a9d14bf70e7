"""A process analyst edits what the engine reads from the diagram in the modeler's properties panel: a user task's due
time, a gateway's condition; an untouched diagram keeps every extension when saved; an unsafe condition is refused
with its flow named and highlighted; the panel sits beside the diagram on a desktop and below it on a phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import Locator, Page, expect

from tests.browser.steps import Shoot, log_in
from tests.browser.test_process_editing import PHONE, console_errors, open_processes, page_overflows, wait_until_loaded

pytestmark = pytest.mark.browser
__all__ = ["console_errors"]  # the fixture, used by name

ROOT = Path(__file__).resolve().parent.parent.parent
DIAGRAM = "processes/case_management.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
# The panel's words in each language (the page gives them to the panel).
PANEL = {
    "ar": {"task": "المهمة", "form": "النموذج", "stage": "المرحلة", "due_in": "مهلة الإنجاز", "condition": "الشرط",
           "operation": "الإجراء", "stage_planning": "تخطيط المساعدة", "supervisor": "المشرف"},
    "en": {"task": "Task", "form": "Form", "stage": "Stage", "due_in": "Due in", "condition": "Condition",
           "operation": "Operation", "stage_planning": "Assistance planning", "supervisor": "Supervisor"},
}


def open_modeler(page: Page, lang: str) -> None:
    log_in(page, "analyst", lang)
    open_processes(page)
    page.goto("/processes/case_management/edit")
    wait_until_loaded(page)


# A point on the screen on a flow's longest segment (the middle of its box may be off the line, and the middle of the
# segment on a lane's border).
FLOW_POINT = """id => {
  const modeler = window.processModeler;
  const flow = modeler.get('elementRegistry').get(id);
  const box = modeler.get('canvas').viewbox();
  const rect = modeler.get('canvas').getContainer().getBoundingClientRect();
  let best = null;
  flow.waypoints.slice(1).forEach((end, index) => {
    const start = flow.waypoints[index];
    const length = Math.hypot(end.x - start.x, end.y - start.y);
    if (!best || length > best.length) {
      best = { length, x: start.x + (end.x - start.x) * 0.4, y: start.y + (end.y - start.y) * 0.4 };
    }
  });
  return { x: rect.left + (best.x - box.x) * box.scale, y: rect.top + (best.y - box.y) * box.scale };
}"""


def select(page: Page, element_id: str) -> None:
    """Click an element of the diagram (a flow on its line), as the analyst does; the panel shows it."""
    shape = page.locator(f".editor-canvas .djs-element[data-element-id={element_id}]")
    if "djs-connection" in (shape.get_attribute("class") or ""):
        point = page.evaluate(FLOW_POINT, element_id)
        page.mouse.click(point["x"], point["y"])
    else:
        # Near its top corner: a flow may cross a shape's middle (f_extended crosses extend_period's).
        shape.click(position={"x": 4, "y": 4})
    expect(shape).to_have_class(re.compile(r"\bselected\b"))
    expect(page.get_by_test_id("properties-panel").locator(".bio-properties-panel-header")).to_be_visible()


def entry(page: Page, entry_id: str) -> Locator:
    return page.get_by_test_id("properties-panel").locator(f"[data-entry-id={entry_id}]")


def saved_xml(page: Page) -> str:
    text: str = page.evaluate("async () => (await window.processModeler.saveXML({ format: true })).xml")
    return text


def extensions(xml: str | bytes) -> dict[str, Any]:
    """What the engine reads from a diagram beyond its shapes, per element id."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    found: dict[str, Any] = {}
    for node in root.iter(f"{{{NS['bpmn']}}}userTask"):
        found[node.get("id")] = sorted((p.get("name"), p.get("value"))
                                       for p in node.iterfind(".//spiffworkflow:property", NS))
    for node in root.iter(f"{{{NS['bpmn']}}}serviceTask"):
        operator = node.find(".//spiffworkflow:serviceTaskOperator", NS)
        found[node.get("id")] = (operator.get("id"), operator.get("resultVariable"),
                                 [(p.get("id"), p.get("type"), p.get("value"))
                                  for p in operator.iterfind(".//spiffworkflow:parameter", NS)])
    for node in root.iter(f"{{{NS['bpmn']}}}sequenceFlow"):
        condition = node.find("bpmn:conditionExpression", NS)
        found[node.get("id")] = condition.text if condition is not None else None
    for node in root.iter(f"{{{NS['bpmn']}}}exclusiveGateway"):
        found[node.get("id")] = node.get("default")
    for node in root.iter(f"{{{NS['bpmn']}}}lane"):
        found[node.get("id")] = node.get("name")
    return found


def test_a_diagram_saved_without_edits_keeps_every_extension_and_passes_the_checks(
        page: Page, editable_library: Any, console_errors: list[str]) -> None:
    from registry.checks import check_all

    open_modeler(page, "en")
    saved = saved_xml(page)
    shipped = (ROOT / DIAGRAM).read_text(encoding="utf-8")
    assert extensions(saved) == extensions(shipped)
    assert extensions(saved)["review_plan"] == [("dueIn", "P3D"), ("formKey", "plan_review"), ("stage", "planning")]

    # The checks pass on the saved file, in a copy of the process files...
    (Path(editable_library.processes_dir) / "case_management.bpmn").write_text(saved, encoding="utf-8")
    report = check_all(editable_library)
    assert {file: problems for file, problems in report.items() if problems} == {}

    # ...and on the server, with the page's Check button (which sends what the modeler saves).
    page.get_by_test_id("check").click()
    status = page.get_by_test_id("editor-status")
    expect(status).to_have_attribute("data-kind", "ok")
    expect(status).to_have_text("No problems found.")
    assert console_errors == []


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_an_analyst_changes_a_due_time_and_a_condition_in_the_panel_and_deploys_them(
        page: Page, lang: str, shoot: Shoot, console_errors: list[str]) -> None:
    words = PANEL[lang]
    open_modeler(page, lang)

    # The user task: its form, stage and due time, in the page's language.
    select(page, "review_plan")
    panel = page.get_by_test_id("properties-panel")
    expect(panel.locator("[data-group-id=group-spiffTask] .bio-properties-panel-group-header")).to_contain_text(
        words["task"])
    expect(entry(page, "formKey").locator("label")).to_have_text(words["form"])
    expect(entry(page, "formKey").locator("select")).to_have_value("plan_review")
    expect(entry(page, "stage").locator("select")).to_have_value("planning")
    expect(entry(page, "stage").locator("select option:checked")).to_contain_text(words["stage_planning"])
    due_in = entry(page, "dueIn").locator("input")
    expect(entry(page, "dueIn").locator("label")).to_have_text(words["due_in"])
    expect(due_in).to_have_value("P3D")
    assert due_in.evaluate("input => getComputedStyle(input).direction") == "ltr"
    due_in.fill("P5D")
    shoot(page, f"properties-{lang}-01-user-task")

    # The flow back from "Plan approved?": its condition.
    select(page, "f_plan_revise")
    condition = entry(page, "condition").locator("textarea")
    expect(entry(page, "condition").locator("label")).to_have_text(words["condition"])
    expect(condition).to_have_value('decision == "revise"')
    assert condition.evaluate("input => getComputedStyle(input).direction") == "ltr"
    condition.fill('decision == "revise" or plan_incomplete == True')
    shoot(page, f"properties-{lang}-02-condition")

    # Deploy: version 2 holds the new values.
    page.get_by_test_id("deploy").click()
    status = page.get_by_test_id("editor-status")
    expect(status).to_have_attribute("data-kind", "ok")
    expect(status.locator("a")).to_have_attribute("href", "/processes/case_management/versions/2")
    deployed = page.request.get(f"/processes/case_management/versions/2/files/{DIAGRAM}")
    assert deployed.ok
    found = extensions(deployed.body())
    assert ("dueIn", "P5D") in found["review_plan"]
    assert found["f_plan_revise"] == 'decision == "revise" or plan_incomplete == True'
    # Nothing else changed.
    shipped = extensions((ROOT / DIAGRAM).read_text(encoding="utf-8"))
    assert {key: value for key, value in found.items() if shipped.get(key) != value} == {
        "review_plan": [("dueIn", "P5D"), ("formKey", "plan_review"), ("stage", "planning")],
        "f_plan_revise": 'decision == "revise" or plan_incomplete == True'}
    assert console_errors == []


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_an_unsafe_condition_typed_in_the_panel_is_refused_with_its_flow_named_and_highlighted(
        page: Page, lang: str, shoot: Shoot, console_errors: list[str]) -> None:
    open_modeler(page, lang)
    select(page, "f_plan_revise")
    entry(page, "condition").locator("textarea").fill('__import__("os")')

    page.get_by_test_id("check").click()
    status = page.get_by_test_id("editor-status")
    expect(status).to_have_attribute("data-kind", "error")
    problem = page.get_by_test_id("problems").locator("button.problem-element[data-element=f_plan_revise]")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("f_plan_revise")
    expect(page.locator(".djs-element.has-problem[data-element-id=f_plan_revise]")).to_have_count(1)
    shoot(page, f"properties-{lang}-03-unsafe-condition")

    # Nothing was deployed.
    page.get_by_test_id("deploy").click()
    expect(status).to_have_attribute("data-kind", "error")
    assert page.request.get(f"/processes/case_management/versions/2/files/{DIAGRAM}").status == 404
    assert console_errors == []


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_panel_edits_a_service_task_a_lane_and_a_default_flow_and_sits_below_the_diagram_on_a_phone(
        page: Page, lang: str, shoot: Shoot, console_errors: list[str]) -> None:
    words = PANEL[lang]
    open_modeler(page, lang)
    canvas = page.locator(".bpmn-modeler .editor-canvas").bounding_box()
    panel = page.get_by_test_id("properties-panel").bounding_box()
    assert canvas and panel
    # Beside the diagram on a desktop (on its left on an Arabic page), the diagram left to right.
    assert abs(panel["y"] - canvas["y"]) < 2
    assert (panel["x"] < canvas["x"]) if lang == "ar" else (panel["x"] > canvas["x"])
    expect(page.locator(".bpmn-modeler .editor-canvas")).to_have_attribute("dir", "ltr")

    select(page, "extend_period")
    operation = entry(page, "operation")
    expect(operation.locator("label")).to_have_text(words["operation"])
    expect(operation.locator("select")).to_have_value("extend_plan")
    expect(entry(page, "resultVariable").locator("input")).to_have_value("plan_end_date")
    expect(entry(page, "parameter-0-value").locator("input")).to_have_value("extension_weeks")
    shoot(page, f"properties-{lang}-04-service-task")

    # A lane's name is a role of the vocabulary, chosen by its label.
    select(page, "lane_supervisor")
    role = entry(page, "name").locator("select")
    expect(role).to_have_value("supervisor")
    expect(role.locator("option:checked")).to_have_text(f"{words['supervisor']} (supervisor)")

    # A gateway's default flow: shown on the flow, and set from another of its flows.
    select(page, "f_visits_done")
    expect(entry(page, "defaultFlow").locator("input")).to_be_checked()
    select(page, "f_plan_ok")
    expect(entry(page, "defaultFlow").locator("input")).not_to_be_checked()
    entry(page, "defaultFlow").locator("label.bio-properties-panel-toggle-switch__switcher").click()
    expect(entry(page, "defaultFlow").locator("input")).to_be_checked()
    found = extensions(saved_xml(page))
    assert (found["gw_plan"], found["gw_visits"]) == ("f_plan_ok", "f_visits_done")

    page.set_viewport_size(PHONE)
    page.reload()
    wait_until_loaded(page)
    select(page, "register_household")
    expect(entry(page, "dueIn").locator("input")).to_have_value("P2D")
    canvas = page.locator(".bpmn-modeler .editor-canvas").bounding_box()
    panel = page.get_by_test_id("properties-panel").bounding_box()
    assert canvas and panel
    assert panel["y"] >= canvas["y"] + canvas["height"]
    assert not page_overflows(page)
    shoot(page, f"properties-{lang}-05-phone")
    assert console_errors == []


def test_a_diagram_with_an_extension_the_modeler_does_not_know_says_that_saving_drops_it(
        page: Page, console_errors: list[str]) -> None:
    open_modeler(page, "en")
    expect(page.get_by_test_id("editor-status")).to_be_hidden()
    unknown = '<spiffworkflow:unitTests><spiffworkflow:unitTest id="t1" /></spiffworkflow:unitTests>'
    text = (ROOT / DIAGRAM).read_text(encoding="utf-8").replace(
        '<spiffworkflow:properties>', unknown + '<spiffworkflow:properties>', 1)
    page.locator("input[data-action=upload]").set_input_files(
        files=[{"name": "case_management.bpmn", "mimeType": "application/xml", "buffer": text.encode()}])
    status = page.get_by_test_id("editor-status")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).to_contain_text("saving drops them")
    expect(status).to_contain_text("<spiffworkflow:unitTests>")
    # What the modeler does know is still there.
    assert extensions(saved_xml(page)) == extensions(text)
    assert console_errors == []
