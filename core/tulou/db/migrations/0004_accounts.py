from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tulou.identity.accounts_models import AccountStatus, TokenKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0003_identity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('person_id', fields.IntField(null=True)),
                ('status', fields.CharEnumField(default=AccountStatus.ACTIVE, description='ACTIVE: active\nLOCKED: locked\nDISABLED: disabled', enum_type=AccountStatus, max_length=16)),
                ('failed_logins', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('token_version', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_account', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'A member of staff who signs in with a password. Bumping token_version revokes all their tokens.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AccessToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('account', fields.ForeignKeyField('tulou.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='ACCESS: access\nREFRESH: refresh', enum_type=TokenKind, max_length=16)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('revoked', fields.BooleanField(default=False)),
                ('token_version', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_access_token', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'An issued access or refresh token, kept only as the SHA-256 of the opaque value handed out.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Role',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('title', fields.CharField(max_length=200)),
                ('permissions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('builtin', fields.BooleanField(default=False)),
            ],
            options={'table': 'core_role', 'app': 'tulou', 'pk_attr': 'id', 'table_description': "A named set of permissions, granted to accounts in an area's subtree by a binding."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoleBinding',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('tulou.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='bindings', on_delete=OnDelete.CASCADE)),
                ('role', fields.ForeignKeyField('tulou.Role', source_field='role_id', db_constraint=True, to_field='id', related_name='bindings', on_delete=OnDelete.RESTRICT)),
                ('area', fields.ForeignKeyField('tulou.Area', source_field='area_id', db_constraint=True, to_field='code', related_name='role_bindings', on_delete=OnDelete.RESTRICT)),
                ('created_by', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_role_binding', 'app': 'tulou', 'unique_together': (('account', 'role', 'area'),), 'pk_attr': 'id', 'table_description': "An account holds a role's permissions in one area and everything under it."},
            bases=['Model'],
        ),
    ]
