"""What a resident is told when the bot does not understand (handlers/talk.py): the
short menu, in a private chat and in an (unbound) group, and after a bare greeting.
Shared by the channel tests."""

SERVICES = (
    "连心 · 可用命令\n"
    "1 诉求：报修、求助、反映问题\n"
    "2 活动：近期活动、报名、签到\n"
    "3 报到登记：党员亮身份、报到、接转关系\n"
    "4 学习积分：每日党课、积分、排行\n"
    "5 我的：我的社区、称呼、组织代码\n"
)
PLAIN_HINT = (
    "您好，我是连心服务助手。没太明白您的意思，可以回复编号：\n"
    + SERVICES
    + "回复编号看用法；发“/帮助 全部”看所有命令"
)
PLAIN_HINT_GROUP = (
    "您好，我是连心服务助手。没太明白您的意思，可以这样找：\n"
    + SERVICES
    + "在群里请以 / 开头或 @我。发送“/帮助 编号”看用法，“/帮助 全部”看所有命令"
)
GREETING = (
    "您好！我是连心服务助手。有事直接跟我说就行，比如“楼道灯坏了”“有什么活动”；也可以回复编号：\n"
    + SERVICES
    + "回复编号看用法；发“/帮助 全部”看所有命令"
)
GREETING_GROUP = (
    "您好！我是连心服务助手。有事直接跟我说就行，比如“楼道灯坏了”“有什么活动”；也可以这样找：\n"
    + SERVICES
    + "在群里请以 / 开头或 @我。发送“/帮助 编号”看用法，“/帮助 全部”看所有命令"
)
