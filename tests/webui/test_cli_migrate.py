"""`flask --app app processes migrate`: a dry run, then the move, case by case with the reasons."""

from __future__ import annotations

from flask import Flask

from engine.library import Library
from tests.conftest import Clock
from tests.registry.test_process_migration import two_versions_with_cases, versions_of


def migrate(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["processes", "migrate", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_the_command_dry_runs_then_moves_what_can_move_and_names_what_cannot(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    with app.app_context():
        first, second, movable, stuck = two_versions_with_cases(app, clock, editable_library)

    code, output = migrate(app, "--to", str(second), "--from", str(first), "--dry-run", "--user", "analyst")
    assert code == 1, output
    assert f"{movable:06d}: can move (waits at needs_assessment_visit)" in output
    assert f"{stuck:06d}: cannot move: a task it waits at is not in the new version (attach_documents" in output
    assert "dry run: 1 case(s) can move to version 2, 1 cannot; nothing changed" in output
    with app.app_context():
        assert versions_of([movable, stuck]) == [first, first]

    code, output = migrate(app, "--to", str(second), "--case", str(movable), "--case", str(stuck))
    assert code == 1 and "nothing moved to version 2: 1 case(s) cannot move" in output
    with app.app_context():
        assert versions_of([movable, stuck]) == [first, first]

    code, output = migrate(app, "--to", str(second), "--case", str(movable))
    assert code == 0, output
    assert f"{movable:06d}: moved (waits at needs_assessment_visit)" in output
    assert "moved 1 case(s) to version 2; 0 cannot move" in output
    with app.app_context():
        assert versions_of([movable, stuck]) == [second, first]


def test_the_command_refuses_wrong_usage_and_people_who_may_not_migrate(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    with app.app_context():
        first, second, movable, _stuck = two_versions_with_cases(app, clock, editable_library)
    code, output = migrate(app, "--to", str(second))
    assert code == 2 and "either --from VERSION or one or more --case ID" in output
    code, output = migrate(app, "--to", str(second), "--case", str(movable), "--user", "supervisor1")
    assert code == 1 and "only process analysts" in output
    code, output = migrate(app, "--to", "99", "--case", str(movable))
    assert code == 1 and "to_version: unknown_version" in output
    code, output = migrate(app, "--to", str(first), "--from", str(second))
    assert code == 1 and "to_version: not_newer" in output
