from django.apps import AppConfig


class ReserveConfig(AppConfig):
    name = "reserve"
    default_auto_field = "django.db.models.BigAutoField"
