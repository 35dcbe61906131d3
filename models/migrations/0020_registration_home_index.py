from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0019_workbench_indexes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='MemberRegistration',
            index=Index(fields=['home_org_id', 'status']),
        ),
    ]
