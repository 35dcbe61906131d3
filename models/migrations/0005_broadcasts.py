from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_checkin')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Broadcast',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', null=True, db_constraint=True, to_field='id', related_name='broadcasts', on_delete=OnDelete.RESTRICT)),
                ('created_by', fields.ForeignKeyField('models.Person', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='broadcasts', on_delete=OnDelete.SET_NULL)),
                ('job', fields.CharField(null=True, unique=True, max_length=64)),
                ('rule', fields.CharField(max_length=100)),
                ('rule_text', fields.CharField(default='', max_length=100)),
                ('audience', fields.CharField(max_length=16)),
                ('audience_ref', fields.CharField(default='', max_length=191)),
                ('content', fields.TextField(default='', unique=False)),
                ('urgent', fields.BooleanField(default=False)),
                ('status', fields.CharField(default='active', max_length=16)),
                ('next_fire_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_by', fields.ForeignKeyField('models.Person', source_field='cancelled_by_id', null=True, db_constraint=True, to_field='id', related_name='broadcasts_cancelled', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'broadcast', 'app': 'models', 'indexes': [Index(fields=['status', 'next_fire_at'])], 'pk_attr': 'id', 'table_description': '一条定时推送：发什么（模板）、给谁、按什么规则、下一次何时。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BroadcastFiring',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('broadcast', fields.ForeignKeyField('models.Broadcast', source_field='broadcast_id', db_constraint=True, to_field='id', related_name='firings', on_delete=OnDelete.CASCADE)),
                ('fire_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(default='sending', max_length=16)),
                ('reason', fields.CharField(default='', max_length=255)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('targets', fields.IntField(default=0)),
                ('sent', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
                ('uncertain', fields.IntField(default=0)),
                ('superseded', fields.IntField(default=0)),
            ],
            options={'table': 'broadcast_firing', 'app': 'models', 'unique_together': (('broadcast', 'fire_at'),), 'indexes': [Index(fields=['status'])], 'pk_attr': 'id', 'table_description': '广播的一次触发：计划时间、实际开始、目标数与结果；错过宽限期的记为 skipped。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Subscription',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='subscriptions', on_delete=OnDelete.CASCADE)),
                ('topic', fields.CharField(max_length=32)),
                ('target', fields.CharField(max_length=191)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', null=True, db_constraint=True, to_field='id', related_name='subscriptions', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'subscription', 'app': 'models', 'unique_together': (('person', 'topic'),), 'indexes': [Index(fields=['topic'])], 'pk_attr': 'id', 'table_description': '订阅：某人在某个会话里订阅一个主题；退订即删除，之后不再推送。'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Delivery',
            name='firing_id',
            field=fields.BigIntField(null=True, db_index=True),
        ),
    ]
