from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0028_request_org_month')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['assignee_org_id', 'created_at']),
        ),
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['assignee_org_id', 'closed_at']),
        ),
    ]
