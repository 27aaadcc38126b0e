"""``tulou admin create``: the first county administrator account."""

from __future__ import annotations

import click
from tortoise.transactions import in_transaction

from tulou.areas.codes import AreaLevel
from tulou.areas.models import Area
from tulou.audit.service import record_audit
from tulou.cli.context import run_with_platform
from tulou.errors import Invalid
from tulou.i18n import gettext as _
from tulou.identity.accounts_models import Account, Role, RoleBinding
from tulou.identity.passwords import check_password_policy, generate_password, hash_password
from tulou.identity.roles import registered_permissions, sync_builtin_roles
from tulou.platform import Platform


@click.group()
def admin() -> None:
    """Administrator accounts."""


async def _root_area(code: str | None) -> Area:
    if code is not None:
        area = await Area.get_or_none(code=code)
        if area is None:
            raise Invalid(_("Area %(code)s does not exist") % {"code": code}, field="area")
        return area
    counties = await Area.filter(level=AreaLevel.COUNTY, parent_id=None)
    if len(counties) != 1:
        raise Invalid(_("Name the area with --area: there is not exactly one county at the root"), field="area")
    return counties[0]


def _new_password(username: str, generate: bool, from_stdin: bool) -> str:
    """The password to set: generated, read from a script's standard input, or asked for twice.

    Standard input keeps the password out of the command line, where ``ps`` and the
    shell history would show it.
    """
    if generate and from_stdin:
        raise click.UsageError(_("Use either --generate or --password-stdin"))
    if generate:
        return generate_password(username)
    if from_stdin:
        return click.get_text_stream("stdin").readline().rstrip("\r\n")
    return click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)


@admin.command("create")
@click.argument("username")
@click.option("--area", "area_code", default=None, help="area the admin holds (default: the one root county)")
@click.option("--generate", is_flag=True, help="generate a strong password and print it once")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
def create(username: str, area_code: str | None, generate: bool, password_stdin: bool) -> None:
    """Create a county administrator account; an existing USERNAME is left unchanged."""
    password = _new_password(username, generate, password_stdin)
    check_password_policy(password, username)

    async def work(platform: Platform) -> bool:
        await sync_builtin_roles(registered_permissions(platform.registry))
        if await Account.exists(username=username):
            return False
        area = await _root_area(area_code)
        password_hash = await hash_password(password)
        async with in_transaction():
            account = await Account.create(username=username, password_hash=password_hash, home_area=area)
            role = await Role.get(name="county_admin")
            await RoleBinding.create(account=account, role=role, area=area, created_by="cli")
            await record_audit("cli", "account.created", area_code=area.code, target_type="account",
                               target_id=str(account.id), detail={"username": username})
            await record_audit("cli", "role.bound", area_code=area.code, target_type="account",
                               target_id=str(account.id), detail={"role": role.name})
        return True

    if not run_with_platform(work):
        click.echo(_("Account %(username)s already exists; nothing was changed.") % {"username": username})
        return
    click.echo(_("County administrator %(username)s created.") % {"username": username})
    if generate:
        click.echo(_("Password (shown once):"))
        click.echo(f"  {password}")
