from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor', fields.CharField(max_length=128)),
                ('action', fields.CharField(db_index=True, max_length=64)),
                ('area_code', fields.CharField(null=True, db_index=True, max_length=12)),
                ('target_type', fields.CharField(null=True, max_length=64)),
                ('target_id', fields.CharField(null=True, max_length=128)),
                ('purpose', fields.TextField(null=True, unique=False)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(unique=True, max_length=64)),
            ],
            options={'table': 'core_audit_entry', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'One audited action. The id is the chain order and hash covers every other field.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditHead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('appends', fields.BigIntField(default=0)),
                ('last_id', fields.IntField(default=0)),
                ('last_hash', fields.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
            ],
            options={'table': 'core_audit_head', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'The single row every append updates first, which makes appends take turns.'},
            bases=['Model'],
        ),
    ]
