"""One line per event in the service's log.

A client's mistake (a 403, a 404) is a warning of one line, not a traceback: Django logs
`PermissionDenied` with the exception attached, which would print a stack for an auditor who
opened a page they may not see. A login is one line: django-axes follows each success with
housekeeping lines that report nothing ("Cleaned up 0 ...", "Reset 0 ...", "Deleted 0 ...").
A failed request under `make run` is the request's warning alone: the development server's
access line for a status of 400 or more repeats what `django.request` logged for every such
response. The filter sits on the one console handler (`LOGGING` in config/settings/base.py, which
also takes Django's own DEBUG console off its logger).
"""

from __future__ import annotations

import logging
import re

_NOTHING_DONE = re.compile(r"AXES: (Cleaned up|Reset|Deleted) 0 ")


class OneLinePerEvent(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("axes") and _NOTHING_DONE.match(record.getMessage()):
            return False
        status = getattr(record, "status_code", None)
        if record.name == "django.server" and isinstance(status, int) and status >= 400:
            return False
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
