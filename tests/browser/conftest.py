"""Browser tests: the real service on a loopback port, driven by Debian's Chromium through
Playwright (its own browser download is not available here; ``scripts/test`` installs the
``chromium`` and ``fonts-noto-cjk`` packages when they are missing).

Fixtures:

* ``served`` (session): the service with a seeded snapshot, see ``Served``.
* ``start_server`` (function): ``start_server(**settings) -> Served``, another service with
  extra ``Settings`` (e.g. ``access_log=True``), stopped after the test.
* ``browser`` (session): headless Chromium; ``page`` (function): a fresh context (no cookies
  shared between tests) with a phone viewport and the zh-CN locale.
* ``save_screenshot(page, name)``: ``docs/screenshots/<name>.png``, the full page at CSS
  pixels (390 px wide: a quarter of the device pixels, small enough to keep in git).

Without Chromium (or Playwright) the tests are skipped with the reason, except in CI
(``CI=true``), where that is a failure: the suite must run there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uvicorn

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.service.app import create_app
from creditgate.service.deps import Services
from creditgate.service.security import issue_user_token
from creditgate.service.settings import Settings

CHROMIUM = Path(os.environ.get("CREDITGATE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--no-sandbox",  # root in a container: no user namespaces for the sandbox
    "--disable-gpu",
    "--disable-background-networking",  # nothing leaves the machine
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

SECRET = "browser-test-secret"
STAFF_TOKENS = {  # principal name -> token; the name is the role but for the second admin
    "service": "browser-svc-token",
    "viewer": "browser-viewer-token",
    "operator": "browser-operator-token",
    "admin": "browser-admin-token",
    "admin2": "browser-admin2-token",  # four eyes: a second person who may approve
}
AS_OF = date(2025, 6, 30)  # the seeded snapshot's evaluation date
SEED_USERS = 3_000
SEED = 12


@pytest.hookimpl(tryfirst=True)  # before xdist groups by the marks (test_xdist_groups.py)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a ``browser`` test (``-m "not browser"`` skips them),
    and all of them run in one xdist worker, one after another (``--dist loadgroup`` in
    scripts/test): a live server thread and Playwright's event loop in a worker would meet the
    tests that look at the process's open files or call ``asyncio.run``. Their fixtures are
    module-scoped, so nothing of them is left when that worker moves on."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))


def missing(reason: str) -> None:
    """Skip the browser tests, or fail them in CI, where they must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the browser tests: .ci/run installs it)")
    pytest.skip(reason)


@dataclass(frozen=True)
class SeededUsers:
    """Users of the seeded batch run, by what the batch decided for them."""

    batch: dict[str, dict[str, Any]]  # user id -> its decisions.parquet row
    invited: str  # an invited user
    by_outcome: dict[str, str]  # outcome -> a user with it
    by_reason: dict[str, str]  # reason code -> a refused user with it (the only one if possible)
    quarantined: str  # a user of the input the batch quarantined (unknown to the service)
    servicing: str = ""  # a refused user who owes money: the entry stays for servicing
    source: Path | None = None  # the seeded population (for another batch over it)


@dataclass
class Served:
    """A running service: ``base_url`` (``http://127.0.0.1:PORT``), its ``settings`` and the
    app's ``services`` (same process: to look behind the pages), the seeded ``users``."""

    base_url: str
    settings: Settings
    services: Services
    users: SeededUsers
    directory: Path  # the database, snapshots and batch files
    _stop: Callable[[], None] = field(repr=False, default=lambda: None)

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def users_source(self) -> Path:
        """The seeded population file (the same users, for another batch run over them)."""
        assert self.users.source is not None
        return self.users.source

    def staff_token(self, role: str = "admin") -> str:
        """The bearer token of the staff principal ``role`` (service, viewer, operator, admin,
        admin2)."""
        return STAFF_TOKENS[role]

    def staff_headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {STAFF_TOKENS[role]}"}

    def user_token(self, user_id: str, ttl_s: int = 600) -> str:
        """A signed user token for ``user_id`` (as ``creditgate token user`` issues)."""
        return issue_user_token(self.settings.secret_bytes, user_id, ttl_s)


def seed_batch(directory: Path) -> tuple[Path, SeededUsers]:
    """A small synthetic population (a few bad rows) through the DuckDB batch: the snapshot
    (with its decided profiles) to serve and the users it decided."""
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "users.parquet"
    write_parquet(source, SEED_USERS, seed=SEED, as_of=AS_OF, dirty_fraction=0.003)
    owing(source)
    decider = Decider()
    snapshot = directory / "batch" / "snapshot.parquet"
    run_batch(
        duckdb_backend("1GB", 2),
        source,
        directory / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=snapshot,
    )
    rows = pq.read_table(directory / "decisions.parquet").to_pylist()
    batch = {r["user_id"]: r for r in rows}
    by_outcome: dict[str, str] = {}
    by_reason: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: (len(r["reason_codes"]), r["user_id"])):
        if row["entry"] == "servicing":  # other tests pick users without a loan
            continue
        by_outcome.setdefault(row["outcome"], row["user_id"])
        if row["outcome"] != "invited":
            for code in row["reason_codes"]:
                by_reason.setdefault(code, row["user_id"])
    quarantine = pq.read_table(directory / "decisions.quarantine.parquet", columns=["user_id"])
    bad = sorted(u for u in quarantine["user_id"].to_pylist() if u and u not in batch)
    assert bad and {"invited", "not_invited"} <= set(by_outcome), "seed a population with both"
    servicing = sorted(u for u, r in batch.items() if r["entry"] == "servicing")
    assert servicing, "seed a population with a refused user who owes money"
    users = SeededUsers(
        batch, by_outcome["invited"], by_outcome, by_reason, bad[0], servicing[0], source
    )
    return snapshot, users


def owing(source: Path) -> None:
    """Every user whose id ends in 3 has a loan outstanding (``has_outstanding_loan``)."""
    table = pq.read_table(source)
    column = table.schema.get_field_index("has_outstanding_loan")
    kind = table.schema.field(column).type
    yes = "true" if pa.types.is_string(kind) else True
    flags = [yes if u and u.endswith("3") else None for u in table["user_id"].to_pylist()]
    pq.write_table(table.set_column(column, "has_outstanding_loan", pa.array(flags, kind)), source)


def settings_for(directory: Path, snapshot: Path, **overrides: Any) -> Settings:
    tokens = ",".join(f"{n}:{n.rstrip('2')}:{t}" for n, t in STAFF_TOKENS.items())
    base: dict[str, Any] = {
        "db_url": f"sqlite:///{directory / 'creditgate.db'}",
        "secret": SECRET,
        "tokens": tokens,
        "rate_limit_per_s": 0,
        "access_log": False,
        "snapshot_dir": str(directory / "snapshots"),
        "snapshot_path": str(snapshot),  # registered and activated at start-up
        "state_refresh_s": 0.2,
    }
    return Settings(**{**base, **overrides})


def free_socket() -> socket.socket:
    """A socket bound to a free loopback port (handed to uvicorn: no race for the port).
    Made with ``IPPROTO_TCP`` as ``getaddrinfo`` gives it: with protocol 0 asyncio does not
    set ``TCP_NODELAY`` on accepted connections, and every response waits ~40 ms for the
    client's delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def running(settings: Settings) -> Iterator[tuple[str, Services]]:
    """The app under uvicorn in a background thread (its own event loop); stopped on exit."""
    app = create_app(settings)
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    app.state.snapshot_reviews.join(120)  # the snapshot's manual reviews queued at start-up
    try:
        yield f"http://127.0.0.1:{port}", app.state.services
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        app.state.services.engine.dispose()  # no descriptor of the database outlives it


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SeededUsers]:
    """The seeded batch run, shared by every service of the session (read-only)."""
    return seed_batch(tmp_path_factory.mktemp("seeded"))


@contextmanager
def serving(
    directory: Path, seeded: tuple[Path, SeededUsers], **overrides: Any
) -> Iterator[Served]:
    snapshot, users = seeded
    directory.mkdir(parents=True, exist_ok=True)
    settings = settings_for(directory, snapshot, **overrides)
    with running(settings) as (base_url, services):
        yield Served(base_url, settings, services, users, directory)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, seeded: tuple[Path, SeededUsers]
) -> Iterator[Served]:
    """The service for a module: fresh SQLite, the seeded snapshot active, staff tokens."""
    with serving(tmp_path_factory.mktemp("served"), seeded) as found:
        yield found


@pytest.fixture
def start_server(
    tmp_path: Path, seeded: tuple[Path, SeededUsers]
) -> Iterator[Callable[..., Served]]:
    """``start_server(**settings)``: another service (own database) with these ``Settings``
    fields overridden; each is stopped after the test."""
    stack: list[Any] = []

    def start(**overrides: Any) -> Served:
        context = serving(tmp_path / f"server-{len(stack)}", seeded, **overrides)
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium; Playwright gives each launch a fresh temporary profile."""
    if not CHROMIUM.exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def phone_page(browser: Any) -> Iterator[Any]:
    """A page in a new context: a 390x844 phone, zh-CN, touch, no state from other pages."""
    context = new_phone(browser)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


DESKTOP = {"width": 1280, "height": 900}  # the operator console's screen


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    """A desktop page (1280x900, zh-CN) in a new context, for the operator console."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A ``phone_page`` for one test."""
    with phone_page(browser) as found:
        yield found


def write_screenshot(
    page: Any, name: str, directory: Path = SCREENSHOTS, mask: Sequence[Any] = ()
) -> Path:
    """The full page as ``directory/<name>.png``, replaced only when the picture changed (so a
    test run leaves unchanged screenshots untouched); the ``mask`` locators (what differs from
    run to run: dates, random ids) are painted over in grey."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad screenshot name {name!r}")
    png: bytes = page.screenshot(full_page=True, scale="css", mask=list(mask), mask_color="#d0d0d6")
    target = directory / f"{name}.png"
    if target.exists() and target.read_bytes() == png:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".png")
    with os.fdopen(fd, "wb") as stream:
        stream.write(png)
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)
    return target


@pytest.fixture
def save_screenshot() -> Callable[..., Path]:
    """``save_screenshot(page, name, mask=())`` -> ``docs/screenshots/<name>.png``."""
    return write_screenshot


def new_phone(browser: Any, **options: Any) -> Any:
    """A context like the ``page`` fixture's (a zh-CN phone), with ``options``."""
    return browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        **options,
    )
