"""Free text of list entries: facts (认定事实), legal basis, penalty details.

Facts are assembled from a template and a few slots so that they vary (70–120 characters, like real
notices) without a text generator per row.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from portal.sample.draw import between, pick

FACTS: dict[str, tuple[str, ...]] = {
    "YZWFSX": (
        "该企业被列入经营异常名录届满3年仍未履行相关义务，经{authority}依法认定，列入严重违法失信名单，期间不得担任其他企业法定代表人。",
        "该企业在{year}年度抽查中被发现提交虚假材料骗取登记，情节严重，{authority}依据有关规定将其列入严重违法失信名单并向社会公示。",
        "该企业因生产销售不符合安全标准的{goods}，造成严重社会影响，受到较重行政处罚，依法列入严重违法失信名单。",
    ),
    "ZDGZ": (
        "未按照《企业信息公示暂行条例》规定的期限公示{year}年度报告，列入经营异常名录，纳入重点关注名单管理。",
        "通过登记的住所或者经营场所无法联系，{authority}依法将其列入经营异常名录并纳入重点关注名单。",
        "公示企业信息隐瞒真实情况、弄虚作假，被责令限期改正，纳入重点关注名单。",
    ),
    "ZDSSWF": (
        "经{authority}检查，该纳税人{year}年采取虚假申报等手段少缴税款{amount}万元，占应纳税额10%以上，已作出行政处罚决定。",
        "该纳税人虚开增值税专用发票{count}份，价税合计{amount}万元，经依法查处，确定为重大税收违法失信主体。",
        "该纳税人欠缴税款{amount}万元，经税务机关责令限期缴纳逾期仍未缴纳，并采取转移财产手段妨碍追缴。",
    ),
    "AJNSR": (
        "经{year}年度纳税信用评价，该纳税人纳税信用级别为A级，依法按时申报纳税，无税收违法行为。",
        "该纳税人{year}年度纳税信用评价得分{score}分，评定为A级纳税人，享受相关守信激励措施。",
    ),
    "SXBZXR": (
        "有履行能力而拒不履行生效法律文书确定义务，涉案金额{amount}万元，经本院依法纳入失信被执行人名单。",
        "违反财产报告制度，拒不申报财产，生效法律文书确定的给付义务{amount}万元至今未履行。",
        "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行，涉案金额{amount}万元。",
    ),
    "TQNMGGZ": (
        "拖欠{count}名农民工工资共计{amount}万元，经{authority}责令限期支付逾期仍未支付，情节严重，列入失信联合惩戒对象名单。",
        "在{project}项目中克扣、无故拖欠农民工工资{amount}万元，拒不支付劳动报酬，列入拖欠农民工工资失信联合惩戒对象名单。",
    ),
    "CXSFQY": (
        "该企业连续{count}年无不良信用记录，依法诚信经营，积极履行社会责任，经申报、审核和公示，认定为诚信示范企业。",
        "该企业{year}年度守合同重信用，按时足额缴纳税款和社会保险费，带动就业{count}人，获评诚信示范企业。",
    ),
    "CXGR": (
        "长期热心公益事业，累计参加志愿服务{count}小时，拾金不昧，事迹经媒体报道，评为诚信个人。",
        "在{project}工作中诚实守信、爱岗敬业，获评{year}年度诚信个人。",
    ),
    "AQSCSX": (
        "发生生产安全事故，造成{count}人受伤，直接经济损失{amount}万元，事故调查认定该单位负有责任，列入安全生产失信惩戒名单。",
        "拒不执行安全监管监察指令，存在重大事故隐患仍组织生产，经依法认定列入安全生产失信惩戒名单。",
    ),
    "XZCF": (
        "当事人{offence}，违反了有关法律法规的规定，经调查取证，事实清楚、证据确凿。",
        "经执法人员现场检查，发现当事人{offence}，涉案货值{amount}万元。",
    ),
}

BASIS: dict[str, tuple[str, ...]] = {
    "YZWFSX": ("《市场监督管理严重违法失信名单管理办法》第十条", "《企业信息公示暂行条例》第十七条"),
    "ZDGZ": ("《企业经营异常名录管理暂行办法》第四条", "《企业信息公示暂行条例》第八条"),
    "ZDSSWF": ("《重大税收违法失信主体信息公布管理办法》第六条", "《中华人民共和国税收征收管理法》第六十三条"),
    "AJNSR": ("《纳税信用管理办法（试行）》第十九条",),
    "SXBZXR": ("《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",),
    "TQNMGGZ": ("《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》第五条", "《保障农民工工资支付条例》第四十八条"),
    "CXSFQY": ("本市守信联合激励实施办法第八条",),
    "CXGR": ("本市守信联合激励实施办法第十二条",),
    "AQSCSX": ("《安全生产严重失信主体名单管理办法》第六条",),
    "XZCF": ("《中华人民共和国食品安全法》第一百二十四条", "《中华人民共和国大气污染防治法》第九十九条",
             "《中华人民共和国道路运输条例》第六十九条", "《中华人民共和国安全生产法》第九十九条",
             "《城市市容和环境卫生管理条例》第三十四条"),
}

OFFENCES = (
    "未按规定公示年度报告", "超限超载运输", "违反食品安全管理规定经营", "无证无照经营", "超标排放大气污染物",
    "未按规定设置安全警示标志", "销售过期食品", "擅自占用城市道路经营", "未取得道路运输经营许可擅自从事经营",
    "使用未经检验的特种设备", "违规处置建筑垃圾", "发布虚假广告",
)
GOODS = ("食品", "建材", "电线电缆", "儿童玩具", "化肥", "燃气器具")
PROJECTS = ("城区棚户区改造", "达州高新区厂房建设", "市政道路改造", "安置房建设", "社区服务")

# 处罚类别 with weights; 警告 and 通报批评 alone have the short (3-month) publication period.
PENALTY_CATEGORIES = (
    ("罚款", 40), ("警告", 12), ("通报批评", 5), ("没收违法所得、没收非法财物", 6), ("警告；罚款", 6),
    ("责令停产停业", 3), ("暂扣许可证件", 2), ("吊销许可证件", 2), ("降低资质等级", 1),
)
SHORT_PERIOD_CATEGORIES = frozenset({"警告", "通报批评"})
BANKS = ("中国工商银行达州分行", "中国农业银行达州分行", "中国建设银行达州分行", "达州银行", "四川银行达州分行",
         "中国邮政储蓄银行达州市分行")

# Realistic shapes of unparseable dates (each fails ``portal.public.dates.parse_date``).
BAD_DATES = ("2024年13月5日", "2023-02-30", "2024/15/40", "二〇二四年三月", "待定", "2024.13.01", "32/13/2024",
             "2025-00-10")
# 名单名称 values that name no list in the catalogue.
UNKNOWN_LISTS = ("优秀民营企业名单", "环保黑名单", "其他失信名单", "待定", "质量信用AAA企业", "诚信经营单位")


_SLOT_MAKERS: dict[str, Callable[[random.Random], object]] = {
    "amount": lambda rng: f"{between(rng.random, 1, 9999) / 10:g}",
    "count": lambda rng: between(rng.random, 2, 60),
    "score": lambda rng: between(rng.random, 90, 99),
    "goods": lambda rng: pick(rng.random, GOODS),
    "project": lambda rng: pick(rng.random, PROJECTS),
}
# The random slots each template uses, so that a row draws only what its text needs.
_TEMPLATE_SLOTS: dict[str, tuple[str, ...]] = {
    template: tuple(name for _, name, _, _ in string.Formatter().parse(template) if name in _SLOT_MAKERS)
    for templates in FACTS.values() for template in templates
}


def fill(rng: random.Random, template: str, authority: str, year: int, offence: str = "") -> str:
    """Fill the slots of a facts template (``offence`` is the 违法行为类型 of a penalty)."""
    slots = {name: _SLOT_MAKERS[name](rng) for name in _TEMPLATE_SLOTS[template]}
    return template.format(authority=authority, year=year, offence=offence, **slots)
