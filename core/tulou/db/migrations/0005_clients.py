from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tulou.identity.accounts_models import ClientStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0004_accounts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Client',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('client_id', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('secret_hash', fields.CharField(max_length=64)),
                ('organisation', fields.ForeignKeyField('tulou.Organisation', source_field='organisation_id', db_constraint=True, to_field='id', related_name='clients', on_delete=OnDelete.RESTRICT)),
                ('area', fields.ForeignKeyField('tulou.Area', source_field='area_id', db_constraint=True, to_field='code', related_name='clients', on_delete=OnDelete.RESTRICT)),
                ('scopes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=ClientStatus.ACTIVE, description='ACTIVE: active\nDISABLED: disabled', enum_type=ClientStatus, max_length=16)),
                ('token_version', fields.IntField(default=0)),
                ('created_by', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_client', 'app': 'tulou', 'pk_attr': 'id', 'table_description': "A department's or vendor's system that signs in with OAuth2 client credentials."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ClientToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('client', fields.ForeignKeyField('tulou.Client', source_field='client_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('scopes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('revoked', fields.BooleanField(default=False)),
                ('token_version', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_client_token', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'An access token issued to a client, kept only as the SHA-256 of the opaque value.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Account',
            name='home_area',
            field=fields.ForeignKeyField('tulou.Area', source_field='home_area_id', null=True, db_constraint=True, to_field='code', related_name='accounts', on_delete=OnDelete.RESTRICT),
        ),
    ]
