"""Finding 6: the rate limit counts callers, not header spellings, and never forgets everyone
at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import TOKENS, auth, make_settings
from creditgate.service.app import create_app
from creditgate.service.middleware import MAX_BUCKETS, TokenBucket, client_key
from creditgate.service.security import AuthError, Principal

ADMIN = TOKENS["admin"]


def limited_client(tmp_path: object, burst: int = 2) -> TestClient:
    settings = make_settings(
        f"sqlite:///{tmp_path}/r.db", rate_limit_per_s=0.001, rate_limit_burst=burst
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_header_spellings_share_one_allowance(tmp_path: object) -> None:
    with limited_client(tmp_path) as c:
        codes = [c.get("/v1/admin/policies", headers=auth("admin")).status_code for _ in range(2)]
        assert codes == [200, 200]
        for spelling in (
            f"bearer {ADMIN}",
            f"BEARER {ADMIN}",
            f"Bearer    {ADMIN}",
            f"bEaReR\t{ADMIN}",
        ):
            r = c.get("/v1/admin/policies", headers={"Authorization": spelling})
            assert r.status_code == 429, spelling
        other = c.get("/v1/admin/policies", headers=auth("viewer"))
        assert other.status_code == 200  # another principal, its own allowance


def test_a_second_authorization_header_is_401_not_a_new_bucket(tmp_path: object) -> None:
    with limited_client(tmp_path, burst=3) as c:
        for _ in range(3):
            assert c.get("/v1/admin/policies", headers=auth("admin")).status_code == 200
        twice = [("Authorization", f"Bearer {ADMIN}"), ("Authorization", "junk")]
        r = c.get("/v1/admin/policies", headers=twice)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        r = c.get("/v1/admin/policies", headers=list(reversed(twice)))
        assert r.status_code == 401
        same_twice = [("Authorization", f"Bearer {ADMIN}")] * 2
        assert c.get("/v1/admin/policies", headers=same_twice).status_code == 401
        r = c.get("/v1/admin/policies", headers=same_twice)
        assert r.status_code == 429  # the address's allowance (3) is spent
        assert c.get("/v1/admin/policies", headers=auth("admin")).status_code == 429


def test_unauthenticated_callers_are_counted_per_host_not_port() -> None:
    def scope(port: int) -> dict[str, object]:
        return {"client": ("192.0.2.7", port), "headers": []}

    def deny(_: str) -> Principal:
        raise AuthError("invalid token")

    assert client_key(scope(1), [], deny) == client_key(scope(2), [], deny)
    assert client_key(scope(1), [b"Bearer nope"], deny) == client_key(scope(3), [], deny)
    keys = {client_key(scope(p), [b"x"], lambda _: Principal("admin", "ops")) for p in (1, 2)}
    assert keys == {"p:ops"}


def test_users_are_limited_as_users() -> None:
    def user(header: str) -> Principal:
        return Principal("user", "user~0123456789abcdef", "alice")

    key = client_key({"client": ("192.0.2.7", 1)}, [b"Bearer cgu.anything"], user)
    assert key == "p:user~0123456789abcdef" and "alice" not in key


def test_spraying_addresses_does_not_reset_a_limited_client() -> None:
    bucket = TokenBucket(rate=0.0001, burst=1)
    assert bucket.allow("a:victim") and not bucket.allow("a:victim")
    for i in range(MAX_BUCKETS + 10):
        bucket.allow(f"a:spray-{i}")
        if i % 1000 == 0:
            assert not bucket.allow("a:victim"), i  # an active client stays limited
    assert not bucket.allow("a:victim")
    assert len(bucket.buckets) <= MAX_BUCKETS
    assert "a:spray-0" not in bucket.buckets  # the least recently used went first
