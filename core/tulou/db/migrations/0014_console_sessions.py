"""Access tokens gain a kind, ``session``: the admin console's sign-in cookie (no new column, the enum's comment)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tulou.identity.accounts_models import TokenKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0013_device_errors')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AccessToken',
            name='kind',
            field=fields.CharEnumField(description='ACCESS: access\nREFRESH: refresh\nSESSION: session', enum_type=TokenKind, max_length=16),
        ),
    ]
