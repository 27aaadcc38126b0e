"""The gateway a device's readings may come through."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0014_console_sessions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Device',
            name='gateway',
            field=fields.ForeignKeyField('tulou.Device', source_field='gateway_id', db_constraint=True, to_field='id', related_name='children', null=True, on_delete=OnDelete.SET_NULL),
        ),
    ]
