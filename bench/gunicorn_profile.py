"""gunicorn settings of ``bench_load.py --profile DIR``: the project's own, plus pyinstrument per request type.

Each sync worker profiles every request it serves with one pyinstrument profiler per request type (the
sessions of a type add up) and writes them to ``$BENCH_PROFILE_DIR/<type>-<pid>.txt`` every 50 requests of
a type and when it exits. Only for sync workers: pyinstrument follows the thread that started it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_project = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
if _project.exists():  # the production settings first; these hooks are added to them
    exec(compile(_project.read_text(encoding="utf-8"), str(_project), "exec"))  # noqa: S102 (our own file)

_TYPES = [("complete_task", re.compile(r"^/api/v1/tasks/[^/]+/complete$")), ("open_task", re.compile(r"^/tasks/")),
          ("open_case", re.compile(r"^/cases/\d+$")), ("search", re.compile(r"^/registry/search")),
          ("inbox", re.compile(r"^/$"))]
_profilers: dict[str, Any] = {}


def _type_of(path: str) -> str:
    return next((name for name, pattern in _TYPES if pattern.match(path)), "other")


def pre_request(worker: Any, req: Any) -> None:
    from pyinstrument import Profiler

    name = _type_of(req.path)
    profiler = _profilers.setdefault(name, Profiler(interval=0.0005))
    profiler.start()


_served: dict[str, int] = {}
SAVE_EVERY = 50  # requests of a type: a worker killed at the end (a backlog outlasting the grace time) keeps most


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    name = _type_of(req.path)
    profiler = _profilers.get(name)
    if profiler is not None and profiler.is_running:
        profiler.stop()
        _served[name] = _served.get(name, 0) + 1
        if _served[name] % SAVE_EVERY == 0:
            _save(name, profiler)


def _save(name: str, profiler: Any) -> None:
    folder = Path(os.environ["BENCH_PROFILE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    session = profiler.last_session
    served = _served.get(name, 0)
    head = (f"# {name}: {served} requests, {session.duration * 1000 / max(served, 1):.1f} ms wall and "
            f"{session.cpu_time * 1000 / max(served, 1):.1f} ms CPU each (profiler's overhead included)\n")
    (folder / f"{name}-{os.getpid()}.txt").write_text(head + profiler.output_text(show_all=False), encoding="utf-8")


def worker_exit(server: Any, worker: Any) -> None:
    for name, profiler in _profilers.items():
        if profiler.last_session is not None and not profiler.is_running:
            _save(name, profiler)
