"""The recent-errors list of each device, and the count of what it sent over MQTT that was refused."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0012_telemetry_upkeep')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DeviceErrorRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('device', fields.ForeignKeyField('tulou.Device', source_field='device_id', db_constraint=True, to_field='id', related_name='errors', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('transport', fields.CharField(max_length=8)),
                ('reason', fields.CharField(max_length=32)),
                ('message', fields.TextField(unique=False)),
                ('problems', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'core_device_error', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'One thing a device sent that was refused with no one to answer: a reading or message over MQTT.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Device',
            name='refused_count',
            field=fields.IntField(default=0),
        ),
    ]
