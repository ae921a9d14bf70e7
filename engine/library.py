"""Process files as data: parse, check everything that would break at run time, deploy versions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from sqlalchemy.orm import Session

from engine import bpmn_checks, expressions
from engine.catalog import OPERATION_CHECKS, OPERATIONS
from engine.errors import ExpressionError
from engine.forms import check_form, load_form
from engine.models import ProcessVersion

_DURATION = re.compile(r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?)?$")


def parse_duration(text: str) -> dt.timedelta:
    """ISO 8601 durations in weeks, days, hours and minutes (P3D, PT4H, P1W); months are ambiguous."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration in W/D/H/M: {text!r}")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return dt.timedelta(weeks=parts.get("w", 0), days=parts.get("d", 0), hours=parts.get("h", 0),
                        minutes=parts.get("m", 0))


@dataclass
class Library:
    """Where the analyst-editable files live."""

    processes_dir: Path
    forms_dir: Path
    rules_dir: Path
    roles: frozenset[str] = field(default_factory=frozenset)
    #: The calendar a ``dueDate`` day ends in (the organisation's, not the server's).
    timezone: str = "UTC"
    #: Where deployed versions' files are copied from the database for running cases (a cache).
    versions_dir: Path | None = None

    def deployed_root(self) -> Path:
        return self.versions_dir or self.processes_dir.parent / "instance" / "deployed"

    def process_files(self) -> list[Path]:
        return sorted(self.processes_dir.glob("*.bpmn")) + sorted(self.rules_dir.glob("*.dmn"))

    def form_files(self) -> list[Path]:
        return sorted(self.forms_dir.glob("*.yaml"))


def user_task_properties(task_spec: Any) -> dict[str, str]:
    return dict(getattr(task_spec, "extensions", {}).get("properties", {}))


def _parse(files: Iterable[Path]) -> SpiffBpmnParser:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    for path in files:
        if path.suffix == ".dmn":
            parser.add_dmn_file(str(path))
        else:
            parser.add_bpmn_file(str(path))
    return parser


def _reachable(spec: Any) -> set[str]:
    seen: set[str] = set()
    stack = [spec.start]
    while stack:
        node = stack.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        stack.extend(node.outputs)
    return seen


def _check_expression(problems: list[str], where: str, expression: str | None) -> None:
    if expression is None:
        return
    try:
        expressions.validate(expression)
    except ExpressionError as err:
        problems.append(f"{where}: {err}")


def _check_dmn(problems: list[str], where: str, task_spec: Any) -> None:
    table = task_spec.dmnEngine.decision_table
    for rule in table.rules:
        for entry in rule.inputEntries:
            for lhs in entry.lhs:
                if lhs is None or lhs.strip() in ("", "-"):
                    continue
                text = lhs.replace("?", "dmninputexpr")
                try:
                    expressions.validate(text)
                except ExpressionError:
                    _check_expression(problems, f"{where}: rule {rule.row_number}", f"dmninputexpr {text}")
            if entry.input.expression:
                _check_expression(problems, f"{where}: input", entry.input.expression)
        for output in rule.outputEntries:
            if getattr(output, "text", None):
                _check_expression(problems, f"{where}: rule {rule.row_number} output", output.text)


#: Parsed by SpiffWorkflow whatever the flows say: start events begin the process, boundary events ride on a task.
_PARSED_ANYWAY = frozenset({"startEvent", "boundaryEvent"})


def check_process_spec(library: Library, spec: Any, where: str, source: str = "") -> list[str]:
    """Every problem of one parsed process that would break at run time."""
    problems: list[str] = []
    reachable = _reachable(spec)
    parsed = {getattr(t, "bpmn_id", None) for t in spec.task_specs.values()}
    # SpiffWorkflow parses only what the start event leads to; anything else in the file is dead.
    problems += [f"{where}: {bpmn_checks.label(node, name)}: unreachable from the start event"
                 for node, kind, name in bpmn_checks.flow_nodes(source, where)
                 if node not in parsed and kind not in _PARSED_ANYWAY]
    problems += [f"{where}: {bpmn_checks.label(node, name)}: script tasks are not allowed (use a service task or DMN)"
                 for node, kind, name in bpmn_checks.flow_nodes(source, where, nested=True) if kind == "scriptTask"]
    for name, task_spec in spec.task_specs.items():
        label = f"{where}: {bpmn_checks.label(getattr(task_spec, 'bpmn_id', None) or name, _spec_name(task_spec))}"
        if getattr(task_spec, "bpmn_id", None) and name not in reachable:
            problems.append(f"{label}: unreachable from the start event")
        if getattr(task_spec, "prescript", None) or getattr(task_spec, "postscript", None):
            problems.append(f"{label}: pre- and post-scripts are not allowed (use a service task or DMN)")
        if getattr(task_spec, "manual", False):
            props = user_task_properties(task_spec)
            lane = getattr(task_spec, "lane", None)
            if not lane:
                problems.append(f"{label}: user task outside a lane (lanes name roles)")
            elif library.roles and lane not in library.roles:  # else processes/vocabulary.yaml decides
                problems.append(f"{label}: lane {lane!r} is not a known role ({', '.join(sorted(library.roles))})")
            form_key = props.get("formKey")
            if not form_key:
                problems.append(f"{label}: user task has no formKey property")
            else:
                try:
                    form = load_form(library.forms_dir, form_key)
                except FileNotFoundError:
                    problems.append(f"{label}: unknown form key {form_key!r} (no forms/{form_key}.yaml)")
                except Exception as err:  # any broken form file is a problem to list
                    problems.append(f"{label}: form {form_key!r} is invalid: {_describe(err)}")
                else:
                    problems += [f"{label}: form {form_key}: {p}" for p in check_form(form)]
            if "dueIn" in props:
                try:
                    parse_duration(props["dueIn"])
                except ValueError as err:
                    problems.append(f"{label}: dueIn: {err}")
            for prop in ("assignee", "dueDate"):
                _check_expression(problems, f"{label}: {prop}", props.get(prop))
        if isinstance(task_spec, ExclusiveGateway | InclusiveGateway):
            for condition, target in task_spec.cond_task_specs:
                text = condition.args[0] if condition is not None and hasattr(condition, "args") else condition
                # The problem names the flow first, so that the modeler points at the flow, not its gateway.
                flow = bpmn_checks.flow_between(source, task_spec.bpmn_id, target) if source else None
                gateway = bpmn_checks.label(task_spec.bpmn_id, _spec_name(task_spec))
                place = f"{label}: condition of the flow to {target}"
                if flow:
                    place = f"{where}: {bpmn_checks.label(*flow)}: condition of the flow from {gateway} to {target}"
                _check_expression(problems, place, text)
        if isinstance(task_spec, ServiceTask):
            if task_spec.operation_name not in OPERATIONS:
                problems.append(f"{label}: unknown service operation {task_spec.operation_name!r}")
            for pname, param in task_spec.operation_params.items():
                _check_expression(problems, f"{label}: parameter {pname}", param.get("value"))
            check = OPERATION_CHECKS.get(task_spec.operation_name)
            if check is not None:
                raw = {pname: param.get("value") for pname, param in task_spec.operation_params.items()}
                problems += [f"{label}: {problem}" for problem in check(raw, library.processes_dir)]
        if isinstance(task_spec, BusinessRuleTaskMixin):
            _check_dmn(problems, label, task_spec)
    return problems


def _spec_name(task_spec: Any) -> str | None:
    name = getattr(task_spec, "bpmn_name", None)
    return name if isinstance(name, str) else None


#: SpiffWorkflow's refusals that do not say plainly what is wrong, said plainly.
_SPIFF_MESSAGES = {
    "Multiple outgoing flows are not supported for tasks of type":
        "a {kind} may have only one outgoing sequence flow, and this one has {outgoing} ({flows}): "
        "only a gateway splits the path, so lead its one flow into an exclusive or parallel gateway",
    "When looking for a task spec, we found two items":
        "a sequence flow from it leads to {target}, which is no element of the process",
}


def _validation_problem(err: SpiffWorkflowException, text: str, process_id: str | None = None) -> str:
    """SpiffWorkflow's refusal in one line, naming the process and the element it carries (id, name, line)."""
    message = str(err).split("\n", 1)[0].strip().rstrip(". ").strip()
    message = message.replace(f"{{{bpmn_checks.BPMN}}}", "bpmn:")
    element_id = getattr(err, "id", "") or ""
    name = getattr(err, "name", "") or ""
    owner = process_id
    if element_id:
        context = bpmn_checks.element_context(text, element_id)
        if context is not None:
            owner = owner or context[0]
            name = name or context[1]
        for known, plain in _SPIFF_MESSAGES.items():
            if message.startswith(known):
                flows = bpmn_checks.outgoing_flows(text, element_id)
                target = re.search(r"\(([^()]*)\)$", message)
                message = plain.format(kind=getattr(err, "tag", "") or "task", outgoing=len(flows),
                                       flows=", ".join(flows), target=repr(target.group(1)) if target else "an id")
        message = f"{bpmn_checks.label(element_id, name)}: {message}"
    elif getattr(err, "line_number", ""):
        message = f"line {err.line_number}: {message}"
    return f"{owner}: {message}" if owner else message


def _describe(err: Exception) -> str:
    """A load error in one line: YAML's own messages run over several, with the line and column."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {err.problem}"
    if isinstance(err, yaml.YAMLError):
        return "not valid YAML: " + " ".join(str(err).split())
    if isinstance(err, UnicodeDecodeError):
        return f"not UTF-8 text (byte {err.start})"
    if isinstance(err, ValueError | KeyError | TypeError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def load_yaml_mapping(source: bytes) -> dict[str, Any]:
    """A YAML file's named sections, loaded safely (a Python tag is an error, never run).

    Raises ValueError saying what is wrong: not UTF-8, not YAML, or not a mapping at the top.
    """
    try:
        raw = yaml.safe_load(source.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(_describe(err)) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"the file must hold named sections, not a {type(raw).__name__}")
    return raw


def yaml_problems(path: Path) -> list[str]:
    """Why a YAML file cannot be read, or nothing: for files that nothing else reads yet."""
    try:
        load_yaml_mapping(path.read_bytes())
    except ValueError as err:
        return [_describe(err)]
    return []


def _form_problems(library: Library, path: Path) -> list[str]:
    problems = yaml_problems(path)
    if problems:
        return problems
    try:
        form = load_form(library.forms_dir, path.stem)
    except FileNotFoundError:
        return [f"{path.name}: a form's file name must be lower_snake_case"]
    except Exception as err:  # a field of the wrong shape: list it, never crash the check
        return [_describe(err)]
    return check_form(form)


def check_library(library: Library) -> dict[str, list[str]]:
    """Problems per file; an empty list means the file is fine."""
    files = library.process_files()
    report: dict[str, list[str]] = {str(p): [] for p in files}
    # Every form file, named by a task or not: deploying stores them all with the version.
    for path in library.form_files():
        report[str(path)] = _form_problems(library, path)
    unreadable = False
    for path in files:  # syntax, structure and schema per file first, so each error names its file
        try:
            text = path.read_bytes().decode("utf-8")  # deploying stores the text
        except UnicodeDecodeError as err:
            report[str(path)].append(_describe(err))
            unreadable = True
            continue
        structure = bpmn_checks.check_structure(text, dmn=path.suffix == ".dmn")
        report[str(path)] += structure.problems
        if structure.broken:  # SpiffWorkflow would skip or misname what our own check names
            unreadable = True
            continue
        try:
            _parse([path])
        except (ValidationException, SpiffWorkflowException) as err:
            report[str(path)].append(_validation_problem(err, text))
            unreadable = True
        except Exception as err:  # anything else SpiffWorkflow's reader trips on
            report[str(path)].append(f"{type(err).__name__}: {err}")
            unreadable = True
    if unreadable:
        return report
    parser = _parse(files)
    for path in library.processes_dir.glob("*.bpmn"):
        for process_id in _executable_ids(path):
            try:
                spec = parser.get_spec(process_id)
                parser.get_subprocess_specs(process_id)
            except (ValidationException, SpiffWorkflowException) as err:
                report[str(path)].append(_validation_problem(err, path.read_text(encoding="utf-8"), process_id))
                continue
            report[str(path)] += check_process_spec(library, spec, process_id, path.read_text(encoding="utf-8"))
    from engine.vocabulary import vocabulary_report  # stages, lanes and case fields named by the files above

    for file, found in vocabulary_report(library).items():
        report.setdefault(file, []).extend(found)
    return report


def _executable_ids(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    ids = re.findall(r'<bpmn:process\s+[^>]*id="([^"]+)"[^>]*isExecutable="true"', text)
    return ids or re.findall(r'<bpmn:process\s+id="([^"]+)"', text)


def deploy(session: Session, library: Library, process_id: str) -> ProcessVersion:
    """Deploy the files now on disk (checked first) unless the latest version already has them."""
    from engine.deployments import deploy_sources, snapshot

    return deploy_sources(session, snapshot(library), process_id=process_id, template=library).version
