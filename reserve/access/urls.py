"""Routes of the admin's two-factor pages (verify a session, enrol a device), mounted before the admin's own."""

from django.urls import path

from reserve.access.two_factor import enrol_view, verify_view

urlpatterns = [
    path("verify/", verify_view, name="two_factor_verify"),
    path("enrol/", enrol_view, name="two_factor_enrol"),
]
