from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_grids')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RequestAttachment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('models.ServiceRequest', source_field='request_id', db_constraint=True, to_field='id', related_name='attachments_rel', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('media_id', fields.CharField(default='', max_length=255)),
                ('url', fields.CharField(default='', max_length=1000)),
                ('by', fields.ForeignKeyField('models.Person', source_field='by_id', null=True, db_constraint=True, to_field='id', related_name='request_attachments', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'request_attachment', 'app': 'models', 'pk_attr': 'id', 'table_description': '附图：办理人回单时或诉求人提诉求时发来的图片（平台的 media id 或链接）。'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ServiceRequest',
            name='escalated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ServiceRequest',
            name='paused_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ServiceRequest',
            name='visit',
            field=fields.CharField(default='', db_default='', db_index=True, max_length=16),
        ),
        ops.AddField(
            model_name='ServiceRequest',
            name='visit_due_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ServiceRequest',
            name='visited_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ServiceRequest',
            name='workdays',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
