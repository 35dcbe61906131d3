from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_service_requests')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CheckIn',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='checkins', on_delete=OnDelete.CASCADE)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='checkins', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(default='flow_in', max_length=16)),
                ('chat', fields.CharField(default='', max_length=191)),
                ('checked_in_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('left_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('destination', fields.CharField(default='', max_length=100)),
                ('open_key', fields.CharField(null=True, unique=True, max_length=32)),
            ],
            options={'table': 'checkin', 'app': 'models', 'indexes': [Index(fields=['org_id', 'checked_in_at']), Index(fields=['person_id', 'checked_in_at'])], 'pk_attr': 'id', 'table_description': '一次报到：谁、到哪个组织、哪一类（流入 / 在职）、何时、在哪个会话；离开时记去向。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberRegistration',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='registrations', on_delete=OnDelete.CASCADE)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='registrations', on_delete=OnDelete.RESTRICT)),
                ('real_name', fields.CharField(default='', max_length=64)),
                ('phone', fields.CharField(default='', max_length=20)),
                ('home_org', fields.ForeignKeyField('models.Organization', source_field='home_org_id', null=True, db_constraint=True, to_field='id', related_name='home_registrations', on_delete=OnDelete.SET_NULL)),
                ('home_text', fields.CharField(default='', max_length=100)),
                ('member_type', fields.CharField(default='full', max_length=16)),
                ('relation_handed', fields.BooleanField(default=True)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=16)),
                ('pending_key', fields.CharField(null=True, unique=True, max_length=32)),
                ('reason', fields.TextField(default='', unique=False)),
                ('reply_target', fields.CharField(default='', max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.ForeignKeyField('models.Person', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='decided_registrations', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'member_registration', 'app': 'models', 'indexes': [Index(fields=['org_id', 'status'])], 'pk_attr': 'id', 'table_description': '一份党员登记（亮身份），由所属组织的党务工作者确认或驳回。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TransferRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='transfers', on_delete=OnDelete.CASCADE)),
                ('from_org', fields.ForeignKeyField('models.Organization', source_field='from_org_id', db_constraint=True, to_field='id', related_name='transfers_out', on_delete=OnDelete.RESTRICT)),
                ('to_org', fields.ForeignKeyField('models.Organization', source_field='to_org_id', null=True, db_constraint=True, to_field='id', related_name='transfers_in', on_delete=OnDelete.SET_NULL)),
                ('to_text', fields.CharField(default='', max_length=100)),
                ('reason', fields.TextField(default='', unique=False)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=16)),
                ('pending_key', fields.CharField(null=True, unique=True, max_length=32)),
                ('note', fields.TextField(default='', unique=False)),
                ('reply_target', fields.CharField(default='', max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'transfer_request', 'app': 'models', 'pk_attr': 'id', 'table_description': '组织关系接转申请：转出方的党务工作者批准或驳回，每一步记一条 TransferEvent。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TransferEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('transfer', fields.ForeignKeyField('models.TransferRequest', source_field='transfer_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('action', fields.CharField(max_length=16)),
                ('from_status', fields.CharField(default='', max_length=16)),
                ('to_status', fields.CharField(max_length=16)),
                ('actor', fields.ForeignKeyField('models.Person', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='transfer_events', on_delete=OnDelete.SET_NULL)),
                ('chat', fields.CharField(default='', max_length=191)),
                ('note', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'transfer_event', 'app': 'models', 'indexes': [Index(fields=['transfer_id', 'created_at'])], 'pk_attr': 'id', 'table_description': '接转的一步：谁、在哪个会话、什么时候、做了什么、说明。'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Person',
            name='flow_status',
            field=fields.CharField(default='', db_default='', max_length=16),
        ),
        ops.AddField(
            model_name='Person',
            name='home_branch',
            field=fields.CharField(default='', db_default='', max_length=100),
        ),
        ops.AddField(
            model_name='Person',
            name='home_org',
            field=fields.ForeignKeyField('models.Organization', source_field='home_org_id', null=True, db_constraint=True, to_field='id', related_name='home_people', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Person',
            name='local_org',
            field=fields.ForeignKeyField('models.Organization', source_field='local_org_id', null=True, db_constraint=True, to_field='id', related_name='local_people', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Person',
            name='member_type',
            field=fields.CharField(default='', db_default='', max_length=16),
        ),
        ops.AddField(
            model_name='Person',
            name='relation_status',
            field=fields.CharField(default='', db_default='', max_length=16),
        ),
    ]
