from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tulou.identity.models import OrganisationKind, Sex
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tulou', '0002_audit')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Household',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('number', fields.CharField(max_length=32)),
                ('address', fields.CharField(default='', max_length=300)),
                ('village', fields.ForeignKeyField('tulou.Area', source_field='village_id', db_constraint=True, to_field='code', related_name='households', on_delete=OnDelete.RESTRICT)),
                ('head_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_household', 'app': 'tulou', 'unique_together': (('village', 'number'),), 'pk_attr': 'id', 'table_description': 'A registered household of a village, whose number is unique within that village.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Organisation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('kind', fields.CharEnumField(db_index=True, description='DEPARTMENT: department\nTOWNSHIP_GOVERNMENT: township_government\nVILLAGE_COMMITTEE: village_committee\nVENDOR: vendor\nINTEGRATOR: integrator\nOTHER: other', enum_type=OrganisationKind, max_length=32)),
                ('area', fields.ForeignKeyField('tulou.Area', source_field='area_id', db_constraint=True, to_field='code', related_name='organisations', on_delete=OnDelete.RESTRICT)),
                ('parent', fields.ForeignKeyField('tulou.Organisation', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_organisation', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'A body that acts in an area, such as a county bureau, a village committee or a vendor.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Person',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(db_index=True, max_length=100)),
                ('resident_id_cipher', fields.TextField(unique=False)),
                ('resident_id_index', fields.CharField(unique=True, max_length=64)),
                ('birth_date', fields.DateField()),
                ('sex', fields.CharEnumField(description='MALE: male\nFEMALE: female', enum_type=Sex, max_length=8)),
                ('phone_cipher', fields.TextField(null=True, unique=False)),
                ('phone_index', fields.CharField(null=True, db_index=True, max_length=64)),
                ('household', fields.ForeignKeyField('tulou.Household', source_field='household_id', null=True, db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.SET_NULL)),
                ('home_area', fields.ForeignKeyField('tulou.Area', source_field='home_area_id', db_constraint=True, to_field='code', related_name='residents', on_delete=OnDelete.RESTRICT)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'core_person', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'A resident. Resident ID and phone are kept only as ciphertext plus a keyed blind index.'},
            bases=['Model'],
        ),
    ]
