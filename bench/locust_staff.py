"""Locust users for ``bench_load.py``: case managers and supervisors working through their day.

Run by ``bench_load.py`` in a second process (``locust -f bench/locust_staff.py --headless ...``), never on its
own: it reads the plan that ``bench_load.py`` writes (``BENCH_LOAD_PLAN``, a JSON file): per user, the session
cookie and API bearer token of an already made login, the tasks it can really complete with the data to send,
tasks and cases to open and search terms. Every user is taken once (as many locust users as planned users).

Request types, as locust names them: ``inbox`` (``/``, a case manager), ``supervisor_inbox`` (``/`` for a
supervisor: their open approvals), ``open_task`` (``/tasks/<id>``), ``complete_task``
(``POST /api/v1/tasks/<id>/complete``), ``open_case`` (``/cases/<id>``), ``search`` (``/registry/search``).
Anything but a 200 is a failure, redirects included (a redirect here means the session was lost).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import urllib.parse
from typing import Any

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

with open(os.environ["BENCH_LOAD_PLAN"], encoding="utf-8") as _handle:
    PLAN: dict[str, Any] = json.load(_handle)

_next_user = itertools.count()
_lock = threading.Lock()


class Staff(FastHttpUser):
    """One planned user; what it does depends on its role."""

    wait_time = between(PLAN["wait_min"], PLAN["wait_max"])

    def on_start(self) -> None:
        with _lock:
            me = PLAN["users"][next(_next_user) % len(PLAN["users"])]
        self.me = me
        self.rnd = random.Random(me["username"])
        self.work: list[dict[str, Any]] = list(me["work"])  # completable tasks, in order
        self.page_headers = {"Cookie": me["cookie"]}
        self.api_headers = {"Authorization": f"Bearer {me['token']}", "Content-Type": "application/json"}
        self.inbox_name = "supervisor_inbox" if me["role"] == "supervisor" else "inbox"

    def _get(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, headers=self.page_headers, allow_redirects=False,
                             catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")

    @task(4)
    def inbox(self) -> None:
        self._get("/", self.inbox_name)

    @task(3)
    def open_task(self) -> None:
        tasks = [w["task_id"] for w in self.work[:1]] + self.me["open_tasks"]
        if tasks:
            self._get(f"/tasks/{self.rnd.choice(tasks)}", "open_task")

    @task(1)
    def complete_task(self) -> None:
        if not self.work:
            self.environment.events.request.fire(  # out of work: say so, never pretend to complete
                request_type="SKIP", name="no_work_left", response_time=0, response_length=0, exception=None,
                context={})
            return
        item = self.work.pop(0)
        body = json.dumps({"data": PLAN["payloads"][item["form"]] | item.get("extra", {})})
        with self.client.post(f"/api/v1/tasks/{item['task_id']}/complete", name="complete_task", data=body,
                              headers=self.api_headers, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}: {(answer.text or '')[:200]}")
                return
            follow = PLAN["follow"].get(item["form"])
            for nxt in (answer.json() or {}).get("next_tasks", []):
                if follow and nxt.get("form_key") == follow:  # the next step of the same case is ours too
                    self.work.insert(0, {"task_id": nxt["id"], "form": follow})

    @task(3)
    def open_case(self) -> None:
        self._get(f"/cases/{self.rnd.choice(self.me['cases'])}", "open_case")

    @task(2)
    def search(self) -> None:
        query = urllib.parse.urlencode({"q": self.rnd.choice(self.me["searches"])})
        self._get(f"/registry/search?{query}", "search")
