from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0009_record_pages')]

    initial = False

    operations = [
        ops.AddField(
            model_name='DatasetVersion',
            name='property_order',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
