from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0018_chat_view_indexes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='ServiceRequest',
            index=Index(fields=['handler_id', 'due_at']),
        ),
    ]
