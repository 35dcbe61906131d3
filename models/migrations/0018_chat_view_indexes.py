from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_reply_pages')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='MemberRegistration',
            index=Index(fields=['person_id', 'status']),
        ),
    ]
