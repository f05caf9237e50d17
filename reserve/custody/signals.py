"""What custody announces for the layers above it to act on (it imports none of them)."""

from django.dispatch import Signal

# A membership change now waits for a checker; sent inside the proposal's transaction, with
# `membership`. The approver notifications listen (reserve/apps.py).
membership_awaits_approval = Signal()
