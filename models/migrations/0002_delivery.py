from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Delivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('target', fields.CharField(max_length=191)),
                ('platform', fields.CharField(max_length=16)),
                ('purpose', fields.CharField(default='', max_length=32)),
                ('dedup_key', fields.CharField(null=True, unique=True, max_length=191)),
                ('text', fields.TextField(unique=False)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('error_code', fields.IntField(null=True)),
                ('reason', fields.CharField(default='', max_length=255)),
                ('attempts', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'delivery', 'app': 'models', 'indexes': [Index(fields=['target', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
