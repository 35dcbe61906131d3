from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_talk')]

    initial = False

    operations = [
        ops.AddField(
            model_name='GroupBinding',
            name='purpose',
            field=fields.CharField(default='', max_length=16),
        ),
    ]
