"""API-key usage is counted in memory and written in batches: nothing is lost or counted twice, also when a
write fails, and no request waits on the key's row."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from serving.api_keys import usage
from serving.api_keys.models import ApiKey, ApiKeyUsageDaily
from tests.serving.api_keys.test_api_keys_api import URL, create_key, key_headers


def _stored(owner_session, key_id) -> tuple[int, int]:
    owner_session.expire_all()
    key = owner_session.get(ApiKey, key_id)
    daily = sum(owner_session.scalars(select(ApiKeyUsageDaily.request_count)
                                      .where(ApiKeyUsageDaily.api_key_id == key_id)))
    return key.request_count, daily


def test_concurrent_requests_are_counted_once_each(client, tenant, owner_session, settings):
    body = create_key(client, tenant.user)
    headers = key_headers(body["key"])
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.get("/api/v1/prospects", headers=headers).status_code, range(40)))
    assert codes == [200] * 40
    usage.counter(settings).flush()
    usage.counter(settings).flush()  # a second flush has nothing left to add
    assert _stored(owner_session, body["id"]) == (40, 40)
    assert client.get(f"{URL}/{body['id']}/usage", headers=tenant.user.headers).json()["requestCount"] == 40


def test_a_failed_write_keeps_its_counts_for_the_next_flush(client, tenant, owner_session, settings, monkeypatch):
    body = create_key(client, tenant.user)
    counter = usage.counter(settings)
    counter.flush()

    def unavailable(*args, **kwargs):
        raise ConnectionError("database restarting")

    with monkeypatch.context() as patched:  # every write fails meanwhile, the background thread's included
        patched.setattr(counter, "_write", unavailable)
        for _ in range(3):
            assert client.get("/api/v1/prospects", headers=key_headers(body["key"])).status_code == 200
        with pytest.raises(ConnectionError):
            counter.flush()
        assert _stored(owner_session, body["id"]) == (0, 0)
    counter.flush()
    assert _stored(owner_session, body["id"]) == (3, 3)
