"""Records are paged in id order within a dataset: index (dataset, major, id) instead of (dataset, major, area),
whose rows had to be sorted again for every page."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tulou', '0008_ngsi_field_map')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Record',
            name=None,
            fields=['dataset_id', 'major', 'area_id'],
        ),
        ops.AddIndex(
            model_name='Record',
            index=Index(fields=['dataset_id', 'major', 'id']),
        ),
    ]
