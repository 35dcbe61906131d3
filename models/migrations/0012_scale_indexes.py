from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_onebot12_bridges')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='GroupBinding',
            index=Index(fields=['org_id']),
        ),
        ops.AddIndex(
            model_name='Identity',
            index=Index(fields=['person_id']),
        ),
        ops.AddIndex(
            model_name='Person',
            index=Index(fields=['home_org_id']),
        ),
        ops.AddIndex(
            model_name='Person',
            index=Index(fields=['local_org_id']),
        ),
        ops.AddIndex(
            model_name='RequestEvent',
            index=Index(fields=['action', 'created_at']),
        ),
        ops.AddIndex(
            model_name='RoleGrant',
            index=Index(fields=['org_id', 'role']),
        ),
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['status', 'due_at']),
        ),
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['assignee_org_id', 'status']),
        ),
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['closed_at']),
        ),
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['rejected_at']),
        ),
    ]
