"""Test settings: real PostgreSQL and Redis (embedded unless the variables are set)."""

from config.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Throttle and lockout counters must not leak between test runs through a shared Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The category terms (policy_category) are seeded by a migration and permanent once active: a
# serialized rollback would re-save them over the copies tests/owner.py's ensure_categories seeds
# again after a flush, which the triggers refuse. They are left out, and re-seeded instead.
TEST_NON_SERIALIZED_APPS = ["policy"]
