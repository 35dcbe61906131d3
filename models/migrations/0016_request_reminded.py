from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0015_person_scope_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ServiceRequest',
            name='reminded',
            field=fields.CharField(default='', db_default='', max_length=16),
        ),
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['status', 'reminded', 'due_at']),
        ),
        # handlers/request_followup.py became part of handlers/requests (#12): its job's
        # Broadcast row takes the job's new name (the old one would fire nothing forever).
        # A database that already has a row of the new name (served by a build of the
        # change before this migration) keeps that one; the old row is retired.
        ops.RunSQL(
            "UPDATE broadcast SET job = 'requests.visit_expiry', "
            "audience_ref = 'requests.visit_expiry' WHERE job = 'request_followup.visit_expiry' "
            "AND NOT EXISTS (SELECT 1 FROM broadcast AS b WHERE b.job = 'requests.visit_expiry')",
            reverse_sql="UPDATE broadcast SET job = 'request_followup.visit_expiry', "
            "audience_ref = 'request_followup.visit_expiry' WHERE job = 'requests.visit_expiry'",
        ),
        ops.RunSQL(
            "UPDATE broadcast SET status = 'done' WHERE job = 'request_followup.visit_expiry'",
            reverse_sql="SELECT 1",
        ),
    ]
