from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tulou.areas.codes import AreaLevel
from tulou.jobs.models import JobOutcome
from tulou.modules.models import ActivationAction
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Area',
            fields=[
                ('code', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=12)),
                ('name', fields.CharField(max_length=100)),
                ('name_en', fields.CharField(null=True, max_length=200)),
                ('level', fields.CharEnumField(db_index=True, description='PROVINCE: province\nPREFECTURE: prefecture\nCOUNTY: county\nTOWNSHIP: township\nVILLAGE: village', enum_type=AreaLevel, max_length=12)),
                ('parent', fields.ForeignKeyField('tulou.Area', source_field='parent_id', null=True, db_constraint=True, to_field='code', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_area', 'app': 'tulou', 'pk_attr': 'code', 'table_description': 'An administrative division, whose level and parent follow from its code.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ActivationEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('area', fields.ForeignKeyField('tulou.Area', source_field='area_id', db_constraint=True, to_field='code', related_name='activation_events', on_delete=OnDelete.CASCADE)),
                ('plugin', fields.CharField(db_index=True, max_length=64)),
                ('action', fields.CharEnumField(description='ENABLED: enabled\nDISABLED: disabled', enum_type=ActivationAction, max_length=16)),
                ('actor', fields.CharField(max_length=128)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_module_event', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'Who switched which module on or off for which township, and when.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job_id', fields.CharField(db_index=True, max_length=128)),
                ('plugin', fields.CharField(max_length=64)),
                ('area_code', fields.CharField(null=True, max_length=12)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome', fields.CharEnumField(default=JobOutcome.RUNNING, description='RUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed', enum_type=JobOutcome, max_length=16)),
                ('error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'core_job_run', 'app': 'tulou', 'pk_attr': 'id', 'table_description': 'One run of a job, for one township when the job is per area.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ModuleActivation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('area', fields.ForeignKeyField('tulou.Area', source_field='area_id', db_constraint=True, to_field='code', related_name='activations', on_delete=OnDelete.CASCADE)),
                ('plugin', fields.CharField(max_length=64)),
                ('enabled_by', fields.CharField(max_length=128)),
                ('enabled_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'core_module_activation', 'app': 'tulou', 'unique_together': (('area', 'plugin'),), 'pk_attr': 'id', 'table_description': 'A module switched on for one township (and so for every village under it).'},
            bases=['Model'],
        ),
    ]
