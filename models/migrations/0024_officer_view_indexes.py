from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0023_pending_registrations_in_order')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='RoleGrant',
            index=Index(fields=['org_id', 'role', 'person_id']),
        ),
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(
                fields=[
                    'status', 'due_at', 'id', 'org_id', 'assignee_org_id', 'handler_id',
                    'paused_at',
                ]
            ),
        ),
    ]
