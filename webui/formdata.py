"""Turn an HTML form post into the nested data a form definition describes.

Group rows are posted as ``members-0-name_ar``; unchecked checkboxes are absent, so a boolean
field the page showed reads as False.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from werkzeug.datastructures import FileStorage, ImmutableMultiDict

from engine.forms import FieldDef, FormDef

#: Between a file field's name and the requested document an input is for: ``documents__for__income_proof``.
FOR_SEPARATOR = "__for__"


def _value(field: FieldDef, key: str, form: ImmutableMultiDict[str, str],
           files: ImmutableMultiDict[str, FileStorage]) -> Any:
    if field.type == "boolean":
        return form.get(key) in ("1", "true", "on", "yes")
    if field.type == "multichoice":
        return form.getlist(key)
    if field.type == "file":
        # One input per requested document posts ``<name>__for__<code>``: each file keeps the code it answers.
        posted = [(None, f) for f in files.getlist(key)] + [
            (name[len(key) + len(FOR_SEPARATOR):], f) for name in files if name.startswith(key + FOR_SEPARATOR)
            for f in files.getlist(name)]
        return [{"name": f.filename, "content_type": f.mimetype, "content": f.read(), **({"for": code} if code else {})}
                for code, f in posted if f and f.filename] or None
    return form.get(key)


def parse_post(definition: FormDef, form: ImmutableMultiDict[str, str],
               files: ImmutableMultiDict[str, FileStorage]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in definition.fields:
        if field.type == "group":
            pattern = re.compile(rf"^{field.name}-(\d+)-")
            indices = sorted({int(m.group(1)) for key in form.keys() if (m := pattern.match(key))})
            rows = []
            for index in indices:
                prefix = f"{field.name}-{index}-"
                row = {sub.name: _value(sub, prefix + sub.name, form, files) for sub in field.fields}
                if any(v not in (None, "", [], False) for v in row.values()):
                    rows.append(row)
            data[field.name] = rows
        elif field.type == "boolean" or field.name in form or field.name in files or (
                field.type == "file" and any(name.startswith(field.name + FOR_SEPARATOR) for name in files)):
            data[field.name] = _value(field, field.name, form, files)
    return data


def unknown_names(definition: FormDef, names: Iterable[str]) -> list[str]:
    """Posted names that none of the form's fields (or a row of one of its groups) has; files count as unknown."""
    plain = {f.name for f in definition.fields if f.type not in ("group", "file")}
    columns = {f.name: {sub.name for sub in f.fields if sub.type != "file"}
               for f in definition.fields if f.type == "group"}
    unknown = []
    for name in names:
        row = re.match(r"^(.+?)-(\d+)-(.+)$", name)
        if name in plain or (row and row.group(3) in columns.get(row.group(1), ())):
            continue
        unknown.append(name)
    return sorted(unknown)
