"""Workflow state: serialization without the spec, and compaction of finished loop passes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

__all__ = ["SERIALIZER_VERSION", "compact", "load_spec", "restore", "save", "spec_to_json"]


class _StateOnlyConverter(BpmnWorkflowConverter):
    """Writes a workflow without its spec and restores one onto a spec already in memory."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


#: The stock serializer: stores specs at deployment (and is what bare SpiffWorkflow would use).
STANDARD = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
_STATE = BpmnWorkflowSerializer(
    BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _StateOnlyConverter})
)


def spec_to_json(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    return json.dumps({
        "spec": STANDARD.to_dict(spec),
        "subprocess_specs": {name: STANDARD.to_dict(sub) for name, sub in subprocess_specs.items()},
    })


_SPECS: dict[str, tuple[Any, dict[str, Any]]] = {}


def load_spec(content_hash: str, spec_json: Callable[[], str]) -> tuple[Any, dict[str, Any]]:
    """Restore a deployed spec once per process; specs are immutable, keyed by content hash.

    ``spec_json`` is called only on a miss, so the large column is read once per process.
    """
    cached = _SPECS.get(content_hash)
    if cached is None:
        dct = json.loads(spec_json())
        spec = STANDARD.from_dict(dct["spec"])
        subs = {name: STANDARD.from_dict(sub) for name, sub in dct["subprocess_specs"].items()}
        cached = _SPECS.setdefault(content_hash, (spec, subs))
    return cached


def save(workflow: BpmnWorkflow) -> str:
    """The instance's own state as JSON (task tree and data, no spec)."""
    return _STATE.serialize_json(workflow)


def restore(state_json: str, serializer_version: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    dct = json.loads(state_json)
    dct[_STATE.VERSION_KEY] = serializer_version
    _STATE.migrate(dct)
    dct["spec"], dct["subprocess_specs"] = spec, subprocess_specs
    return _STATE.from_dict(dct)


def compact(workflow: BpmnWorkflow) -> int:
    """Drop finished tasks above the live part of the tree; returns how many were removed.

    SpiffWorkflow keeps every finished task, so each loop pass deepens the tree: cost grows
    with a case's age and at depth 1000 the engine stops seeing ready tasks. Everything removed
    here is already in the task index and audit history. We keep the root, the start task and
    the parent of the live tasks' lowest common ancestor, and splice out what lies between.
    """
    live = [t for t in workflow.tasks.values() if t.has_state(TaskState.NOT_FINISHED_MASK)]
    if not live or workflow.subprocesses:
        return 0
    ancestor = _lowest_common_ancestor(live)
    root = workflow.task_tree
    if not root.children:
        return 0
    start = root.children[0]
    keep_parent = ancestor.parent
    if keep_parent is None or keep_parent is start or keep_parent is root:
        return 0
    path: list[Any] = []
    node = keep_parent.parent
    while node is not None and node is not start:
        path.append(node)
        node = node.parent
    if node is not start or not path:
        return 0
    spliced = {t.id for t in path} | {keep_parent.id}
    removed = 0
    for doomed in path:
        for child_id in doomed._children:
            if child_id not in spliced and child_id in workflow.tasks:
                removed += _remove_subtree(workflow, workflow.tasks[child_id])
        workflow.tasks.pop(doomed.id)
        removed += 1
    assert start is not None and keep_parent is not None
    start._children = [keep_parent.id]
    keep_parent._parent = start.id
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = keep_parent
    return removed


def _lowest_common_ancestor(tasks: list[Any]) -> Any:
    by_id = tasks[0].workflow.tasks

    def chain(task: Any) -> list[Any]:
        # Looks parents up directly: the ``Task.parent`` property costs a call and two lookups more per level.
        nodes = []
        while task is not None:
            nodes.append(task)
            task = by_id.get(task._parent)
        return nodes[::-1]

    chains = [chain(t) for t in tasks]
    common = chains[0][0]
    for level in zip(*chains, strict=False):
        if all(node is level[0] for node in level):
            common = level[0]
        else:
            break
    return common


def _remove_subtree(workflow: BpmnWorkflow, task: Any) -> int:
    count = 0
    stack = [task]
    while stack:
        node = stack.pop()
        stack.extend(workflow.tasks[c] for c in node._children if c in workflow.tasks)
        workflow.tasks.pop(node.id, None)
        count += 1
    return count
