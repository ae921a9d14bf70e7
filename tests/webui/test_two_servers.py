"""Two application servers on one PostgreSQL and one Redis: a user's requests alternate between them.

Each server is its own process (nothing of one's memory reaches the other), started on a loopback port with the
same database, secret key, Redis limit store and document folder, as two servers behind a load balancer would
be. One browser (one cookie jar) sends every request to the other server than the one before it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.conftest import ROOT, _deploy_shipped_files, own_postgres_database
from tests.factories import member, pdf_document
from webui.cli import upgrade_database

REDIS_URL = "redis://127.0.0.1:6379/0"
DEMO_PASSWORD = "demo"  # noqa: S105  (the seeded demo accounts' password, shown on the demo login page)

#: Runs one server: the app built from the JSON config in the environment, served until the test stops it. Each
#: server has its own folder of deployed process files (a local cache it rebuilds from the database).
SERVER = """
import json, os, sys
from werkzeug.serving import make_server
from app import create_app
config = {**json.loads(os.environ["TWO_SERVERS_CONFIG"]), "VERSIONS_DIR": sys.argv[2]}
make_server("127.0.0.1", int(sys.argv[1]), create_app(config), threaded=True).serve_forever()
"""

#: The timer worker's command (`flask --app app worker --once --now ISO`), in a process of its own.
WORKER = """
import json, os, sys
from app import create_app
config = {**json.loads(os.environ["TWO_SERVERS_CONFIG"]), "VERSIONS_DIR": sys.argv[2]}
result = create_app(config).test_cli_runner().invoke(args=["worker", "--once", "--now", sys.argv[1]])
print(result.output)
sys.exit(result.exit_code)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


class Servers:
    """Two running servers and one browser that sends each request to the other server than the last."""

    def __init__(self, urls: list[str], config: dict[str, Any], folder: Path) -> None:
        self.urls = urls
        self.config = config
        self.folder = folder
        self.browser = requests.Session()
        self.turn = 0
        self.served_by: list[str] = []

    def _next(self) -> str:
        url = self.urls[self.turn % 2]
        self.turn += 1
        self.served_by.append(url)
        return url

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.browser.get(self._next() + path, allow_redirects=False, timeout=60, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.browser.post(self._next() + path, allow_redirects=False, timeout=60, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.browser.put(self._next() + path, allow_redirects=False, timeout=60, **kwargs)

    def page(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:2000])
        return response.text

    def log_in(self, username: str, password: str = DEMO_PASSWORD) -> requests.Response:
        token = csrf(self.page("/login"))
        return self.post("/login", data={"csrf_token": token, "username": username, "password": password,
                                         "lang": "en"})

    def log_out(self) -> None:
        response = self.post("/logout", data={"csrf_token": csrf(self.page("/"))})
        assert response.status_code == 302
        assert "Log in" in self.page("/login")


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def form_fields(page: str) -> dict[str, str]:
    """The task form's hidden fields (its CSRF token and the case version it was rendered from)."""
    version = re.search(r'name="_version" value="(\d+)"', page)
    assert version
    return {"csrf_token": csrf(page), "_version": version.group(1)}


def task_link(html: str, case_id: int | None = None) -> str:
    """A task link in the inbox, of this case when given (the row names the case)."""
    for row in re.findall(r"<tr.*?</tr>", html, flags=re.S):
        if case_id is None or f'href="/cases/{case_id}"' in row:
            found = re.search(r'href="(/tasks/[0-9a-f-]{36})"', row)
            if found:
                return found.group(1)
    raise AssertionError(f"no task of case {case_id} in the inbox")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    if not _redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}: two servers share their login counts there")
    folder = tmp_path_factory.mktemp("two_servers")
    with own_postgres_database("mosd_two_servers") as database_url:
        upgrade_database(database_url)
        config = {
            "DATABASE_URL": database_url, "SECRET_KEY": "the-same-on-both-servers", "DEMO_MODE": True,
            "MINISTRY_BACKEND": "file", "DOCUMENT_STORAGE_DIR": str(folder / "documents"),
            "RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": f"two-servers-{uuid.uuid4().hex[:8]}",
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": False,
            "LOGIN_LIMIT_PER_ACCOUNT": "5/hour", "LOGIN_LIMIT_PER_ADDRESS": "60/hour",
        }
        _seed(config)
        ports = [_free_port(), _free_port()]
        environment = _environment(config)
        processes = []
        for port in ports:
            with open(folder / f"server-{port}.log", "wb") as log:  # the child keeps its own copy of the file
                processes.append(subprocess.Popen([sys.executable, "-c", SERVER, str(port),
                                                   str(folder / f"deployed-{port}")], cwd=ROOT,
                                                  env=environment, stdout=subprocess.DEVNULL, stderr=log))
        try:
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            for url, process in zip(urls, processes, strict=True):
                _wait_until_ready(url, process, folder)
            yield Servers(urls, config, folder)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


def _seed(config: dict[str, Any]) -> None:
    from app import create_app
    from registry.seed import seed_reference, seed_users

    application = create_app({**config, "TESTING": True})
    with application.app_context():
        from webui.db import db_session

        session = db_session()
        seed_reference(session)
        seed_users(session)
        _deploy_shipped_files(session)
        session.commit()
    application.extensions["db_engine"].dispose()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("a server did not start: " + "".join(
                log.read_text() for log in folder.glob("server-*.log")))
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server at {url} did not become ready")


def _environment(config: dict[str, Any]) -> dict[str, str]:
    """The test's environment, without settings of its own that would override the servers' shared ones."""
    environment = {**os.environ, "TWO_SERVERS_CONFIG": json.dumps(config), "PYTHONPATH": str(ROOT)}
    for key in ("DATABASE_URL", "SECRET_KEY", "RATELIMIT_STORAGE_URI", "DOCUMENT_STORAGE_DIR"):
        environment.pop(key, None)
    return environment


def _fire_timers(two: Servers, at: dt.datetime) -> str:
    """A third process, the timer worker, does one pass at ``at`` against the same database."""
    done = subprocess.run([sys.executable, "-c", WORKER, at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           str(two.folder / "deployed-worker")], cwd=ROOT, env=_environment(two.config),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _complete(two: Servers, task_url: str, data: dict[str, Any], **kwargs: Any) -> str:
    """Read the task page on one server and send its form to the other; the redirect's target."""
    page = two.page(task_url)
    response = two.post(task_url, data={**form_fields(page), **data}, **kwargs)
    assert response.status_code == 302, response.text[:3000]
    return str(response.headers["Location"])


POSTGRES_ONLY = pytest.mark.postgres


@POSTGRES_ONLY
def test_a_whole_case_with_every_request_on_the_other_server(servers: Servers) -> None:
    two = servers
    # Reception logs in on one server; the inbox comes from the other.
    assert two.log_in("reception1").status_code == 302
    inbox = two.page("/")
    assert "Task inbox" in inbox and "My tasks" in inbox

    # A registration through the pages, each form read on one server and sent to the other.
    started = two.post("/cases/new", data={"csrf_token": csrf(two.page("/cases/new")), "national_id": "123456782",
                                           "consent": "1"})
    assert started.status_code == 302 and started.headers["Location"].startswith("/tasks/")
    registration_url = started.headers["Location"]
    assert "Register the household" in two.page(registration_url)
    head = member()
    recommend_url = _complete(two, registration_url, {
        "consent_data_exchange": "1", "head_national_id": head["national_id"], "phone": "0599000111",
        "governorate": "PS-RBH", "locality": "Ramallah", "reasons": ["illness"], "reasons_details": "Ill.",
        "monthly_income": "600", "dwelling_type": "house", "dwelling_tenure": "owned", "rooms": "2",
        "water_source": "public_network", "sanitation": "public_sewer", "cooking_fuel": "gas",
        "members-0-national_id": head["national_id"], "members-0-name_ar": "خالد عمر", "members-0-relation": "head",
        "members-0-sex": "male", "members-0-birth_date": "1970-01-01", "members-0-chronic_illness": "1",
    })
    page = two.page(recommend_url)
    assert "Saved. The case moved on." in page  # the flash set by one server, shown by the other
    assert "Recommend on eligibility" in page and "Eligibility: multidimensional poverty" in page
    case_link = re.search(r'href="/cases/(\d+)"', page)
    assert case_link
    case_id = int(case_link.group(1))

    # A draft saved on one server is restored on the other.
    saved = two.put(f"{recommend_url}/draft", json={"values": {"decision": "recommend_eligible",
                                                               "recommendation_notes": "Typed on one server."}},
                    headers={"X-CSRFToken": csrf(two.page(recommend_url))})
    assert saved.status_code == 200, saved.text
    restored = two.page(recommend_url)
    assert "Typed on one server." in restored and "Restored your unsaved draft" in restored
    landed = _complete(two, recommend_url, {"decision": "recommend_eligible",
                                            "recommendation_notes": "Typed on one server."})
    assert landed == f"/cases/{case_id}"
    assert "Saved. The case moved on." in two.page(landed)

    # Logging out on one server ends the session on the other, even for a copy of the cookie.
    kept_cookies = two.browser.cookies.copy()
    two.log_out()
    replay = requests.Session()
    replay.cookies = kept_cookies
    replayed = replay.get(two.urls[two.turn % 2] + "/", allow_redirects=False, timeout=60)
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]

    # The supervisor asks for a document.
    assert two.log_in("supervisor1").status_code == 302
    review_url = task_link(two.page("/"), case_id)
    assert "Review eligibility" in two.page(review_url)
    _complete(two, review_url, {"decision": "request_documents", "missing_documents": "income_proof",
                                "review_comments": "The income proof, please."})
    two.log_out()

    # Reception uploads it on one server; the other serves it back.
    assert two.log_in("reception1").status_code == 302
    attach_url = task_link(two.page("/"), case_id)
    proof = pdf_document("proof of income, two servers")
    _complete(two, attach_url, {}, files={"documents": ("income.pdf", proof, "application/pdf")})
    case_page = two.page(f"/cases/{case_id}?tab=documents")
    link = re.search(r'href="(/documents/\d+)"><bdi>income.pdf</bdi><', case_page)
    assert link, "the case lists the uploaded document"
    downloaded = two.get(link.group(1))
    assert downloaded.status_code == 200 and downloaded.content == proof
    two.log_out()

    # Asked again, the household misses its deadline: a worker, a third process, fires the timer while both
    # servers serve the case, and the supervisor's inbox on either server shows the review back.
    assert two.log_in("supervisor1").status_code == 302
    review_url = task_link(two.page("/"), case_id)
    _complete(two, review_url, {"decision": "request_documents", "missing_documents": "income_proof",
                                "review_comments": "A newer one, please."})
    waiting = two.page("/")
    with pytest.raises(AssertionError):
        task_link(waiting, case_id)  # the household has the case now
    report = _fire_timers(two, dt.datetime.now(dt.UTC) + dt.timedelta(days=21, minutes=5))
    assert f"timer fired: Household's deadline (attach_documents_reminder) of {case_id}; next: review_eligibility" \
        in report, report
    back = two.page("/")
    review_url = task_link(back, case_id)
    review = two.page(review_url)
    assert "Review eligibility" in review

    # The supervisor approves and names the case manager, from the page's own choices.
    manager = re.search(r'name="case_manager".*?<option value="(\d+)"', review, flags=re.S)
    assert manager, "the review offers the directorate's case managers"
    chosen = manager.group(1)
    _complete(two, review_url, {"decision": "approve", "case_manager": chosen})
    assert "Needs assessment" in two.page(f"/cases/{case_id}")
    two.log_out()

    # The case manager's field visit, on the other server again.
    assert two.log_in("casemanager1").status_code == 302
    visit_url = task_link(two.page("/"), case_id)
    assert "Needs assessment field visit" in two.page(visit_url)
    plan_url = _complete(two, visit_url, {
        "visit_date": "2026-11-03", "needs_areas": ["health", "work"], "needs_description": "Treatment.",
        "household_resources": "The mother sews.", "risk_level": "medium"})
    plan = two.page(plan_url)
    assert "Saved. The case moved on." in plan
    _complete(two, plan_url, {
        "goals": "Regular income and treatment.", "plan_start_date": "2026-11-10", "plan_end_date": "2027-02-10",
        "household_agreed": "1",
        "interventions-0-description": "Monthly cash transfer", "interventions-0-area": "cash",
        "interventions-0-provider_type": "ministry", "interventions-0-provider_name": "Cash Transfer Programme",
        "interventions-0-due_date": "2026-12-01"})
    two.log_out()

    # The supervisor approves the plan; the case manager follows up and closes the case.
    assert two.log_in("supervisor1").status_code == 302
    _complete(two, task_link(two.page("/"), case_id), {"decision": "approve"})
    two.log_out()
    assert two.log_in("casemanager1").status_code == 302
    follow_up_url = task_link(two.page("/"), case_id)
    evaluation_url = _complete(two, follow_up_url, {"visit_date": "2026-12-01", "progress": "on_track",
                                                    "follow_up_notes": "Transfer paid."})
    closed = _complete(two, evaluation_url, {"goals_achieved": "fully", "decision": "close",
                                             "evaluation_notes": "Goals met."})
    assert closed == f"/cases/{case_id}"
    assert "Saved. The case is now closed." in two.page(closed)
    two.log_out()
    # Every request went to the other server than the one before it.
    assert all(a != b for a, b in zip(two.served_by, two.served_by[1:], strict=False))
    assert set(two.served_by) == set(two.urls)


@POSTGRES_ONLY
def test_failed_logins_spread_over_both_servers_hit_one_limit(servers: Servers) -> None:
    two = servers

    def attempt(on: int, password: str) -> requests.Response:
        """The login page read from the other server, the form sent to server ``on``."""
        token = csrf(two.browser.get(two.urls[1 - on] + "/login", timeout=60).text)
        return two.browser.post(two.urls[on] + "/login", allow_redirects=False, timeout=60,
                                data={"csrf_token": token, "username": "reception2", "password": password,
                                      "lang": "en"})

    for number in range(5):  # the limit is five an hour per address and account: three on A, two on B
        refused = attempt(number % 2, "wrong")
        assert refused.status_code == 401 and "Log in" in refused.text, refused.text[:2000]
        assert "Too many attempts" not in refused.text
    for on in (0, 1):  # now both servers refuse even the right password, for the count they share
        throttled = attempt(on, "demo")
        assert throttled.status_code == 429 and "Too many attempts" in throttled.text
    assert two.log_in("supervisor2").status_code == 302  # another account from the same place is not locked out
