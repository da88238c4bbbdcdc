"""The CRM's web UI in real Chromium: flags saved, a crashed browser replaced mid-run."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from pydantic import SecretStr

from blocks.sandbox import store_block
from multistore.calls import NO_POOLS
from multistore.clients.crm_ui import SignInError
from tests.fixtures.chromium import kill_browser


def crm_web_session(credentials, store_id: str):
    return credentials.get_ui_client(store_id, pools=NO_POOLS).session()


pytestmark = pytest.mark.browser


def test_flags_are_saved_and_a_crashed_browser_is_replaced(sandbox) -> None:
    store = "ui-crash"
    before = sandbox.admin.crm_flags(store)
    targets = sorted(before)[:3]
    credentials = store_block("crm", store, sandbox.url)
    with crm_web_session(credentials, store) as session:
        session.set_flag(targets[0], not before[targets[0]])
        kill_browser()
        session.set_flag(targets[1], not before[targets[1]])
        session.set_flag(targets[2], before[targets[2]])  # unchanged value: saved as is
        assert session.browser.launches == 2 and session.sign_ins == 2
    after = sandbox.admin.crm_flags(store)
    assert after[targets[0]] is (not before[targets[0]])
    assert after[targets[1]] is (not before[targets[1]])
    assert after[targets[2]] is before[targets[2]]
    assert sandbox.admin.counters()["sessions"]["now"] == 0


def test_refused_sign_ins_are_retried(sandbox) -> None:
    store = "ui-login"
    sandbox.admin.set_faults([{"vendor": "crm_ui", "login_failure_rate": 0.6}])
    contact = sorted(sandbox.admin.crm_flags(store))[0]
    before = sandbox.admin.crm_flags(store)[contact]
    with crm_web_session(store_block("crm", store, sandbox.url), store) as session:
        session.set_flag(contact, not before)
    assert sandbox.admin.crm_flags(store)[contact] is (not before)
    counts = sandbox.admin.vendor_counts("crm_ui")
    assert counts["logins"] == 1 and counts["login_failures"] >= 1


def test_a_wrong_password_fails_at_once_in_one_line(sandbox) -> None:
    store = "ui-password"
    credentials = store_block("crm", store, sandbox.url)
    credentials.ui_password = SecretStr("wrong")
    with (
        crm_web_session(credentials, store) as session,
        pytest.raises(SignInError) as info,
    ):
        session.set_flag(sorted(sandbox.admin.crm_flags(store))[0], True)
    assert str(info.value) == (
        "crm_ui for store ui-password: sign-in as 'ui-password-user' refused: "
        "Invalid username or password."
    )
    assert sandbox.admin.vendor_counts("crm_ui")["login_failures"] == 1


def test_a_page_whose_socket_close_fails_is_still_closed(sandbox) -> None:
    """The presence socket's close script fails on a live page: the page is closed anyway."""
    store = "ui-evaluate"
    contact = sorted(sandbox.admin.crm_flags(store))[0]
    before = sandbox.admin.crm_flags(store)[contact]
    with crm_web_session(store_block("crm", store, sandbox.url), store) as session:
        session.set_flag(contact, not before)
        page = session.page
        assert page is not None and not page.is_closed()
        assert sandbox.admin.counters()["sessions"]["now"] == 1

        def broken(*args, **kwargs):
            raise PlaywrightError("evaluate failed")

        page.evaluate = broken  # type: ignore[method-assign]
        session.browser.close_page()
        assert page.is_closed()
        # Still inside the session (the browser lives): only closing the page ends its socket.
        for _ in range(50):
            if sandbox.admin.counters()["sessions"]["now"] == 0:
                break
            time.sleep(0.1)
        assert sandbox.admin.counters()["sessions"]["now"] == 0
