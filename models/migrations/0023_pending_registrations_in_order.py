from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0022_member_view_indexes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='MemberRegistration',
            index=Index(fields=['status', 'created_at', 'id']),
        ),
    ]
