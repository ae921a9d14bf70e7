"""The notification outbox: queued with the caller's work, delivered once, retried with backoff."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import OperationContext
from registry.models import Case, Directorate, Household
from registry.notifications import (
    MessageState,
    NotifySettings,
    OutboxMessage,
    TemplateError,
    deliver_due,
    queue_message,
    sender_from_settings,
)
from tests.conftest import Clock

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


class Gateway:
    """A tiny SMS gateway on a real local socket: answers each request with the next status in ``statuses``."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if delay:
                    threading.Event().wait(delay)  # a slow gateway, so that deliverers overlap
                with gateway.lock:
                    status = gateway.statuses.pop(0) if gateway.statuses else 200
                    if status == 200:
                        gateway.received.append(body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway()
    yield server
    server.close()


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.extensions["sessionmaker"]
    return factory


def _queue(sessions: sessionmaker[Session], now: dt.datetime, count: int = 1, **extra: Any) -> list[int]:
    with sessions() as session, session.begin():
        ids = [queue_message(session, template="signup_code", params={"code": f"{100000 + i}"}, lang="en", now=now,
                             to_mobile="0599000001", **extra).id for i in range(count)]
    return ids


def _message(sessions: sessionmaker[Session], message_id: int) -> OutboxMessage:
    with sessions() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message


@BOTH_DATABASES
def test_a_message_queued_in_a_rolled_back_transaction_leaves_nothing(sessions: sessionmaker[Session],
                                                                      clock: Clock) -> None:
    with sessions() as session:
        queue_message(session, template="application_received", params={"reference": "RAM-1"}, lang="ar",
                      now=clock(), to_mobile="0599000001")
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1  # flushed, visible inside
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert deliver_due(sessions, now=clock()) == 0


def test_a_queued_message_is_rendered_in_its_language_with_codes_masked(sessions: sessionmaker[Session],
                                                                         clock: Clock) -> None:
    with sessions() as session, session.begin():
        message = queue_message(session, template="complaint_follow_up_code", lang="ar", now=clock(),
                                params={"reference": "CMP-7", "code": "493817"}, to_mobile="0599000002")
    assert "CMP-7" in message.body and "493817" in message.body and "رمز" in message.body
    assert "493817" not in message.body_masked and "••••••" in message.body_masked and "CMP-7" in message.body_masked
    assert (message.channel, message.state, message.send_after) == ("sms", "pending", clock())


def test_an_unknown_template_or_a_missing_placeholder_is_refused(sessions: sessionmaker[Session],
                                                                 clock: Clock) -> None:
    with sessions() as session:
        with pytest.raises(TemplateError, match="no message template 'nothing_like_this'"):
            queue_message(session, template="nothing_like_this", params={}, lang="en", now=clock(), to_mobile="059")
        with pytest.raises(TemplateError, match=r"no value for \{code\}"):
            queue_message(session, template="signup_code", params={}, lang="en", now=clock(), to_mobile="059")


def test_the_log_sender_writes_the_message_to_the_log_and_marks_it_sent(
        sessions: sessionmaker[Session], clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    [message_id] = _queue(sessions, clock())
    with caplog.at_level(logging.INFO, logger="mosd.outbox"):
        assert deliver_due(sessions, now=clock()) == 1
    assert "0599000001" in caplog.text and "100000" in caplog.text
    message = _message(sessions, message_id)
    assert (message.state, message.sent_at, message.attempts) == ("sent", clock(), 1)
    assert deliver_due(sessions, now=clock()) == 0  # sent once only


def test_a_message_queued_for_later_waits_until_it_is_due(sessions: sessionmaker[Session], clock: Clock) -> None:
    [message_id] = _queue(sessions, clock())
    with sessions() as session, session.begin():
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        message.send_after = clock() + dt.timedelta(hours=1)
    assert deliver_due(sessions, now=clock()) == 0
    clock.advance(hours=1)
    assert deliver_due(sessions, now=clock()) == 1


def test_the_http_sender_posts_to_the_gateway_and_retries_a_failure_after_a_backoff(
        sessions: sessionmaker[Session], clock: Clock, gateway: Gateway) -> None:
    settings = NotifySettings(sender="http", sms_gateway_url=gateway.url, timeout=5, backoff_seconds=60)
    [message_id] = _queue(sessions, clock())
    gateway.statuses = [503, 500]
    assert deliver_due(sessions, now=clock(), settings=settings) == 0
    failed = _message(sessions, message_id)
    assert (failed.state, failed.attempts, failed.sent_at) == ("pending", 1, None)
    assert "503" in (failed.last_error or "")
    assert failed.send_after == clock() + dt.timedelta(seconds=60)

    clock.advance(seconds=59)
    assert deliver_due(sessions, now=clock(), settings=settings) == 0  # not due yet: nothing is tried
    assert _message(sessions, message_id).attempts == 1
    clock.advance(seconds=1)
    assert deliver_due(sessions, now=clock(), settings=settings) == 0
    again = _message(sessions, message_id)
    assert again.attempts == 2 and again.send_after == clock() + dt.timedelta(seconds=120)  # twice as long

    clock.advance(seconds=120)
    assert deliver_due(sessions, now=clock(), settings=settings) == 1
    sent = _message(sessions, message_id)
    assert (sent.state, sent.attempts, sent.last_error, sent.sent_at) == ("sent", 3, None, clock())
    assert gateway.received == [{"to": "0599000001", "text": sent.body, "lang": "en", "id": message_id}]


def test_a_gateway_that_does_not_answer_is_a_failure_and_the_message_is_given_up_after_its_attempts(
        sessions: sessionmaker[Session], clock: Clock, gateway: Gateway) -> None:
    gateway.close()  # nothing listens on the port any more
    settings = NotifySettings(sender="http", sms_gateway_url=gateway.url, timeout=2, max_attempts=3,
                              backoff_seconds=10)
    [message_id] = _queue(sessions, clock())
    for _ in range(3):
        assert deliver_due(sessions, now=clock(), settings=settings) == 0
        clock.advance(hours=1)
    message = _message(sessions, message_id)
    assert (message.state, message.attempts) == ("failed", 3)
    assert "did not answer" in (message.last_error or "")
    assert deliver_due(sessions, now=clock(), settings=settings) == 0


def test_an_email_with_only_the_sms_gateway_configured_fails_with_a_clear_error(
        sessions: sessionmaker[Session], clock: Clock, gateway: Gateway) -> None:
    with sessions() as session, session.begin():
        message_id = queue_message(session, template="decision_made", params={"reference": "R-1"}, lang="en",
                                   now=clock(), to_email="someone@example.org").id
    deliver_due(sessions, now=clock(), settings=NotifySettings(sender="http", sms_gateway_url=gateway.url))
    assert "no configured sender carries email" in (_message(sessions, message_id).last_error or "")


def test_a_misconfigured_sender_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="SMS_GATEWAY_URL"):
        sender_from_settings(NotifySettings(sender="http"))
    with pytest.raises(ValueError, match="unknown sender 'pigeon'"):
        sender_from_settings(NotifySettings(sender="pigeon"))
    assert NotifySettings.from_config({"NOTIFY_SENDER": "http", "SMS_GATEWAY_URL": "http://gw",
                                       "NOTIFY_MAX_ATTEMPTS": "4"}).max_attempts == 4


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_deliverers_at_once_never_send_a_message_twice(sessions: sessionmaker[Session], clock: Clock) -> None:
    gateway = Gateway(delay=0.01)
    try:
        settings = NotifySettings(sender="http", sms_gateway_url=gateway.url, timeout=5)
        ids = _queue(sessions, clock(), count=40)
        start = threading.Barrier(2)
        counts: list[Any] = []

        def deliver() -> None:
            try:
                start.wait()
                counts.append(deliver_due(sessions, now=clock(), settings=settings))
            except Exception as err:  # noqa: BLE001 - reported below
                counts.append(err)

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert all(isinstance(c, int) for c in counts), counts
        assert sum(counts) == 40 and min(counts) > 0, counts  # both worked, together exactly once each
        assert sorted(r["id"] for r in gateway.received) == sorted(ids)
        with sessions() as session:
            assert set(session.scalars(select(OutboxMessage.state))) == {MessageState.SENT.value}
    finally:
        gateway.close()


# --- the notify operation -------------------------------------------------------------------

def _case_with_household(session: Session, *, phone: str | None, now: dt.datetime) -> Case:
    directorate = session.scalar(select(Directorate).order_by(Directorate.id))
    assert directorate is not None
    household = Household(directorate_id=directorate.id, governorate_code=directorate.governorate_code,
                          locality="al-Bireh", phone=phone, created_at=now)
    session.add(household)
    session.flush()
    case = Case(reference=f"T-{household.id}", directorate_id=directorate.id, household_id=household.id,
                created_at=now)
    session.add(case)
    session.flush()
    return case


def _notify(session: Session, case: Case, now: dt.datetime, **params: Any) -> dict[str, Any]:
    from registry.notifications.operations import notify

    context = OperationContext(session=session, business_key=str(case.id), scope=case.directorate.code,
                               actor_id=None, now=now)
    return notify(context, **params)


def test_notify_queues_the_message_to_the_households_phone_in_arabic(sessions: sessionmaker[Session],
                                                                     clock: Clock) -> None:
    with sessions() as session, session.begin():
        case = _case_with_household(session, phone="0599123456", now=clock())
        result = _notify(session, case, clock(), template="decision_made")
        reference, directorate_id = case.reference, case.directorate_id
    assert result["queued"] is True
    message = _message(sessions, result["message_id"])
    assert (message.recipient, message.lang, message.business_key, message.directorate_id, message.citizen_id) == \
        ("0599123456", "ar", reference, directorate_id, None)
    assert reference in message.body and "قرار" in message.body


def test_notify_prefers_the_portal_accounts_mobile_and_language(sessions: sessionmaker[Session],
                                                                clock: Clock) -> None:
    from registry.citizens.models import Citizen

    with sessions() as session, session.begin():
        case = _case_with_household(session, phone="0599123456", now=clock())
        unconfirmed = Citizen(national_id="400000001", mobile="0590000009", password_hash="x", lang="en",
                              household_id=case.household_id, created_at=clock())
        session.add(unconfirmed)
        session.flush()
        assert _notify(session, case, clock(), template="decision_made")["queued"]
        account = Citizen(national_id="400000002", mobile="0597777777", password_hash="x", lang="en",
                          household_id=case.household_id, mobile_confirmed_at=clock(), created_at=clock())
        session.add(account)
        session.flush()
        result = _notify(session, case, clock(), template="documents_requested", missing=["birth certificate"],
                         due="2026-11-20")
        account_id = account.id
    first = _message(sessions, result["message_id"] - 1)
    assert first.recipient == "0599123456"  # an unconfirmed mobile is nobody's proven number yet
    message = _message(sessions, result["message_id"])
    assert (message.recipient, message.lang, message.citizen_id) == ("0597777777", "en", account_id)
    assert "birth certificate" in message.body and "2026-11-20" in message.body


def test_notify_without_any_mobile_number_queues_nothing_and_says_so(sessions: sessionmaker[Session],
                                                                     clock: Clock) -> None:
    with sessions() as session, session.begin():
        case = _case_with_household(session, phone=None, now=clock())
        result = _notify(session, case, clock(), template="decision_made")
    assert result == {"queued": False, "template": "decision_made",
                      "reason": "no mobile number known for the household"}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


# --- the checks an analyst's edit must pass -----------------------------------------------------

def _service_task(template: str, extra: str = "") -> str:
    return (f'<spiffworkflow:serviceTaskOperator id="notify" resultVariable="sent"><spiffworkflow:parameters>'
            f'<spiffworkflow:parameter id="template" type="any" value="{template}" />{extra}'
            f'</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>')


def _diagram_with_notify(library: Any, operator: str) -> Path:
    path = Path(library.processes_dir) / "notify_test.bpmn"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="notify_test" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="tell" name="Tell the household">
      <bpmn:extensionElements>{operator}</bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="tell" />
    <bpmn:sequenceFlow id="f2" sourceRef="tell" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
""", encoding="utf-8")
    return path


def _problems(library: Any, path: Path) -> list[str]:
    from engine.library import check_library

    return check_library(library)[str(path)]


def test_a_diagram_naming_an_unknown_message_or_leaving_a_placeholder_out_fails_the_check(
        editable_library: Any) -> None:
    path = _diagram_with_notify(editable_library, _service_task("&quot;no_such_message&quot;"))
    assert any("unknown message template 'no_such_message'" in p for p in _problems(editable_library, path))
    path = _diagram_with_notify(editable_library, _service_task("&quot;documents_requested&quot;"))
    found = _problems(editable_library, path)
    assert any("uses {due}: give it as a parameter" in p for p in found)
    assert any("uses {missing}: give it as a parameter" in p for p in found)
    given = ('<spiffworkflow:parameter id="missing" type="any" value="missing_documents" />'
             '<spiffworkflow:parameter id="due" type="any" value="due_date" />')
    path = _diagram_with_notify(editable_library, _service_task("&quot;documents_requested&quot;", given))
    assert not [p for p in _problems(editable_library, path) if "notify" in p or "message" in p]
    path = _diagram_with_notify(editable_library, _service_task("template_name"))
    assert any("must be a quoted message name" in p for p in _problems(editable_library, path))


def test_a_broken_notifications_file_fails_the_process_check(editable_library: Any) -> None:
    from registry.checks import check_all

    path = Path(editable_library.processes_dir) / "notifications.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{code}. Do not share it.", "{pin}. Do not share it.")
                    .replace("password_reset_code:", "password_reset_code_old:"), encoding="utf-8")
    problems = check_all(editable_library)[str(path)]
    assert "signup_code: unknown placeholder {pin} (this message has: {code})" in problems
    assert "password_reset_code: the product sends this message, and its template is missing" in problems
    path.write_text("signup_code:\n  ar: 'رمز {code'\n  en: 'code {code}'\n", encoding="utf-8")
    assert any("unbalanced braces" in p for p in check_all(editable_library)[str(path)])


def test_the_shipped_notifications_file_passes_its_checks() -> None:
    from registry.notifications.templates import default_path, file_problems

    assert file_problems(default_path()) == []
