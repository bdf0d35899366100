from portal.ingest.masking import (
    load_policy,
    mask_address,
    mask_id_number,
    mask_person_name,
    mask_phone,
)
from portal.ingest.scrub import scrub_text


def test_default_policy_matches_domain_table() -> None:
    rules = load_policy().rules_for("SXBZXR", "自然人")
    assert mask_id_number("51010119900307123X", True, rules) == "5101**********123X"
    assert mask_id_number("E12345678", False, rules) == "E1*****78"
    assert mask_phone("138-1234-5678", rules) == "138****5678"
    assert rules.person_name == "full"


def test_overrides_apply_per_list_and_subject_type() -> None:
    policy = load_policy()
    assert policy.rules_for("CXGR", "自然人").person_name == "middle"
    assert policy.rules_for("SXBZXR", "自然人").person_name == "full"


def test_person_names_in_middle_style() -> None:
    assert mask_person_name("王伟", "middle") == "王*"
    assert mask_person_name("张小三", "middle") == "张*三"
    assert mask_person_name("欧阳娜娜", "middle") == "欧**娜"
    assert mask_person_name("王伟", "full") == "王伟"


def test_person_address_kept_to_county() -> None:
    assert mask_address("四川省达州市通川区西外镇朝阳路12号", "county") == "四川省达州市通川区***"
    assert mask_address("宣汉县东乡镇2号", "county") == "宣汉县***"
    assert mask_address("新疆维吾尔自治区乌鲁木齐市天山区1号", "county") == "新疆维吾尔自治区乌鲁木齐市天山区***"
    assert mask_address("不明地址", "county") == "***"
    assert mask_address("达州市通川区1号", "full") == "达州市通川区1号"


def test_free_text_scrubbed_of_ids_and_mobiles() -> None:
    text = "当事人（身份证号51010119900307123X，电话13812345678，旧号510101900307123）"
    scrubbed = scrub_text(text)
    assert "51010119900307123X" not in scrubbed
    assert "13812345678" not in scrubbed
    assert "510101900307123" not in scrubbed
    assert "5101**********123X" in scrubbed and "138****5678" in scrubbed
    assert scrub_text("罚款2000元") == "罚款2000元"
