from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tulou_notices.models import NoticeStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Notice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('area', fields.ForeignKeyField('tulou.Area', source_field='area_id', db_index=True, db_constraint=True, to_field='code', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('title', fields.CharField(max_length=100)),
                ('body', fields.TextField(unique=False)),
                ('valid_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('valid_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=NoticeStatus.PUBLISHED, description='PUBLISHED: published\nWITHDRAWN: withdrawn\nARCHIVED: archived', enum_type=NoticeStatus, max_length=16)),
                ('published_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'notices_notice', 'app': 'notices', 'pk_attr': 'id', 'table_description': 'A notice published to one village or township, shown while valid and kept after.'},
            bases=['Model'],
        ),
    ]
