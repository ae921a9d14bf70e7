"""Structural checks of BPMN and DMN files, read as plain XML before SpiffWorkflow parses them.

SpiffWorkflow ignores a sequence flow whose ends name no element, reports a missing target as "we found two
items", and never looks at the diagram layout. These checks name the element and say what is wrong, so an
analyst can find it in the modeler: each problem reads ``<process>: <element id> ("<name>"): <what is wrong>``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
#: Elements of the OMG standards (BPMN, DMN and their diagram interchange) carry ids; extensions
#: (spiffworkflow:serviceTaskOperator id="...") use ``id`` for other things.
_STANDARD = "www.omg.org/spec/"

#: Elements a sequence flow may connect, and that a modeler draws as a shape.
FLOW_NODES = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "manualTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
})
_CONTAINERS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
#: DRD elements dmn-js draws as shapes (a decision table alone needs no DMNDI).
_DRG_ELEMENTS = frozenset({"decision", "inputData", "businessKnowledgeModel", "knowledgeSource", "textAnnotation"})



def _local(node: Any) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _namespace(node: Any) -> str:
    return etree.QName(node).namespace or "" if isinstance(node.tag, str) else ""


def label(element_id: str, name: str | None) -> str:
    """How a message names an element: its id, and its name in quotes when it has one."""
    name = " ".join((name or "").split())
    return f'{element_id} ("{name}")' if name else element_id


@dataclass(frozen=True)
class _Element:
    node: Any
    id: str
    kind: str
    name: str
    owner: str  # the process (or collaboration, diagram, definitions) the element belongs to

    def __str__(self) -> str:
        return f"{self.owner}: {label(self.id, self.name)}"


def parse(text: str) -> Any:
    """The file's root element; raises ValueError saying where the XML is broken."""
    # No entities, no network: a process file is data from an analyst, never a way to read the server's files.
    # A parser per call: lxml parsers must not be shared between threads.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, encoding="utf-8", remove_comments=True)
    try:
        return etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as err:
        line = err.position[0] if err.position else "?"
        raise ValueError(f"not well-formed XML at line {line}: {err.msg}") from None


def _owner_id(node: Any) -> str:
    """The id of the top-level part holding ``node``: its process, collaboration or diagram."""
    top = node
    for ancestor in node.iterancestors():
        if ancestor.getparent() is None:
            break
        top = ancestor
    return top.get("id") or _local(top)


def _elements(root: Any) -> Iterator[_Element]:
    for node in root.iter():
        if isinstance(node.tag, str) and _STANDARD in _namespace(node) and node.get("id"):
            yield _Element(node=node, id=node.get("id"), kind=_local(node), name=node.get("name") or "",
                           owner=_owner_id(node))


def _by_id(root: Any) -> dict[str, _Element]:
    found: dict[str, _Element] = {}
    for element in _elements(root):
        found.setdefault(element.id, element)
    return found


def _describe_node(element: _Element) -> str:
    name = f' "{element.name}"' if element.name else ""
    return f"{element.kind}{name} (line {element.node.sourceline})"


def duplicate_id_problems(root: Any) -> list[str]:
    """Ids must be unique: SpiffWorkflow and every modeler find elements by id."""
    seen: dict[str, list[_Element]] = defaultdict(list)
    for element in _elements(root):
        seen[element.id].append(element)
    problems = []
    for element_id, elements in seen.items():
        if len(elements) > 1:
            listed = ", ".join(_describe_node(e) for e in elements[:-1]) + " and " + _describe_node(elements[-1])
            count = {2: "two", 3: "three"}.get(len(elements), str(len(elements)))
            problems.append(f"{elements[0]}: {count} elements have the id {element_id!r}: {listed}")
    return problems


def _bpmn_elements(root: Any, kinds: Iterable[str]) -> Iterator[_Element]:
    wanted = frozenset(kinds)
    for element in _elements(root):
        if element.kind in wanted and _namespace(element.node) == BPMN:
            yield element


def _container(node: Any) -> Any:
    for ancestor in node.iterancestors():
        if _local(ancestor) in _CONTAINERS:
            return ancestor
    return None


def flow_problems(root: Any) -> list[str]:
    """Sequence flows from or to nothing, and nodes whose incoming/outgoing lists disagree with the flows."""
    by_id = _by_id(root)
    problems: list[str] = []
    flows = {f.id: f for f in _bpmn_elements(root, ["sequenceFlow"])}
    for flow in flows.values():
        for attribute, verb in (("sourceRef", "comes from"), ("targetRef", "leads to")):
            ref = flow.node.get(attribute)
            end = by_id.get(ref or "")
            if not ref:
                problems.append(f"{flow}: sequence flow has no {attribute}")
            elif end is None:
                problems.append(f"{flow}: sequence flow {verb} {ref!r}, which is no element of the file")
            elif end.kind not in FLOW_NODES:
                problems.append(f"{flow}: sequence flow {verb} {label(end.id, end.name)}, a {end.kind}, "
                                "not a task, event or gateway")
            elif _container(end.node) is not _container(flow.node):
                problems.append(f"{flow}: sequence flow {verb} {label(end.id, end.name)}, "
                                "which is in another process or subprocess")
    for node in _bpmn_elements(root, FLOW_NODES):
        for child in node.node:
            direction = _local(child)
            if direction not in ("incoming", "outgoing") or _namespace(child) != BPMN:
                continue
            ref = (child.text or "").strip()
            listed = flows.get(ref)
            attribute, verb = ("sourceRef", "comes from") if direction == "outgoing" else ("targetRef", "leads to")
            if listed is None:
                problems.append(f"{node}: {direction} {ref!r} names no sequence flow")
            elif listed.node.get(attribute) != node.id:
                problems.append(f"{node}: lists {label(listed.id, listed.name)} as {direction}, but that flow "
                                f"{verb} {listed.node.get(attribute)!r}")
        default = node.node.get("default")
        if default and (default not in flows or flows[default].node.get("sourceRef") != node.id):
            problems.append(f"{node}: default flow {default!r} is not one of its outgoing sequence flows")
        attached = node.node.get("attachedToRef")
        if node.kind == "boundaryEvent" and (attached not in by_id or by_id[attached].kind not in FLOW_NODES):
            problems.append(f"{node}: boundary event is attached to {attached!r}, which is no task of the file")
    for lane in _bpmn_elements(root, ["lane"]):
        for ref in lane.node:
            if _local(ref) == "flowNodeRef" and (ref.text or "").strip() not in by_id:
                problems.append(f"{lane}: lane lists {(ref.text or '').strip()!r}, which is no element of the file")
    for participant in _bpmn_elements(root, ["participant"]):
        process_ref = participant.node.get("processRef")
        if process_ref and (process_ref not in by_id or by_id[process_ref].kind != "process"):
            problems.append(f"{participant}: pool names process {process_ref!r}, which is no process of the file")
    for message_flow in _bpmn_elements(root, ["messageFlow"]):
        for attribute in ("sourceRef", "targetRef"):
            ref = message_flow.node.get(attribute)
            if ref not in by_id:
                problems.append(f"{message_flow}: message flow {attribute} {ref!r} is no element of the file")
    return problems


def layout_problems(root: Any) -> list[str]:
    """Every drawn element needs its shape or edge in the diagram, or the file no longer opens in a modeler."""
    diagrams = [n for n in root.iter(f"{{{BPMNDI}}}BPMNDiagram")]
    drawn = _drawn(root, BPMNDI, ("BPMNShape", "BPMNEdge", "BPMNPlane"), "bpmnElement")
    needs_shape = [*_bpmn_elements(root, FLOW_NODES), *_bpmn_elements(root, ["lane", "participant"])]
    needs_edge = list(_bpmn_elements(root, ["sequenceFlow", "messageFlow"]))
    if not diagrams:
        if needs_shape or needs_edge:
            return [f"{_owner_id(root)}: the file has no diagram layout (bpmndi:BPMNDiagram), so it does not "
                    "open in a modeler: draw it in the modeler and save it again"]
        return []
    problems = [f"{element}: no shape in the diagram layout (bpmndi:BPMNShape), so a modeler cannot draw it"
                for element in needs_shape if element.id not in drawn]
    problems += [f"{element}: no edge in the diagram layout (bpmndi:BPMNEdge), so a modeler cannot draw it"
                 for element in needs_edge if element.id not in drawn]
    problems += _dangling_drawings(root, BPMNDI, ("BPMNShape", "BPMNEdge", "BPMNPlane"), "bpmnElement",
                                   _by_id(root))
    return problems


def _drawn(root: Any, namespace: str, kinds: Iterable[str], attribute: str) -> set[str]:
    return {node.get(attribute) for kind in kinds for node in root.iter(f"{{{namespace}}}{kind}")}


def _dangling_drawings(root: Any, namespace: str, kinds: Iterable[str], attribute: str,
                       known: dict[str, Any]) -> list[str]:
    problems = []
    for kind in kinds:
        for node in root.iter(f"{{{namespace}}}{kind}"):
            ref = node.get(attribute)
            if ref not in known:
                what = "edge" if kind.endswith("Edge") else "plane" if kind.endswith("Plane") else "shape"
                problems.append(f"{_diagram_id(node)}: {node.get('id') or kind}: layout {what} draws {ref!r}, "
                                "which is no element of the file")
    return problems


def _diagram_id(node: Any) -> str:
    for ancestor in node.iterancestors():
        if _local(ancestor) in ("BPMNDiagram", "DMNDiagram") and ancestor.get("id"):
            return str(ancestor.get("id"))
    return _owner_id(node)


@dataclass(frozen=True)
class Structure:
    """A file's structural problems, split by consequence."""

    #: The file cannot run as drawn (broken XML, duplicate ids, dangling flows): SpiffWorkflow would
    #: skip or misname these, so it is not asked to read the file.
    broken: list[str] = field(default_factory=list)
    #: The file runs, but a modeler cannot draw it.
    layout: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.broken + self.layout


def check_structure(text: str, *, dmn: bool = False) -> Structure:
    """The structural problems of a BPMN file (or, with ``dmn``, of a DMN file)."""
    try:
        root = parse(text)
    except ValueError as err:
        return Structure(broken=[str(err)])
    if dmn:
        return Structure(broken=duplicate_id_problems(root), layout=dmn_layout_problems(root))
    return Structure(broken=duplicate_id_problems(root) + flow_problems(root), layout=layout_problems(root))


def structure_problems(text: str, *, dmn: bool = False) -> list[str]:
    """Every structural problem of a BPMN (or DMN) file: broken XML, duplicate ids, dangling flows, layout."""
    return check_structure(text, dmn=dmn).problems


def dmn_layout_problems(root: Any) -> list[str]:
    """A DMN file's drawing (DRD), when it has one: every decision drawn, every shape drawing something.

    A file with only decision tables needs no DMNDI (dmn-js draws tables without it), so none is required.
    """
    dmndi = [n for n in root.iter() if _local(n) == "DMNDI"]
    if not dmndi:
        return []
    namespace = _namespace(dmndi[0])
    # The model's elements share the namespace of <definitions>; DMNDI, DI and DC shapes have their own.
    elements = {n.get("id"): n for n in root.iter()
                if isinstance(n.tag, str) and n.get("id") and _namespace(n) == _namespace(root)}
    drawn = _drawn(root, namespace, ("DMNShape", "DMNEdge"), "dmnElementRef")
    definitions = root.get("id") or "definitions"
    problems = [f"{definitions}: {label(element_id, node.get('name'))}: no shape in the drawing (dmndi:DMNShape), "
                "so dmn-js cannot draw it"
                for element_id, node in elements.items()
                if _local(node) in _DRG_ELEMENTS and _local(node.getparent()) == "definitions"
                and element_id not in drawn]
    problems += _dangling_drawings(root, namespace, ("DMNShape", "DMNEdge"), "dmnElementRef", elements)
    return problems


def element_context(text: str, element_id: str) -> tuple[str, str] | None:
    """The process (or other top-level part) holding ``element_id`` and the element's name, if it exists."""
    try:
        root = parse(text)
    except ValueError:
        return None
    element = _by_id(root).get(element_id)
    return (element.owner, element.name) if element is not None else None


def flow_nodes(text: str, process_id: str, *, nested: bool = False) -> list[tuple[str, str, str]]:
    """(id, kind, name) of the flow nodes of process ``process_id``; with ``nested``, its subprocesses' too."""
    try:
        root = parse(text)
    except ValueError:
        return []
    found = []
    for process in root.iter(f"{{{BPMN}}}process"):
        if process.get("id") != process_id:
            continue
        for element in _bpmn_elements(process, FLOW_NODES):
            if nested or _container(element.node) is process:
                found.append((element.id, element.kind, element.name))
    return found


def flow_between(text: str, source_id: str, target_id: str) -> tuple[str, str] | None:
    """Id and name of the sequence flow from ``source_id`` to ``target_id``, if there is one."""
    try:
        root = parse(text)
    except ValueError:
        return None
    return next(((flow.id, flow.name) for flow in _bpmn_elements(root, ["sequenceFlow"])
                 if flow.node.get("sourceRef") == source_id and flow.node.get("targetRef") == target_id), None)


def outgoing_flows(text: str, element_id: str) -> list[str]:
    """Ids of the sequence flows that leave ``element_id``."""
    try:
        root = parse(text)
    except ValueError:
        return []
    return [flow.id for flow in _bpmn_elements(root, ["sequenceFlow"]) if flow.node.get("sourceRef") == element_id]
