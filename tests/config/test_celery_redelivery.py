"""The broker's visibility timeout, chosen rather than Redis's default hour: a message a killed
worker held comes back after it, so it must outlast the longest run (else a running task is
handed out twice) and the longest retry countdown (Redis holds those unacknowledged too), and
stay well short of an hour. The redelivery itself, with a real worker killed on Redis:
tests/reserve/reconciliation/test_worker.py (test_a_worker_killed_mid_scan_...)."""

from __future__ import annotations

from config.celery import app


def test_the_visibility_timeout_outlasts_every_run_and_every_retry_countdown_and_not_by_hours() -> None:
    # given: the configured app and its registered tasks
    app.loader.import_default_modules()
    options = app.conf.broker_transport_options
    longest_countdown = max(getattr(task, "retry_backoff_max", 0) for task in app.tasks.values())
    # then
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert options["visibility_timeout"] > app.conf.task_time_limit >= app.conf.task_soft_time_limit
    assert options["visibility_timeout"] > longest_countdown == 300
    assert options["visibility_timeout"] <= 15 * 60
    # and the surviving workers look for abandoned messages every sweep, not every tenth
    assert (options["unacked_restore_interval"], options["unacked_restore_throttle"]) == (10, 1)
