"""Generated Chinese client names: a common surname and one or two given-name characters.

Invariant: a name is a pure function of the ``random.Random`` handed in (integer draws only),
so a seed gives the same names on every platform.  The lists are fixed: changing them
changes every generated book.
"""

from __future__ import annotations

import random

# The most common surnames (百家姓, by today's frequency), single-character ones only.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华建国志红梅兰玉凤文斌波辉鹏飞宇浩然涵欣怡轩晨思远"
    "嘉俊晓东海燕春秋琳婷颖慧雪佳欢晶倩媛瑶婕馨宁博鑫帆航哲睿泽昊"
)


def client_name(rng: random.Random) -> str:
    """A surname and one (a third of names) or two given characters."""
    surname = SURNAMES[rng.randrange(len(SURNAMES))]
    count = 1 if rng.randrange(3) == 0 else 2
    return surname + "".join(GIVEN[rng.randrange(len(GIVEN))] for _ in range(count))
