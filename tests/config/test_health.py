"""The health endpoint reports the services it depends on."""

import pytest
from django.test import Client, override_settings


@pytest.mark.django_db
def test_healthz_reports_database_and_redis_up():
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["down"] == []


@pytest.mark.django_db
def test_healthz_is_503_naming_redis_when_redis_is_down():
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]
