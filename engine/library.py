"""Process files as data: parse, check everything that would break at run time, deploy versions."""

from __future__ import annotations

import datetime as dt
import hashlib
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
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import expressions
from engine.catalog import OPERATIONS
from engine.errors import ExpressionError, ProcessInvalid
from engine.forms import check_form, load_form
from engine.models import ProcessVersion
from engine.state import load_spec, spec_to_json

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


def _content_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


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
                    _check_expression(problems, f"{where} rule {rule.row_number}", f"dmninputexpr {text}")
            if entry.input.expression:
                _check_expression(problems, f"{where} input", entry.input.expression)
        for output in rule.outputEntries:
            if getattr(output, "text", None):
                _check_expression(problems, f"{where} rule {rule.row_number} output", output.text)


_FLOW_NODE = re.compile(
    r"<bpmn:(?:userTask|serviceTask|scriptTask|businessRuleTask|manualTask|task|sendTask|receiveTask|"
    r"callActivity|subProcess|exclusiveGateway|parallelGateway|inclusiveGateway|eventBasedGateway|"
    r"intermediateCatchEvent|intermediateThrowEvent|endEvent)\s[^>]*\bid=\"([^\"]+)\"")


def check_process_spec(library: Library, spec: Any, where: str, source: str = "") -> list[str]:
    """Every problem of one parsed process that would break at run time."""
    problems: list[str] = []
    reachable = _reachable(spec)
    parsed = {getattr(t, "bpmn_id", None) for t in spec.task_specs.values()}
    # SpiffWorkflow parses only what the start event leads to; anything else in the file is dead.
    problems += [f"{where}: {node}: unreachable from the start event"
                 for node in _FLOW_NODE.findall(source) if node not in parsed]
    problems += [f"{where}: {node}: script tasks are not allowed (use a service task or DMN)"
                 for node in re.findall(r'<bpmn:scriptTask\s[^>]*\bid="([^"]+)"', source)]
    for name, task_spec in spec.task_specs.items():
        label = f"{where}: {getattr(task_spec, 'bpmn_id', None) or name}"
        if getattr(task_spec, "bpmn_id", None) and name not in reachable:
            problems.append(f"{label}: unreachable from the start event")
        if getattr(task_spec, "prescript", None) or getattr(task_spec, "postscript", None):
            problems.append(f"{label}: pre- and post-scripts are not allowed (use a service task or DMN)")
        if getattr(task_spec, "manual", False):
            props = user_task_properties(task_spec)
            lane = getattr(task_spec, "lane", None)
            if not lane:
                problems.append(f"{label}: user task outside a lane (lanes name roles)")
            elif lane not in library.roles:
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
                _check_expression(problems, f"{label} {prop}", props.get(prop))
        if isinstance(task_spec, ExclusiveGateway | InclusiveGateway):
            for condition, _target in task_spec.cond_task_specs:
                text = condition.args[0] if condition is not None and hasattr(condition, "args") else condition
                _check_expression(problems, f"{label} condition", text)
        if isinstance(task_spec, ServiceTask):
            if task_spec.operation_name not in OPERATIONS:
                problems.append(f"{label}: unknown service operation {task_spec.operation_name!r}")
            for pname, param in task_spec.operation_params.items():
                _check_expression(problems, f"{label} parameter {pname}", param.get("value"))
        if isinstance(task_spec, BusinessRuleTaskMixin):
            _check_dmn(problems, label, task_spec)
    return problems


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
    for path in files:  # syntax and schema per file first, so each error names its file
        try:
            path.read_bytes().decode("utf-8")  # deploying stores the text
            _parse([path])
        except UnicodeDecodeError as err:
            report[str(path)].append(_describe(err))
        except (ValidationException, SpiffWorkflowException) as err:
            report[str(path)].append(str(err).splitlines()[0])
        except Exception as err:  # lxml syntax errors and the like
            report[str(path)].append(f"{type(err).__name__}: {err}")
    if any(report[str(p)] for p in files):
        return report
    parser = _parse(files)
    for path in library.processes_dir.glob("*.bpmn"):
        for process_id in _executable_ids(path):
            try:
                spec = parser.get_spec(process_id)
                parser.get_subprocess_specs(process_id)
            except (ValidationException, SpiffWorkflowException) as err:
                report[str(path)].append(f"{process_id}: {str(err).splitlines()[0]}")
                continue
            report[str(path)] += check_process_spec(library, spec, process_id, path.read_text(encoding="utf-8"))
    return report


def _executable_ids(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    ids = re.findall(r'<bpmn:process\s+[^>]*id="([^"]+)"[^>]*isExecutable="true"', text)
    return ids or re.findall(r'<bpmn:process\s+id="([^"]+)"', text)


def deploy(session: Session, library: Library, process_id: str) -> ProcessVersion:
    """The version of ``process_id`` matching the files now on disk, deploying a new one if they changed."""
    files = library.process_files()
    # Forms belong to the version too: a running case keeps the forms its diagram was checked with.
    forms = library.form_files()
    hashed = hashlib.sha256(f"{process_id}:{_content_hash(files)}:{_content_hash(forms)}".encode()).hexdigest()
    existing = session.scalar(select(ProcessVersion).where(ProcessVersion.content_hash == hashed))
    if existing is not None:
        return existing
    report = check_library(library)
    problems = [f"{Path(f).name}: {p}" for f, ps in report.items() for p in ps]
    if problems:
        raise ProcessInvalid(problems)
    parser = _parse(files)
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)
    latest = session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.process_id == process_id))
    version = ProcessVersion(
        process_id=process_id,
        version=(latest or 0) + 1,
        content_hash=hashed,
        spec_json=spec_to_json(spec, subprocess_specs),
        sources={**{p.name: p.read_text(encoding="utf-8") for p in files},
                 **{f"forms/{p.name}": p.read_text(encoding="utf-8") for p in forms}},
    )
    session.add(version)
    session.flush()
    load_spec(version.content_hash, lambda: version.spec_json)
    return version
