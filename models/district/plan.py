"""How big a district of scale S is, and the deterministic pieces of its data.

S = 1.0: one district → 10 streets → 100 communities → 1,000 branches; 100,000 people
(50,000 members, 20,000 of them flowing in or out, the rest residents); 5,000 bound
groups; 3,000 activities in the year with 240,000 sign-ups; 30,000 requests (a month
at 1,000 a day). Everything comes from one `random.Random(seed)`, so a scale and a seed
always give the same district.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

CODE = "XQ"  # the district's code; the others start with it (XQJD01, XQSQ001, XQZB0001)
# Groups bound per organisation of each kind (5,000 at S = 1.0).
GROUPS_PER = {"district": 10, "street": 9, "community": 9, "branch": 4}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文志明海燕德辉林波宁鑫浩宇子涵梓轩欣怡思雨晨阳嘉豪佳琪雪梅春生淑珍秀英金凤"  # noqa: E501
STREETS = "长安 和平 幸福 光明 建设 解放 人民 新华 东风 胜利 团结 友谊 朝阳 向阳 振兴".split()
PLACES = "翠苑 枫林 桃源 金桥 银湖 紫荆 丹桂 玉泉 青山 绿洲 春晖 秋实 锦绣 华庭 康乐".split()


def scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale))


@dataclass
class Plan:
    scale: float
    now: datetime
    seed: int = 15
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        s = self.scale
        self.streets = scaled(10, s)
        self.communities = max(scaled(100, s), self.streets)
        self.branches = max(scaled(1000, s), self.communities)
        self.people = scaled(100_000, s)
        self.members = max(scaled(50_000, s), 4 * self.branches)
        self.flowing = scaled(20_000, s)
        self.activities = scaled(3_000, s)
        self.signups = scaled(240_000, s)
        self.requests = scaled(30_000, s)
        self.request_days = 30
        self.lessons = scaled(30_000, s)
        self.pending_registrations = scaled(1_000, s)
        self.broadcasts = scaled(200, s)

    @property
    def groups(self) -> int:
        g = GROUPS_PER
        return (
            g["district"]
            + g["street"] * self.streets
            + g["community"] * self.communities
            + g["branch"] * self.branches
        )

    def name(self) -> str:
        r = self.rng
        given = r.choice(GIVEN) + (r.choice(GIVEN) if r.random() < 0.7 else "")
        return r.choice(SURNAMES) + given

    @staticmethod
    def phone(pid: int) -> str:
        return f"13{(pid * 7919) % 10**9:09d}"

    @staticmethod
    def onebot_user(pid: int) -> str:
        return str(200_000_000 + pid)

    @staticmethod
    def wechat_user(pid: int) -> str:
        return f"oDST{pid:010d}" + "x" * 14

    @staticmethod
    def uses_onebot(pid: int, officer: bool = False) -> bool:
        """Two people in five (and every officer) use QQ, the others WeChat."""
        return officer or pid % 5 < 2

    def target(self, pid: int, officer: bool = False) -> str:
        if self.uses_onebot(pid, officer):
            return f"onebot:{self.onebot_user(pid)}"
        return f"wechat:{self.wechat_user(pid)}"

    @staticmethod
    def group_chat(gid: int) -> str:
        return str(900_000_000 + gid)
