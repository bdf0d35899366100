"""Value pools drawn once per run, so that rows can be built by cheap indexed draws.

Faker (zh_CN, seeded with ``seed_instance``) supplies realistic surnames with their real-world weights,
given names, trade names and street names; a few hand-written local lists (达州's districts, its streets,
industries) make the data look like one city's. Calling Faker per row would cost about 100× more than
drawing from these tuples with ``random.Random``.

Every pool item is a ``(simplified, traditional)`` pair: a small share of rows is written in traditional
characters (達州市…, 臺…), as some departments' older systems still do, and converting once per pool item
with OpenCC keeps the per-row cost at one tuple index.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

import opencc
from faker import Faker
from stdnum.cn import ric

from portal.sample.identifiers import make_ric

Pair = tuple[str, str]  # (simplified, traditional)

# 达州市 and its counties/districts with their administrative division codes.
DAZHOU_CITY: tuple[str, str] = ("达州市", "511700")
DAZHOU_DISTRICTS: tuple[tuple[str, str], ...] = (
    ("通川区", "511702"), ("达川区", "511703"), ("宣汉县", "511722"), ("开江县", "511723"),
    ("大竹县", "511724"), ("渠县", "511725"), ("万源市", "511781"),
)

# Birth-place codes for ID numbers: 达州's current and pre-1999 (达县地区/达川地区) codes, then elsewhere.
_LOCAL_ID_REGIONS = (
    "511702", "511703", "511722", "511723", "511724", "511725", "511781",
    "513001", "513002", "513021", "513022", "513023", "513024", "513029", "513030",
)
_OTHER_ID_REGIONS = (
    "510104", "510105", "510107", "511302", "500103", "110105", "310115", "440106", "420106", "610113",
    "530102", "520102",
)
BIRTH_YEARS = range(1945, 2006)  # adults on today's lists (portal.sample.identifiers.BIRTH_FIRST …)

_COMMON_GIVEN_1 = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华军英斌鹏辉玲"  # most frequent one-character names
_GOOD_CHARS = "鑫盛华泰宏丰源隆昌兴瑞恒通德利金佳和新锦嘉祥顺福安康明远诚信海天益正宇博睿鼎誉豪川巴蜀凤翔"
_EXTRA_TRADE_NAMES = ("台鑫", "金台", "台联", "渝达", "巴山", "凤凰", "翠屏", "莲湖", "龙泉", "川东")
_INDUSTRIES = (
    "建筑工程", "建筑劳务", "商贸", "农业开发", "餐饮管理", "物流", "房地产开发", "科技", "建材", "汽车销售",
    "食品", "医药", "物业管理", "装饰工程", "机械设备", "电子科技", "农资", "矿业", "石化", "天然气", "酒业",
    "茶业", "服装", "家具", "旅游开发", "环保科技", "水务", "文化传媒", "教育咨询", "运输", "砂石", "劳务派遣",
)
_FORMS = (("有限公司", 12), ("有限责任公司", 4), ("股份有限公司", 2), ("集团有限公司", 1))
_CITY_PREFIXES = (("达州市", 6), ("四川", 2), ("", 1))
_SHOP_KINDS = (
    "火锅店", "小吃店", "五金店", "便利店", "副食店", "建材经营部", "汽车修理厂", "农家乐", "茶楼", "理发店",
    "服装店", "烟酒店", "水果店", "家电经营部", "日杂店", "早餐店",
)
_COOP_KINDS = ("种植专业合作社", "养殖专业合作社", "农机专业合作社", "茶叶专业合作社")
_LOCAL_STREETS = (
    "朝阳东路", "朝阳西路", "通川中路", "通川北路", "凤凰大道", "西外大道", "滨河路", "南外大道", "翠屏路", "塔沱路",
    "金龙大道", "达巴路", "长田坝大道", "华蜀北路", "华蜀南路", "来凤路", "永兴路", "健民路", "公园路", "荷叶街",
    "人民路", "新华街", "红旗路", "解放路", "建设路", "胜利街", "和平路", "东岳路", "莲花路", "长兴路",
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "司徒")
_CJK_ONLY = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


@dataclass(frozen=True)
class Pools:
    surnames: tuple[Pair, ...]  # repeated by real-world frequency (Faker's weights)
    given_1: tuple[Pair, ...]  # one-character given names, the most common ones repeated
    given_2: tuple[Pair, ...]  # two-character given names
    compound_surnames: tuple[Pair, ...]
    trade_names: tuple[Pair, ...]  # 字号
    industries: tuple[Pair, ...]
    forms: tuple[Pair, ...]  # repeated by weight
    city_prefixes: tuple[Pair, ...]  # repeated by weight
    districts: tuple[tuple[Pair, str], ...]  # ((name, traditional), division code)
    shop_kinds: tuple[Pair, ...]
    coop_kinds: tuple[Pair, ...]
    streets: tuple[str, ...]
    other_places: tuple[str, ...]  # "省市区" prefixes outside 达州 for persons' addresses
    id_regions: dict[int, tuple[str, ...]]  # birth year -> region codes valid that year (local-weighted)


def _pairs(items: list[str] | tuple[str, ...], converter: opencc.OpenCC) -> tuple[Pair, ...]:
    cache: dict[str, str] = {}
    out = []
    for item in items:
        if item not in cache:
            cache[item] = converter.convert(item)
        out.append((item, cache[item]))
    return tuple(out)


def _weighted(items: tuple[tuple[str, int], ...]) -> list[str]:
    return [name for name, weight in items for _ in range(weight)]


@lru_cache(maxsize=1)
def region_codes_by_year() -> dict[int, tuple[str, ...]]:
    """Birth-place codes valid in each birth year according to stdnum's county table.

    Local codes are listed three times so that about three in four people come from 达州.
    """
    by_year: dict[int, tuple[str, ...]] = {}
    for year in BIRTH_YEARS:
        local = [c for c in _LOCAL_ID_REGIONS if ric.is_valid(make_ric(c, f"{year}0615", 1))]
        other = [c for c in _OTHER_ID_REGIONS if ric.is_valid(make_ric(c, f"{year}0615", 1))]
        by_year[year] = tuple(local * 3 + other)
    return by_year


@lru_cache(maxsize=4)
def build_pools(seed: int) -> Pools:
    """Draw all pools from a Faker seeded with ``seed``; the result depends on the seed only."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(f"{seed}:pools")
    converter = opencc.OpenCC("s2t")

    surnames = [fake.last_name() for _ in range(3000)]
    surnames = [s for s in surnames if len(s) == 1]
    faker_given = [fake.first_name() for _ in range(2000)]
    given_1 = [g for g in faker_given if len(g) == 1] + list(_COMMON_GIVEN_1) * 20
    given_2 = [g for g in faker_given if len(g) == 2]
    given_2 += [rng.choice(_COMMON_GIVEN_1 + _GOOD_CHARS) + rng.choice(_COMMON_GIVEN_1) for _ in range(600)]

    faker_trades = sorted({p for p in (fake.company_prefix() for _ in range(600)) if _CJK_ONLY.match(p)})
    trades = faker_trades + [rng.choice(_GOOD_CHARS) + rng.choice(_GOOD_CHARS) for _ in range(1500)]
    trades = [t for t in trades if t[0] != t[-1]] + list(_EXTRA_TRADE_NAMES) * 3

    streets = list(_LOCAL_STREETS) * 4 + [fake.street_name() for _ in range(120)]
    other_places = [f"{fake.province()}{fake.city()}{fake.district()}区" for _ in range(200)]

    return Pools(
        surnames=_pairs(surnames, converter),
        given_1=_pairs(given_1, converter),
        given_2=_pairs(given_2, converter),
        compound_surnames=_pairs(_COMPOUND_SURNAMES, converter),
        trade_names=_pairs(trades, converter),
        industries=_pairs(_INDUSTRIES, converter),
        forms=_pairs(_weighted(_FORMS), converter),
        city_prefixes=_pairs(_weighted(_CITY_PREFIXES), converter),
        districts=tuple(zip(_pairs([d for d, _ in DAZHOU_DISTRICTS], converter),
                            (c for _, c in DAZHOU_DISTRICTS), strict=True)),
        shop_kinds=_pairs(_SHOP_KINDS, converter),
        coop_kinds=_pairs(_COOP_KINDS, converter),
        streets=tuple(streets),
        other_places=tuple(other_places),
        id_regions=region_codes_by_year(),
    )
