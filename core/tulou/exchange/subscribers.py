"""Who a subscription reads as: its subscriber, as it stands at the moment, where it holds ``subscription:manage``.

Worked out when events are recorded and again before each is sent, so a subscriber
that loses its rights (an agreement revoked or expired, an account or client
disabled, a role removed) is sent nothing more.
"""

from __future__ import annotations

from tulou.exchange.access import DatasetAccess, access_to
from tulou.exchange.models import Dataset, Subscription
from tulou.identity.accounts_models import Account, AccountStatus, Client, ClientStatus
from tulou.identity.auth import grants_of, organisations_of
from tulou.identity.crypto import EncryptedColumn
from tulou.security.principal import Principal

MANAGE = "subscription:manage"
SECRET_CONTEXT = "subscription.secret"
#: Where signing secrets are kept, for key rotation to find them.
ENCRYPTED_COLUMNS = (EncryptedColumn(Subscription, "secret_cipher", SECRET_CONTEXT),)


async def subscriber_principal(subscriber: str) -> Principal | None:
    """The subscriber as it stands now, where it holds ``subscription:manage``; ``None`` once disabled or gone."""
    kind, _sep, number = subscriber.partition(":")
    if not number.isdigit():
        return None
    if kind == "account":
        account = await Account.get_or_none(id=int(number), status=AccountStatus.ACTIVE)
        if account is None:
            return None
        principal = Principal.from_grants(subscriber, account.username, await grants_of(account.id),
                                          organisations=await organisations_of(account.id))
    elif kind == "client":
        client = await Client.get_or_none(id=int(number), status=ClientStatus.ACTIVE)
        if client is None:
            return None
        principal = Principal.from_grants(subscriber, client.name, ((client.area_id, frozenset(client.scopes)),),
                                          organisations=frozenset({client.organisation_id}))
    else:
        return None
    return principal.narrowed_to(MANAGE)


async def reader_of(subscription: Subscription, dataset: Dataset) -> DatasetAccess | None:
    """What the subscription's subscriber may read of the dataset now; ``None`` when nothing."""
    principal = await subscriber_principal(subscription.subscriber)
    if principal is None:
        return None
    access = await access_to(principal, dataset)
    return access if access.reads_anything else None
