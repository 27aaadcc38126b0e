"""Audit actions as staff read them: ``module.enabled`` is "Module switched on", in the page's language."""

from __future__ import annotations

from tulou.i18n import lazy_gettext

ACTION_LABELS = {
    "auth.login": lazy_gettext("Signed in"),
    "auth.login_failed": lazy_gettext("Sign-in refused"),
    "auth.logout": lazy_gettext("Signed out"),
    "module.enabled": lazy_gettext("Module switched on"),
    "module.disabled": lazy_gettext("Module switched off"),
    "account.created": lazy_gettext("Account created"),
    "account.disabled": lazy_gettext("Account disabled"),
    "account.enabled": lazy_gettext("Account enabled"),
    "account.unlocked": lazy_gettext("Account unlocked"),
    "account.password_changed": lazy_gettext("Password changed"),
    "account.password_reset": lazy_gettext("Password reset"),
    "role.bound": lazy_gettext("Role granted"),
    "role.unbound": lazy_gettext("Role removed"),
    "area.imported": lazy_gettext("Areas imported"),
    "role.created": lazy_gettext("Role defined"),
    "role.changed": lazy_gettext("Role changed"),
    "role.deleted": lazy_gettext("Role deleted"),
    "person.created": lazy_gettext("Resident registered"),
    "person.updated": lazy_gettext("Resident changed"),
    "person.read_sensitive": lazy_gettext("Full resident ID shown"),
    "person.lookup": lazy_gettext("Resident looked up by ID"),
    "household.created": lazy_gettext("Household registered"),
    "household.member_added": lazy_gettext("Household member added"),
    "household.member_removed": lazy_gettext("Household member removed"),
    "household.head_set": lazy_gettext("Head of household set"),
    "organisation.created": lazy_gettext("Organisation created"),
    "organisation.changed": lazy_gettext("Organisation changed"),
    "client.created": lazy_gettext("System client registered"),
    "client.changed": lazy_gettext("System client changed"),
    "client.disabled": lazy_gettext("System client disabled"),
    "client.enabled": lazy_gettext("System client enabled"),
    "client.secret_rotated": lazy_gettext("System client given a new secret"),
    "job.run_requested": lazy_gettext("Job run by hand"),
    "device.created": lazy_gettext("Device registered"),
    "device.changed": lazy_gettext("Device changed"),
    "device.enabled": lazy_gettext("Device enabled"),
    "device.disabled": lazy_gettext("Device disabled"),
    "device.decommissioned": lazy_gettext("Device retired"),
    "device.reclaimed": lazy_gettext("Device claimed again"),
    "device.token_rotated": lazy_gettext("Device re-keyed"),
    "provisioning_key.created": lazy_gettext("Provisioning key created"),
    "provisioning_key.revoked": lazy_gettext("Provisioning key revoked"),
    "agreement.requested": lazy_gettext("Data sharing requested"),
    "agreement.approved": lazy_gettext("Data sharing approved"),
    "agreement.rejected": lazy_gettext("Data sharing rejected"),
    "agreement.revoked": lazy_gettext("Data sharing revoked"),
    "dataset.declared": lazy_gettext("Dataset declared"),
    "dataset.published": lazy_gettext("Dataset published"),
    "subscription.created": lazy_gettext("Subscription created"),
    "subscription.paused": lazy_gettext("Subscription paused"),
    "subscription.resumed": lazy_gettext("Subscription resumed"),
    "subscription.deleted": lazy_gettext("Subscription deleted"),
    "subscription.delivery_retried": lazy_gettext("Delivery sent again"),
    "exchange.read": lazy_gettext("Shared records read"),
}


def action_label(action: str) -> str:
    """The action's label, or its code for an action without one (a plugin's, say)."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action
