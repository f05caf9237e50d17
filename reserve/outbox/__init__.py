"""Outbox: tasks a write asks for, committed with the write and sent to Celery after commit."""
