"""/transparency/: the public page, its JSON, and the latest published statement."""

from django.urls import path

from reserve.public import views

urlpatterns = [
    path("", views.transparency_page, name="transparency"),
    path("transparency.json", views.transparency_json, name="transparency-json"),
    path("statements/<int:pk>.json", views.statement_download, name="transparency-statement"),
]
