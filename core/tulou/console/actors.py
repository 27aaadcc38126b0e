"""Who did something, as staff read it: the username behind an actor id such as ``account:7``."""

from __future__ import annotations

from collections.abc import Iterable

from tulou.identity.accounts_models import Account


async def actor_names(actors: Iterable[str]) -> dict[str, str]:
    """Each account actor's username; other actors (clients, the CLI) are left as they are."""
    ids = {int(number) for kind, _, number in (actor.partition(":") for actor in actors)
           if kind == "account" and number.isdigit()}
    rows = await Account.filter(id__in=ids).values_list("id", "username") if ids else []
    names = {f"account:{number}": username for number, username in rows}
    return {actor: names.get(actor, actor) for actor in actors}
