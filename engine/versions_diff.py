"""What a deployment changed: diagram elements, forms and rule files, compared with the version before.

Works on the sources a ProcessVersion keeps (relative path -> text), so any two versions can be
compared from the database alone. Rule files are compared by lines; other files (the processes'
vocabulary) likewise. Elements are named by the diagram's own ids; every list is
sorted, so the same two versions always give the same summary.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from lxml import etree

from engine.models import ProcessVersion

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"

#: Elements a process is made of, as an analyst sees them in the modeler.
_FLOW_NODES = frozenset({
    "task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "manualTask", "sendTask",
    "receiveTask", "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
    "eventBasedGateway", "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent",
})
_EVENT_DEFINITIONS = frozenset({
    "timerEventDefinition", "messageEventDefinition", "signalEventDefinition", "errorEventDefinition",
    "escalationEventDefinition", "terminateEventDefinition", "conditionalEventDefinition",
})


def _normalized_path(name: str) -> str:
    """Older versions stored diagrams and decision tables under their bare file names."""
    if "/" in name:
        return name
    if name.endswith(".bpmn"):
        return f"processes/{name}"
    return f"rules/{name}"


def _normalized(sources: Mapping[str, Any] | None) -> dict[str, str]:
    return {_normalized_path(name): str(text) for name, text in (sources or {}).items()}


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _properties(node: Any) -> dict[str, str]:
    return {p.get("name"): p.get("value", "") for p in node.iterfind(f".//{{{SPIFF}}}property") if p.get("name")}


def _elements(text: str, path: str) -> dict[str, dict[str, Any]]:
    """Every flow node of a BPMN file by id, with what an analyst may change about it."""
    root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    found: dict[str, dict[str, Any]] = {}
    for process in root.iterfind(f"{{{BPMN}}}process"):
        lanes = {ref.text.strip(): lane.get("name") or lane.get("id")
                 for lane in process.iterfind(f".//{{{BPMN}}}lane")
                 for ref in lane.iterfind(f"{{{BPMN}}}flowNodeRef") if ref.text}
        flows = {flow.get("id"): flow for flow in process.iter(f"{{{BPMN}}}sequenceFlow")}
        for node in process.iter():
            kind = _local(node.tag)
            if kind not in _FLOW_NODES or not node.get("id"):
                continue
            node_id = node.get("id")
            # The flows' own source and target are what runs; <incoming>/<outgoing> only repeat them.
            outgoing = [f for f in flows.values() if f.get("sourceRef") == node_id]
            incoming = sorted({f.get("sourceRef") for f in flows.values() if f.get("targetRef") == node_id})
            conditions = {}
            for flow in outgoing:
                condition = flow.find(f"{{{BPMN}}}conditionExpression")
                if condition is not None:
                    conditions[flow.get("targetRef")] = _text(condition)
            default = flows.get(node.get("default") or "")
            facets: dict[str, Any] = {
                "name": node.get("name"),
                "lane": lanes.get(node_id),
                "incoming": incoming,
                "outgoing": sorted({f.get("targetRef") for f in outgoing}),
                "conditions": dict(sorted(conditions.items())),
                "default": default.get("targetRef") if default is not None else None,
                "properties": _properties(node),
            }
            operator = node.find(f".//{{{SPIFF}}}serviceTaskOperator")
            if operator is not None:
                facets["operation"] = operator.get("id")
                facets["result_variable"] = operator.get("resultVariable")
                facets["parameters"] = dict(sorted((p.get("id"), p.get("value"))
                                                   for p in operator.iter(f"{{{SPIFF}}}parameter")))
            decision = node.find(f".//{{{SPIFF}}}calledDecisionId")
            if decision is not None:
                facets["decision"] = _text(decision)
            if kind == "callActivity":
                facets["called_element"] = node.get("calledElement")
            if kind == "boundaryEvent":
                facets["attached_to"] = node.get("attachedToRef")
            events = {}
            for definition in node:
                if _local(definition.tag) in _EVENT_DEFINITIONS:
                    events[_local(definition.tag)] = _text(definition)
            if events:
                facets["events"] = events
            found[node_id] = {"id": node_id, "type": kind, "file": path, "process": process.get("id"),
                              "facets": facets}
    return found


def _all_elements(sources: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    elements: dict[str, dict[str, Any]] = {}
    for path in sorted(sources):
        if path.endswith(".bpmn"):
            elements.update(_elements(sources[path], path))
    return elements


def _describe(element: dict[str, Any]) -> dict[str, Any]:
    return {"id": element["id"], "name": element["facets"]["name"], "type": element["type"],
            "lane": element["facets"]["lane"], "file": element["file"]}


def _element_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per thing that differs; properties and parameters are compared one by one."""
    changes: list[dict[str, Any]] = []
    if before["type"] != after["type"]:
        changes.append({"what": "type", "before": before["type"], "after": after["type"]})
    old, new = before["facets"], after["facets"]
    for facet in ("name", "lane", "incoming", "outgoing", "default", "conditions", "operation", "result_variable",
                  "decision", "called_element", "attached_to", "events"):
        if old.get(facet) != new.get(facet):
            changes.append({"what": facet, "before": old.get(facet), "after": new.get(facet)})
    for group, singular in (("properties", "property"), ("parameters", "parameter")):
        mine, theirs = old.get(group) or {}, new.get(group) or {}
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key):
                changes.append({"what": f"{singular}:{key}", "before": mine.get(key), "after": theirs.get(key)})
    return changes


def _diff_elements(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    old, new = _all_elements(before), _all_elements(after)
    changed = []
    for element_id in sorted(set(old) & set(new)):
        changes = _element_changes(old[element_id], new[element_id])
        if changes:
            changed.append({**_describe(new[element_id]), "changes": changes})
    return {"added": [_describe(new[i]) for i in sorted(set(new) - set(old))],
            "removed": [_describe(old[i]) for i in sorted(set(old) - set(new))],
            "changed": changed}


def _form_fields(text: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A form's top-level settings and its fields by name (a group's fields as ``group.field``)."""
    raw = yaml.safe_load(text) or {}
    if not isinstance(raw, dict):
        return {"content": raw}, {}
    fields: dict[str, dict[str, Any]] = {}

    def collect(items: Any, prefix: str) -> None:
        for item in items or ():
            if not isinstance(item, dict) or "name" not in item:
                continue
            name = f"{prefix}{item['name']}"
            fields[name] = {k: v for k, v in item.items() if k != "fields"}
            collect(item.get("fields"), f"{name}.")

    collect(raw.get("fields"), "")
    return {k: v for k, v in raw.items() if k != "fields"}, fields


def _form_changes(before: str, after: str) -> dict[str, Any]:
    try:
        old_settings, old_fields = _form_fields(before)
        new_settings, new_fields = _form_fields(after)
    except yaml.YAMLError:
        return {"settings": ["unreadable"], "fields": {"added": [], "removed": [], "changed": []}}
    changed = []
    for name in sorted(set(old_fields) & set(new_fields)):
        keys = sorted(k for k in set(old_fields[name]) | set(new_fields[name])
                      if old_fields[name].get(k) != new_fields[name].get(k))
        if keys:
            changed.append({"name": name, "what": keys})
    return {
        "settings": sorted(k for k in set(old_settings) | set(new_settings)
                           if old_settings.get(k) != new_settings.get(k)),
        "fields": {"added": sorted(set(new_fields) - set(old_fields)),
                   "removed": sorted(set(old_fields) - set(new_fields)),
                   "changed": changed},
    }


def _form_key(path: str) -> str:
    return path.removeprefix("forms/").removesuffix(".yaml")


def _diff_forms(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[Any]]:
    old = {_form_key(p): t for p, t in before.items() if p.startswith("forms/")}
    new = {_form_key(p): t for p, t in after.items() if p.startswith("forms/")}
    changed = [{"form": key, **_form_changes(old[key], new[key])}
               for key in sorted(set(old) & set(new)) if old[key] != new[key]]
    return {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)), "changed": changed}


def _is_rule_file(path: str) -> bool:
    return path.startswith("rules/")


def _is_other_file(path: str) -> bool:
    """Files that are neither diagrams, forms nor rules (the processes' vocabulary)."""
    return not (path.endswith(".bpmn") or path.startswith("forms/") or _is_rule_file(path))


def _diff_files(before: Mapping[str, str], after: Mapping[str, str], kind: Callable[[str], bool]
                ) -> dict[str, list[Any]]:
    """Files added, removed and changed, with how many lines each change added and removed."""
    old = {p: t for p, t in before.items() if kind(p)}
    new = {p: t for p, t in after.items() if kind(p)}
    changed = []
    for path in sorted(set(old) & set(new)):
        if old[path] == new[path]:
            continue
        lines = list(difflib.ndiff(old[path].splitlines(), new[path].splitlines()))
        changed.append({"file": path, "lines_added": sum(1 for line in lines if line.startswith("+ ")),
                        "lines_removed": sum(1 for line in lines if line.startswith("- "))})
    return {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)), "changed": changed}


def diff_sources(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """Elements, forms and rule files added, removed and changed between two sets of sources."""
    old, new = _normalized(before), _normalized(after)
    elements = _diff_elements(old, new)
    forms = _diff_forms(old, new)
    rules = _diff_files(old, new, _is_rule_file)
    other = _diff_files(old, new, _is_other_file)
    return {
        "elements": elements,
        "forms": forms,
        "rules": rules,
        "other": other,
        "counts": {f"{part}_{kind}": len(found[kind])
                   for part, found in (("elements", elements), ("forms", forms), ("rules", rules), ("other", other))
                   for kind in ("added", "removed", "changed")},
    }


def version_differences(previous: ProcessVersion | None, current: ProcessVersion) -> dict[str, Any]:
    """What ``current`` changed since ``previous`` (everything is new when there is no previous version)."""
    summary = diff_sources(previous.sources if previous is not None else {}, current.sources)
    return {"process_id": current.process_id,
            "from_version": previous.version if previous is not None else None,
            "to_version": current.version, **summary}
