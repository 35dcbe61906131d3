from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0020_registration_home_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Identity',
            name='nickname',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='Person',
            name='nickname',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
    ]
