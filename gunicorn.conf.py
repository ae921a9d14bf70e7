"""gunicorn's settings for the web tier (read from the working directory; the command line overrides them).

Chosen with ``bench/bench_load.py`` (336 case managers and supervisors on registry-size PostgreSQL, 2 cores
that also run PostgreSQL): a request costs ~35 ms of a worker's CPU and ~20 ms of PostgreSQL's, so the cores,
not the number of workers, set the ceiling; more sync workers than cores added memory, not requests/s.
Each setting can be changed per deployment through the environment.
"""

import ctypes
import gc
import os
import sys

# Sync workers, one request each: the work is CPU (templates, SQLAlchemy, SpiffWorkflow). Each worker's RSS
# is ~110 MB under load, most of it pages shared with the master: one more worker adds ~53 MB (USS).
# WEB_THREADS > 1 selects gthread, which overlaps waits on the database (more requests/s on a busy machine,
# ~30 MB more per worker).
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
# The app is imported once in the master and the workers share its pages (~17 MB less unique memory per
# worker, measured). Safe: create_app opens no database connection, so none is inherited across the fork.
preload_app = os.environ.get("WEB_PRELOAD", "1") != "0"
# When set, a worker is replaced after about this many requests (spread so they do not all restart at
# once): memory that caches and fragmentation add over a day goes back to the system. A new worker pays
# its warm-up again (forms, rules, templates: ~1 s of CPU), so not too often. Off by default.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
keepalive = 5  # connections kept open by a reverse proxy in front
control_socket_disable = True  # the default socket is one path shared by every gunicorn on the machine


def on_starting(server):
    """With the app preloaded, compile its templates and read its forms, rules and words before the fork."""
    if preload_app:
        from webui.rendering import warm_up

        warm_up(server.app.wsgi())
        _read_locale_data(server.app.wsgi())
        gc.collect()  # the warm-up's garbage, before what is left is frozen for the workers to share


def pre_fork(server, worker):
    """Hide what the master holds from the workers' garbage collector: a full collection writes into every
    object it visits, so each worker would copy the master's pages one by one (measured: a worker's unique
    memory 84 -> 54 MB under load, PSS 93 -> 70 MB). Frozen objects are never collected; only boot-time ones."""
    if preload_app:
        gc.freeze()


#: Libraries a few requests import and every later request would carry: fpdf2 for letters and PDF reports
#: (+29 MB: fontTools, cryptography, Pillow), openpyxl for XLSX exports (+12.5 MB).
_HEAVY_ON_USE = ("fpdf", "openpyxl")


def post_request(worker, req, environ, resp):
    """A worker that has imported one of them finishes this request and is replaced by a new fork of the
    master (gunicorn's own max_requests restart): the memory goes back to the system, and the new worker
    starts warm, with the preloaded app's pages."""
    if preload_app and worker.alive and any(name in sys.modules for name in _HEAVY_ON_USE):
        worker.log.info("Replacing worker %s: it imported %s", worker.pid,
                        ", ".join(name for name in _HEAVY_ON_USE if name in sys.modules))
        worker.alive = False


def _read_locale_data(app):
    """babel's data: each language's (~2.4 MB each) and its global tables (~2 MB: time zones, currencies), read
    by the first pages a worker formats a number or a date on."""
    from babel import Locale
    from babel.core import get_global

    get_global("zone_aliases")  # loads them all
    for language in app.config["LANGUAGES"]:
        Locale.parse(language).number_symbols  # noqa: B018 (loads and caches the language's data)


def _give_big_blocks_back() -> None:
    """glibc raises its mmap threshold up to each big block freed (an argon2 hash's 7 MiB at the first login),
    so later blocks that size come from the heap and stay in the worker's RSS (+7 MB per worker, measured).
    A fixed threshold keeps blocks over 256 KiB mapped apart and returns them when freed; at most two malloc
    arenas bound what gthread's threads keep. An operator's MALLOC_* environment settings win."""
    if any(key.startswith("MALLOC_") for key in os.environ):
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # glibc only
    if mallopt is not None:
        mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD
        mallopt(-8, 2)  # M_ARENA_MAX


_give_big_blocks_back()  # in the master, before the app is loaded: the workers inherit it
