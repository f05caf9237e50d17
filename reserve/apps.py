from django.apps import AppConfig
from django.db.models.signals import pre_save


class ReserveConfig(AppConfig):
    name = "reserve"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # No stored text holds a private key, whoever saves it (reserve/common/free_text.py).
        from reserve.common.free_text import free_text_guard

        pre_save.connect(free_text_guard, dispatch_uid="reserve.free_text_guard")
        # Approvers are told of a policy version or category term waiting for them (reserve/notifications/).
        from policy.signals import category_awaits_approval, version_awaits_approval
        from reserve.notifications.services import category_notify, policy_version_notify

        version_awaits_approval.connect(policy_version_notify, dispatch_uid="reserve.policy_version_notify")
        category_awaits_approval.connect(category_notify, dispatch_uid="reserve.category_notify")
        from reserve.custody.signals import membership_awaits_approval
        from reserve.notifications.services import membership_notify

        membership_awaits_approval.connect(membership_notify, dispatch_uid="reserve.membership_notify")
