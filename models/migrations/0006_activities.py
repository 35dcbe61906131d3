from tortoise import migrations
from tortoise.migrations import operations as ops
from decimal import Decimal
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_broadcasts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Activity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('created_by', fields.ForeignKeyField('models.Person', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='published_activities', on_delete=OnDelete.SET_NULL)),
                ('title', fields.CharField(max_length=100)),
                ('kind', fields.CharField(default='other', max_length=16)),
                ('starts_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('place', fields.CharField(default='', max_length=200)),
                ('capacity', fields.IntField(default=0)),
                ('audience', fields.CharField(default='org', max_length=16)),
                ('volunteer_hours', fields.DecimalField(default=Decimal('0'), max_digits=6, decimal_places=1)),
                ('signup_deadline', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(default='open', db_index=True, max_length=16)),
                ('cancel_reason', fields.TextField(default='', unique=False)),
                ('confirmed_count', fields.IntField(default=0)),
                ('checkin_code', fields.CharField(null=True, max_length=8)),
                ('reply_target', fields.CharField(default='', max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'activity', 'app': 'models', 'indexes': [Index(fields=['org_id', 'starts_at'])], 'pk_attr': 'id', 'table_description': '一项组织生活（三会一课、主题党日、志愿服务、开放活动）。编号就是 id。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CheckinAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', db_constraint=True, to_field='id', related_name='checkin_attempts', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='checkin_attempts', on_delete=OnDelete.CASCADE)),
                ('failures', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'activity_checkin_attempt', 'app': 'models', 'unique_together': (('activity', 'person'),), 'pk_attr': 'id', 'table_description': '某人对某活动签到码的错误次数与锁定时间（存库，多进程、重启都算数）。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='points', on_delete=OnDelete.CASCADE)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', null=True, db_constraint=True, to_field='id', related_name='points', on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharField(max_length=16)),
                ('points', fields.IntField()),
                ('ref', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_entry', 'app': 'models', 'unique_together': (('person', 'kind', 'ref'),), 'indexes': [Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': '积分流水：签到、志愿服务、学习（每日党课）；同一 (人, 类别, 来源) 只记一次。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Signup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', db_constraint=True, to_field='id', related_name='signups', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='signups', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharField(max_length=16)),
                ('active_key', fields.CharField(null=True, unique=True, max_length=32)),
                ('walk_in', fields.BooleanField(default=False)),
                ('attended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reply_target', fields.CharField(default='', max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('promoted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'activity_signup', 'app': 'models', 'indexes': [Index(fields=['activity_id', 'status']), Index(fields=['person_id', 'created_at'])], 'pk_attr': 'id', 'table_description': '一次报名：确认 / 候补 / 已取消；签到时记到场时间。id 即到达顺序。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TimeBankEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='timebank', on_delete=OnDelete.CASCADE)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', null=True, db_constraint=True, to_field='id', related_name='timebank', on_delete=OnDelete.SET_NULL)),
                ('hours', fields.DecimalField(max_digits=8, decimal_places=1)),
                ('kind', fields.CharField(max_length=16)),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', null=True, db_constraint=True, to_field='id', related_name='timebank', on_delete=OnDelete.SET_NULL)),
                ('officer', fields.ForeignKeyField('models.Person', source_field='officer_id', null=True, db_constraint=True, to_field='id', related_name='timebank_redeemed', on_delete=OnDelete.SET_NULL)),
                ('item', fields.CharField(default='', max_length=100)),
                ('ref', fields.CharField(null=True, unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'timebank_entry', 'app': 'models', 'indexes': [Index(fields=['person_id', 'created_at'])], 'pk_attr': 'id', 'table_description': '时间银行的一行流水：存入（活动签到，正数）或兑换（党务工作者经办，负数）。'},
            bases=['Model'],
        ),
    ]
