from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_delivery')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RequestCounter',
            fields=[
                ('day', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=8)),
                ('seq', fields.IntField(default=0)),
            ],
            options={'table': 'request_counter', 'app': 'models', 'pk_attr': 'day', 'table_description': '每天一行的编号计数器；在提交诉求的事务里原子加一。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ServiceRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('number', fields.CharField(unique=True, max_length=16)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='service_requests', on_delete=OnDelete.RESTRICT)),
                ('requester', fields.ForeignKeyField('models.Person', source_field='requester_id', db_constraint=True, to_field='id', related_name='service_requests', on_delete=OnDelete.RESTRICT)),
                ('category', fields.CharField(default='other', max_length=16)),
                ('content', fields.TextField(unique=False)),
                ('place', fields.CharField(default='', max_length=200)),
                ('contact', fields.CharField(default='', max_length=64)),
                ('status', fields.CharField(default='received', db_index=True, max_length=16)),
                ('reply_target', fields.CharField(default='', max_length=191)),
                ('handler', fields.ForeignKeyField('models.Person', source_field='handler_id', null=True, db_constraint=True, to_field='id', related_name='handled_requests', on_delete=OnDelete.SET_NULL)),
                ('assignee_org', fields.ForeignKeyField('models.Organization', source_field='assignee_org_id', null=True, db_constraint=True, to_field='id', related_name='forwarded_requests', on_delete=OnDelete.SET_NULL)),
                ('result', fields.TextField(null=True, unique=False)),
                ('score', fields.IntField(null=True)),
                ('rating_comment', fields.TextField(null=True, unique=False)),
                ('urge_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rejected_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_urged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'service_request', 'app': 'models', 'indexes': [Index(fields=['org_id', 'created_at']), Index(fields=['requester_id', 'created_at'])], 'pk_attr': 'id', 'table_description': '一张诉求工单（订单式服务）。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RequestEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('models.ServiceRequest', source_field='request_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('action', fields.CharField(max_length=16)),
                ('from_status', fields.CharField(default='', max_length=16)),
                ('to_status', fields.CharField(max_length=16)),
                ('actor', fields.ForeignKeyField('models.Person', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='request_events', on_delete=OnDelete.SET_NULL)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', null=True, db_constraint=True, to_field='id', related_name='request_events', on_delete=OnDelete.SET_NULL)),
                ('chat', fields.CharField(default='', max_length=191)),
                ('note', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'request_event', 'app': 'models', 'indexes': [Index(fields=['request_id', 'created_at'])], 'pk_attr': 'id', 'table_description': '工单全过程的一步：谁、在哪个会话、什么时候、做了什么、备注。'},
            bases=['Model'],
        ),
    ]
