"""Playwright fixtures: the running service (from tests/ui/main.rs), Debian's Chromium, pages that
fail their test on any script error, and the desk's set-up through the API."""

import json
import os
import re
import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

# Pages poll the API (the queue every 3 s) and the suite may share two cores with other work:
# give each expectation 15 s before it fails, not Playwright's 5.
expect.set_options(timeout=15_000)

BASE = os.environ.get("PL_BASE_URL", "http://127.0.0.1:8080")
ADMIN = os.environ.get("PL_ADMIN_TOKEN", "")
REVIEWER = os.environ.get("PL_REVIEWER_TOKEN", "")
SHOTS = Path(os.environ.get("UI_SCREENSHOTS", "/tmp/pl-ui-screenshots"))

# The browser's own log line for an answer the test provoked on purpose (a 4xx refusal the
# page then shows in words); it is not a script error.
PROVOKED = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


def call(method, path, token=None, body=None):
    """The JSON API, for the desk's set-up and the sandbox's phone."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def campus_card_png(path):
    """A 320×200 PNG drawn like a campus card: a blue band and a photo box."""
    w, h = 320, 200
    rows = []
    for y in range(h):
        row = bytearray([0])
        for x in range(w):
            if y < 40:
                row += bytes((30, 90, 170))
            elif 60 <= y < 170 and 20 <= x < 110:
                row += bytes((200, 200, 200))
            elif 80 <= y < 90 and 130 <= x < 290 or 110 <= y < 120 and 130 <= x < 250:
                row += bytes((60, 60, 60))
            else:
                row += bytes((250, 250, 245))
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    path.write_bytes(png)
    return path


@pytest.fixture(scope="session")
def photo(tmp_path_factory):
    return campus_card_png(tmp_path_factory.mktemp("photo") / "campus-card.png")


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("PL_CHROMIUM", "/usr/bin/chromium"))
        yield b
        b.close()


class Pages:
    """Opens pages whose script errors and console errors fail the test."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts = []
        self.errors = []

    def open(self, width, height, path, mobile=False):
        ctx = self.browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN",
            is_mobile=mobile, has_touch=mobile, device_scale_factor=2 if mobile else 1)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: m.type == "error" and not PROVOKED.match(m.text)
                and self.errors.append(f"console: {m.text}"))
        page.goto(BASE + path)
        return page

    def owner(self, lot):
        return self.open(375, 740, f"/lots/{lot}", mobile=True)

    def console(self):
        return self.open(1280, 800, "/review")


@pytest.fixture
def pages(browser):
    p = Pages(browser)
    yield p
    for c in p.contexts:
        for page in c.pages:
            no_leaks(page)
        c.close()
    assert not p.errors, "script or console errors:\n" + "\n".join(p.errors)


# What a page must never show a person: a program's values instead of words.
LEAKS = re.compile(r"(?<![A-Za-z])(null|undefined|NaN)(?![A-Za-z])|\[object |\{\s*\"")


def no_leaks(page):
    text = page.inner_text("body")
    found = LEAKS.search(text)
    assert not found, f"the page shows {found.group(0)!r}: {text[:400]}"


def shot(page, name):
    no_leaks(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def desk():
    """A lot with the manual's product and consent, and a way to issue cards at it."""
    status, lot = call("POST", "/api/v1/admin/lots", ADMIN, {
        "name": "北京大学医学部",
        "product": {"name": "北京大学医学部通行证", "price_fen": 36000,
                    "period_months": 12, "season_starts": "06-01"},
        "consent": {"version": "2022-05", "text": CONSENT},
    })
    assert status == 201, lot
    status, body = call("PUT", f"/api/v1/admin/lots/{lot['lot_id']}/service-phone", ADMIN,
                        {"service_phone": "010-82805604"})
    assert status == 200, body

    class Desk:
        lot_id = lot["lot_id"]

        def card(self, plate, phone, holder="王老师"):
            status, body = call("POST", "/api/v1/admin/permits", ADMIN, {
                "lot_id": lot["lot_id"], "plate": plate, "holder_name": holder, "phone": phone,
                "valid_from": "2021-06-01", "valid_to": "2022-05-31"})
            assert status == 201, body
            return body["permit_id"]

    return Desk()


def last_code(phone):
    status, body = call("GET", f"/sandbox/sms?phone={phone}")
    assert status == 200, body
    codes = [m["code"] for m in body["messages"] if "code" in m]
    assert codes, body
    return codes[-1]


CONSENT = "\n".join([
    "办理人员须详细了解《2022年医学部机动车管理实施细则》相关内容。",
    "办理人员填写在职职工姓名及核对手机号。",
    "办理人员填写内容须真实有效，办理人员上传工作证（校园一卡通）照片须真实有效，如发现伪造、涂改、套用等情况，通报单位并取消办理资格。",
    "办理人员须预付通行证相应金额，若审核未通过请等待全额退款。",
    "办理人员未通过线上审核，请再次上传信息审核或到保卫处线下办理。",
    "线上办理只为在职职工机动车进行审核，通过审核后则无法再次申请。",
])
