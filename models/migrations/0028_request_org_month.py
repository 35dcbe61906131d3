from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0027_person_index_with_id')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['org_id', 'closed_at']),
        ),
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['org_id', 'rejected_at']),
        ),
    ]
