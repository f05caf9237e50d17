"""Audit events written while serving a request carry that request's id."""

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import RequestFactory

from reserve.audit.middleware import RequestIdMiddleware
from reserve.audit.models import AuditEvent
from reserve.custody.services import agency_create


def _view_creating_an_agency(request):
    agency_create(name="Treasury", actor=request.user)
    return HttpResponse("ok")


@pytest.mark.django_db
def test_audit_event_carries_the_callers_request_id():
    # given
    user = get_user_model().objects.create_superuser(username="ops", password="x")
    request = RequestFactory().post("/", headers={"X-Request-ID": "req-0123456789"})
    request.user = user
    # when
    response = RequestIdMiddleware(_view_creating_an_agency)(request)
    # then
    assert response["X-Request-ID"] == "req-0123456789"
    assert AuditEvent.objects.get(action__startswith="agency").request_id == "req-0123456789"


@pytest.mark.django_db
def test_an_unacceptable_request_id_is_replaced_by_a_fresh_one():
    user = get_user_model().objects.create_superuser(username="ops", password="x")
    request = RequestFactory().post("/", headers={"X-Request-ID": "<script>"})
    request.user = user
    response = RequestIdMiddleware(_view_creating_an_agency)(request)
    event = AuditEvent.objects.get(action__startswith="agency")
    assert event.request_id == response["X-Request-ID"]
    assert len(event.request_id) == 32 and event.request_id != "<script>"
