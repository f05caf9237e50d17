"""Settings for mypy's Django plugin (pyproject.toml): it imports settings to learn the apps and
models, and must not start the embedded servers (a `make lint` would leave them running).
Placeholder URLs that nothing connects to stand in for the servers."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://typecheck@127.0.0.1:1/typecheck")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")

from config.settings.test import *  # noqa: F403
