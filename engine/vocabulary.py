"""The processes' vocabulary: stages, statuses, roles, tasks, recorded actions and case fields, in each language.

It lives in ``processes/vocabulary.yaml`` beside the diagrams, so an analyst who adds a stage, a task,
a role or a case field edits files only. Parsed vocabularies are cached by content hash: nothing else
is remembered between requests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ProcessInvalid
from engine.forms import FormDef

VOCABULARY_FILE = "vocabulary.yaml"
LANGUAGES = ("en", "ar")
#: The sections of the file, each a mapping from a key to its labels.
SECTIONS = ("stages", "statuses", "roles", "tasks", "actions", "case_fields", *(
    "household_stages", "household_statuses", "household_next", "household_done", "household_actions",
    "household_decisions"))
#: What ``label(kind, ...)`` accepts: one word per section, as templates read best.
KINDS = {"stage": "stages", "status": "statuses", "role": "roles", "task": "tasks", "action": "actions",
         "case_field": "case_fields", "household_stage": "household_stages",
         "household_status": "household_statuses"}
#: The household's own words (the portal): each section's keys name a stage, status, user task or action.
HOUSEHOLD_SECTIONS = {"household_stages": "stages", "household_statuses": "statuses", "household_next": "tasks",
                      "household_done": "tasks", "household_actions": "actions", "household_decisions": "actions"}
#: Types a case field may have, and the form field types that can set each.
CASE_FIELD_TYPES: dict[str, frozenset[str]] = {
    "date": frozenset({"date"}),
    "text": frozenset({"text", "textarea", "choice", "national_id", "phone"}),
    "number": frozenset({"integer", "number"}),
}


class VocabularyInvalid(ProcessInvalid):
    """The vocabulary file cannot be read; ``problems`` says where and why."""


@dataclass(frozen=True)
class CaseField:
    """A value that belongs to the case (e.g. the plan's end date), set by the task whose data has its name."""

    name: str
    type: str
    label: Mapping[str, str]


@dataclass(frozen=True)
class Vocabulary:
    labels: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    case_fields: tuple[CaseField, ...] = ()
    #: Roles that lanes may name (roles marked ``lane: false`` hold no tasks).
    lane_roles: frozenset[str] = frozenset()

    def keys(self, section: str) -> list[str]:
        return list(self.labels.get(section, {}))

    def has(self, kind: str, key: str) -> bool:
        return key in self.labels.get(KINDS.get(kind, kind), {})

    def label(self, kind: str, key: str, lang: str) -> str:
        """The text for ``key`` in ``lang``, falling back to English, then to the key itself."""
        labels = self.labels.get(KINDS.get(kind, kind), {}).get(key)
        if not labels:
            return key
        return labels.get(lang) or labels.get("en") or key

    def case_field(self, name: str) -> CaseField | None:
        return next((f for f in self.case_fields if f.name == name), None)


EMPTY = Vocabulary()


def _labels(problems: list[str], where: str, raw: Any, languages: tuple[str, ...] = LANGUAGES) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: needs " + " and ".join(f"{'an English' if lang == 'en' else 'an Arabic'} ({lang})"
                                                           for lang in languages) + " text")
        return {}
    missing = [lang for lang in languages if not isinstance(raw.get(lang), str) or not raw[lang].strip()]
    if missing:
        problems.append(f"{where}: needs {' and '.join(missing)} text")
    return {lang: raw[lang] for lang in languages if isinstance(raw.get(lang), str)}


def _known_keys(problems: list[str], where: str, raw: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    for key in raw:
        if key not in allowed:
            problems.append(f"{where}: unknown key {key!r} (expected {', '.join(allowed)})")


def _valid_key(problems: list[str], where: str, key: Any) -> bool:
    if not isinstance(key, str) or not key.isidentifier():
        problems.append(f"{where}: {key!r} is not a valid key (letters, digits and _)")
        return False
    return True


def parse_vocabulary(source: bytes, where: str = VOCABULARY_FILE) -> Vocabulary:
    """Read and check a vocabulary file; raises VocabularyInvalid listing every problem, each with its place."""
    from engine.library import load_yaml_mapping

    try:
        raw = load_yaml_mapping(source)
    except ValueError as err:
        raise VocabularyInvalid([f"{where}: {err}"]) from None
    problems: list[str] = []
    _known_keys(problems, where, raw, SECTIONS)
    labels: dict[str, dict[str, dict[str, str]]] = {}
    case_fields: list[CaseField] = []
    lane_roles: set[str] = set()
    for section in SECTIONS:
        entries = raw.get(section) or {}
        if not isinstance(entries, Mapping):
            problems.append(f"{where}: {section}: a list of key: labels")
            continue
        labels[section] = {}
        for key, entry in entries.items():
            place = f"{where}: {section}.{key}"
            if not _valid_key(problems, place, key):
                continue
            if section == "case_fields":
                if not isinstance(entry, Mapping):
                    problems.append(f"{place}: needs a type and a label")
                    continue
                _known_keys(problems, place, entry, ("type", "label"))
                kind = entry.get("type")
                if kind not in CASE_FIELD_TYPES:
                    problems.append(f"{place}: type must be one of {', '.join(CASE_FIELD_TYPES)} (found {kind!r})")
                text = _labels(problems, f"{place}.label", entry.get("label"))
                labels[section][key] = text
                case_fields.append(CaseField(name=key, type=str(kind), label=text))
                continue
            # A task's English name is its name in the diagram (what a modeler edits); only the Arabic is here.
            languages = ("ar",) if section == "tasks" else LANGUAGES
            allowed = ("en", "ar", "lane") if section == "roles" else languages
            if isinstance(entry, Mapping):
                _known_keys(problems, place, entry, allowed)
                lane = entry.get("lane", True)
                if section == "roles":
                    if not isinstance(lane, bool):
                        problems.append(f"{place}: lane must be true or false (found {lane!r})")
                    elif lane:
                        lane_roles.add(key)
            labels[section][key] = _labels(problems, place, entry, languages)
    if problems:
        raise VocabularyInvalid(problems)
    return Vocabulary(labels=labels, case_fields=tuple(case_fields), lane_roles=frozenset(lane_roles))


#: Parsed vocabularies by the SHA-256 of their text: a text never changes its meaning.
_PARSED: dict[str, Vocabulary] = {}


def vocabulary_of(source: bytes) -> Vocabulary:
    """The vocabulary a text holds, parsed once per distinct text."""
    digest = hashlib.sha256(source).hexdigest()
    found = _PARSED.get(digest)
    if found is None:
        found = _PARSED.setdefault(digest, parse_vocabulary(source))
    return found


def load_vocabulary(processes_dir: Path) -> Vocabulary:
    """The vocabulary of a processes folder (empty when it has none: labels then fall back to keys)."""
    path = Path(processes_dir) / VOCABULARY_FILE
    try:
        return vocabulary_of(path.read_bytes())
    except FileNotFoundError:
        return EMPTY


def vocabulary_from_sources(sources: Mapping[str, str]) -> Vocabulary | None:
    """The vocabulary stored with a deployed version, or None when the version has none."""
    text = sources.get(f"processes/{VOCABULARY_FILE}")
    return vocabulary_of(text.encode("utf-8")) if text is not None else None


# --- checking against the diagrams and forms ---------------------------------------------------

@dataclass(frozen=True)
class UserTaskFacts:
    """What the vocabulary check needs of one user task."""

    file: str
    process_id: str
    element_id: str
    name: str
    lane: str | None
    stage: str | None
    form_key: str | None


def check_against(vocabulary: Vocabulary, *, user_tasks: Iterable[UserTaskFacts],
                  service_results: Iterable[str], forms: Iterable[FormDef]) -> dict[str, list[str]]:
    """Every word a diagram or form uses that the vocabulary does not declare, and every case field nothing sets.

    Problems of a diagram's element are listed under the diagram's file (``UserTaskFacts.file``), the
    vocabulary's own under ``VOCABULARY_FILE``.
    """
    report: dict[str, list[str]] = {VOCABULARY_FILE: []}
    problems = report[VOCABULARY_FILE]
    tasks = list(user_tasks)
    for task in tasks:
        where = f"{task.process_id}: {task.element_id} ({task.name})"
        found = report.setdefault(task.file, [])
        if task.stage and not vocabulary.has("stage", task.stage):
            found.append(f"{where}: stage {task.stage!r} is not declared under stages in {VOCABULARY_FILE} "
                         f"({', '.join(vocabulary.keys('stages'))})")
        if task.lane and task.lane not in vocabulary.lane_roles:
            found.append(f"{where}: lane {task.lane!r} is not a known role (roles with lanes in {VOCABULARY_FILE}: "
                         f"{', '.join(sorted(vocabulary.lane_roles))})")
    task_ids = {t.element_id for t in tasks}
    for key in vocabulary.keys("tasks"):
        if key not in task_ids:
            problems.append(f"tasks.{key}: no user task of any diagram has this element id")
    for section, names in HOUSEHOLD_SECTIONS.items():
        for key in vocabulary.keys(section):
            known = key in task_ids if names == "tasks" else vocabulary.has(names, key)
            if not known:
                problems.append(f"{section}.{key}: not a {'user task' if names == 'tasks' else names[:-1]} "
                                f"(the household's words name one)")
    form_fields = {(f.name, f.type) for form in forms for f in form.fields}
    results = set(service_results)
    for case_field in vocabulary.case_fields:
        setters = {kind for name, kind in form_fields if name == case_field.name}
        wrong = setters - CASE_FIELD_TYPES.get(case_field.type, frozenset())
        if wrong:
            problems.append(f"case_fields.{case_field.name}: a {case_field.type} is set by a form field of type "
                            f"{', '.join(sorted(wrong))}")
        if not setters and case_field.name not in results:
            problems.append(f"case_fields.{case_field.name}: no form field or service task result of that name sets it")
    return report


def vocabulary_report(library: Any) -> dict[str, list[str]]:
    """Problems of the library's vocabulary file, keyed by its path (for ``check_library``)."""
    from SpiffWorkflow.spiff.specs.defaults import ServiceTask

    from engine.forms import load_form
    from engine.library import _executable_ids, _parse, user_task_properties

    path = Path(library.processes_dir) / VOCABULARY_FILE
    try:
        vocabulary = parse_vocabulary(path.read_bytes())
    except FileNotFoundError:
        return {str(path): [f"{VOCABULARY_FILE} is missing: stages, roles and task names are declared there"]}
    except VocabularyInvalid as err:
        return {str(path): [p.removeprefix(f"{VOCABULARY_FILE}: ") for p in err.problems]}
    user_tasks: list[UserTaskFacts] = []
    results: list[str] = []
    try:
        parser = _parse(library.process_files())
        specs = [(str(bpmn), pid, parser.get_spec(pid))
                 for bpmn in sorted(Path(library.processes_dir).glob("*.bpmn")) for pid in _executable_ids(bpmn)]
    except Exception:  # a diagram that does not parse is reported against its own file; the rest waits for it
        return {str(path): []}
    for file, process_id, spec in specs:
        for name, task_spec in spec.task_specs.items():
            if isinstance(task_spec, ServiceTask):
                results.append(task_spec.result_variable)
            if not getattr(task_spec, "manual", False):
                continue
            props = user_task_properties(task_spec)
            user_tasks.append(UserTaskFacts(
                file=file, process_id=process_id, element_id=getattr(task_spec, "bpmn_id", None) or name,
                name=getattr(task_spec, "bpmn_name", None) or "", lane=getattr(task_spec, "lane", None),
                stage=props.get("stage"), form_key=props.get("formKey")))
    forms = []
    for form_path in library.form_files():
        try:
            forms.append(load_form(library.forms_dir, form_path.stem))
        except Exception:  # noqa: S112 - a broken form is reported against its own file
            continue
    report = check_against(vocabulary, user_tasks=user_tasks, service_results=results, forms=forms)
    report[str(path)] = report.pop(VOCABULARY_FILE)
    return report
