from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0026_delivery_firing_index')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Person',
            name=None,
            fields=['home_org_id', 'relation_status', 'last_seen_at'],
        ),
        ops.RemoveIndex(
            model_name='Person',
            name=None,
            fields=['local_org_id', 'relation_status', 'last_seen_at'],
        ),
        ops.AddIndex(
            model_name='Person',
            index=Index(fields=['home_org_id', 'relation_status', 'last_seen_at', 'id']),
        ),
        ops.AddIndex(
            model_name='Person',
            index=Index(fields=['local_org_id', 'relation_status', 'last_seen_at', 'id']),
        ),
    ]
