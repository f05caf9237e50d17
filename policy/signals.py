"""What the policy app announces for others to act on (it imports nothing of theirs)."""

from django.dispatch import Signal

# A version (rules or a retirement) now waits for approvals; sent inside the drafting
# transaction, with `version`. The service's approver notifications listen (reserve/apps.py).
version_awaits_approval = Signal()

# A proposed category term now waits for approvals; sent inside its transaction, with `category`.
category_awaits_approval = Signal()
