"""Occupations for the Jiangxi genesis: a catalogue of real occupations, illustrative hours.

Each entry names an occupation of the national occupational classification
(《中华人民共和国职业分类大典》, 2015 edition and/or 2022 edition) of the kind commonly
offered in subsidised vocational skills training in Jiangxi. The code (``L-MM-SS-OO``) and
the edition were checked against public copies of the national occupational (skill)
standards or occupation-catalogue pages; ``source_note`` says where. Entries whose code
could not be confirmed in a source carry ``"verified": False`` and should be re-checked
against the official 大典 before anything but a demo relies on them.

``edition`` is the 大典 edition the code is taken from: 2015 for occupations listed in the
2015 edition (codes unchanged in 2022), 2022 for occupations added by the 2019-2021 new-
occupation notices or first coded/renamed in the 2022 edition.

Hours are teaching hours (学时, 45 minutes; the project converts them to seconds) per skill
level (5 = 初级工 ... 1 = 高级技师). They are plausible, not official: where a standard gives
a 培训参考学时 the total follows it, otherwise it is an illustrative figure. Subsidy
standards are computed by the project from the level and certificate type, not held here.
"""

from __future__ import annotations

OCCUPATIONS: tuple[dict, ...] = (
    # --- Catering -------------------------------------------------------------------------
    {
        "code": "4-03-02-01",
        "edition": 2015,
        "name_zh": "中式烹调师",
        "name_en": "Chinese cook",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 50, 3: 60},
        "practical_hours": {5: 80, 4: 100, 3: 120},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "中式烹调师国家职业技能标准 (职业编码 4-03-02-01),"
        " chinaadec.com/n/19024.html; the 2025 药膳制作师 standard keeps 4-03-02-01 under the"
        " 2022 大典 (guifanku.com/896085.html)",
    },
    {
        "code": "4-03-02-02",
        "edition": 2015,
        "name_zh": "中式面点师",
        "name_en": "Chinese pastry cook",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 50, 3: 60},
        "practical_hours": {5: 80, 4: 100, 3: 120},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "国家职业技能标准 4-03-02-02 中式面点师 (人社厅发〔2018〕145号, based on"
        " the 2015 大典), renrendoc.com/paper/358061798.html",
    },
    {
        "code": "4-03-02-04",
        "edition": 2015,
        "name_zh": "西式面点师",
        "name_en": "Western pastry cook",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 50, 3: 60},
        "practical_hours": {5: 80, 4: 100, 3: 120},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "国家职业技能标准 4-03-02-04 西式面点师 (人社厅发〔2018〕145号, based on"
        " the 2015 大典), renrendoc.com/paper/358061792.html",
    },
    {
        "code": "6-02-01-02",
        "edition": 2022,
        "name_zh": "糕点装饰师",
        "name_en": "Pastry decorator",
        "levels": (3,),
        "theory_hours": {3: 40},
        "practical_hours": {3: 80},
        "simulation_allowed": False,
        "certificate_types": ("skill_level",),
        "verified": True,
        "source_note": "糕点装饰师(试行)国家职业标准 2024年版, 职业编码 6-02-01-02, based on the"
        " 2022 大典; levels 三级 to 一级 only (31ppt.com/d-7122714.html)",
    },
    # --- Household, childcare, elderly and health care ---------------------------------------
    {
        "code": "4-10-01-06",
        "edition": 2015,
        "name_zh": "家政服务员",
        "name_en": "Domestic service worker",
        "levels": (5, 4, 3),
        "theory_hours": {5: 30, 4: 40, 3: 50},
        "practical_hours": {5: 60, 4: 70, 3: 80},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "special_ability", "training_completion"),
        "verified": True,
        "source_note": "家政服务员国家职业技能标准 (2019年版), 职业编码 4-10-01-06, based on the"
        " 2015 大典 (text mirrored at m.xihu-play.com/xihuyulecheng/2692.html)",
    },
    {
        "code": "4-10-01-02",
        "edition": 2015,
        "name_zh": "育婴员",
        "name_en": "Infant care worker",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 40, 3: 40},
        "practical_hours": {5: 60, 4: 60, 3: 60},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": False,
        "source_note": "Not confirmed: pages found describe the 育婴员 standard (levels 5/4/3) but"
        " show no code; 4-10-01-02 is from memory (neighbours 4-10-01-01/-03/-05/-06 confirmed)",
    },
    {
        "code": "4-10-01-03",
        "edition": 2022,
        "name_zh": "保育师",
        "name_en": "Childcare worker",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 40, 3: 50},
        "practical_hours": {5: 60, 4: 70, 3: 70},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "保育师 (renamed from 保育员) 职业编码 4-10-01-03, 人社厅发〔2021〕92号"
        " (axsbyw.cn/kuaijishi/dongtai/202205167815.html); 保育员 2019 standard with the same"
        " code (m.wenku365.com/p-61483678.html)",
    },
    {
        "code": "4-10-01-01",
        "edition": 2015,
        "name_zh": "婴幼儿发展引导员",
        "name_en": "Infant and toddler development guide",
        "levels": (4, 3),
        "theory_hours": {4: 50, 3: 50},
        "practical_hours": {4: 70, 3: 70},
        "simulation_allowed": False,
        "certificate_types": ("skill_level",),
        "verified": True,
        "source_note": "婴幼儿发展引导员国家职业技能标准 (2021年版), 职业编码 4-10-01-01, based"
        " on the 2015 大典; levels 四级 to 一级 (777doc.com/doc-9544112.html)",
    },
    {
        "code": "4-10-01-05",
        "edition": 2015,
        "name_zh": "养老护理员",
        "name_en": "Elderly care worker",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 40, 3: 40},
        "practical_hours": {5: 80, 4: 70, 3: 60},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "养老护理员(4-10-01-05): 2024 人社部 new-工种 notice as reported at"
        " huananedu.com/zykz/10045.html (another third-party page wrongly gives 4-10-01-02)",
    },
    {
        "code": "4-14-01-02",
        "edition": 2022,
        "name_zh": "医疗护理员",
        "name_en": "Medical care assistant",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 40, 3: 40},
        "practical_hours": {5: 80, 4: 70, 3: 60},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "医疗护理员国家职业标准 (2024年版), 职业编码 4140102 (= 4-14-01-02),"
        " based on the 2022 大典 (mdjjksjc.com/html/2024/0314/6123211142010101.shtm)",
    },
    {
        "code": "4-14-01-03",
        "edition": 2022,
        "name_zh": "健康照护师",
        "name_en": "Health caregiver",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 40, 3: 40},
        "practical_hours": {5: 80, 4: 70, 3: 60},
        "simulation_allowed": False,
        "certificate_types": ("skill_level",),
        "verified": False,
        "source_note": "Not confirmed: new occupation of the 2020 notice (definition found at"
        " examxm.com/show-1792.html) but no page showed its code; 4-14-01-03 is from memory"
        " (neighbours 4-14-01-02 and 4-14-01-04 confirmed)",
    },
    {
        "code": "4-14-01-04",
        "edition": 2022,
        "name_zh": "社群健康助理员",
        "name_en": "Community health assistant",
        "levels": (4, 3),
        "theory_hours": {4: 50, 3: 35},
        "practical_hours": {4: 70, 3: 45},
        "simulation_allowed": True,
        "certificate_types": ("skill_level",),
        "verified": True,
        "source_note": "社群健康助理员国家职业技能标准 (2021年版), 职业编码 4-14-01-04, levels"
        " 四级-二级, 培训参考学时 120/80 (max.book118.com/html/2024/0730/8012012101006115.shtm)",
    },
    # --- Beauty and tea ----------------------------------------------------------------------
    {
        "code": "4-10-03-01",
        "edition": 2015,
        "name_zh": "美容师",
        "name_en": "Beautician",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 50, 3: 50},
        "practical_hours": {5: 80, 4: 90, 3: 100},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "国家职业技能标准 职业编码 4-10-03-01 美容师(皮肤管理师) (2022年版"
        " standard), max.book118.com/html/2024/0118/5211243042011043.shtm",
    },
    {
        "code": "4-10-03-02",
        "edition": 2015,
        "name_zh": "美发师",
        "name_en": "Hairdresser",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 50, 3: 50},
        "practical_hours": {5: 80, 4: 90, 3: 100},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": False,
        "source_note": "Not confirmed: no page showed the 美发师 code; 4-10-03-02 inferred from"
        " 美容师 = 4-10-03-01 (confirmed)",
    },
    {
        "code": "4-03-02-07",
        "edition": 2015,
        "name_zh": "茶艺师",
        "name_en": "Tea artist",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 40, 3: 40},
        "practical_hours": {5: 60, 4: 60, 3: 60},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": False,
        "source_note": "Not confirmed: 2018 standard (based on the 2015 大典, drafted under"
        " Jiangxi's 余悦) described at qijiukeji.cn/news/33005, code not shown; 4-03-02-07 from"
        " memory",
    },
    {
        "code": "6-02-06-11",
        "edition": 2015,
        "name_zh": "评茶员",
        "name_en": "Tea taster",
        "levels": (5, 4, 3),
        "theory_hours": {5: 50, 4: 50, 3: 50},
        "practical_hours": {5: 70, 4: 70, 3: 70},
        "simulation_allowed": False,
        "certificate_types": ("skill_level",),
        "verified": True,
        "source_note": "评茶员国家职业技能标准 (2019年版), 职业编码 6-02-06-11, based on the 2015"
        " 大典 (renrendoc.com/p-51210456.html; wkm.edumine.net/doc/161909.html)",
    },
    # --- Industry, construction, vehicles ----------------------------------------------------
    {
        "code": "6-31-01-03",
        "edition": 2015,
        "name_zh": "电工",
        "name_en": "Electrician",
        "levels": (5, 4, 3),
        "theory_hours": {5: 50, 4: 60, 3: 70},
        "practical_hours": {5: 90, 4: 100, 3: 110},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "special_operations"),
        "verified": True,
        "source_note": "职业分类大典信息: 电工, 职业代码 6-31-01-03; standard 人社厅发〔2018〕145号"
        " (nbqgpx.com/index.php/cms/show-29.html)",
    },
    {
        "code": "6-18-02-04",
        "edition": 2015,
        "name_zh": "焊工",
        "name_en": "Welder",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 50, 3: 60},
        "practical_hours": {5: 100, 4: 110, 3: 120},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "special_operations"),
        "verified": True,
        "source_note": "国家职业标准 GZB 6-18-02-04 焊工 (2018), wendang.net/zl/890612.html",
    },
    {
        "code": "4-12-01-01",
        "edition": 2015,
        "name_zh": "汽车维修工",
        "name_en": "Motor vehicle mechanic",
        "levels": (5, 4, 3),
        "theory_hours": {5: 50, 4: 60, 3: 70},
        "practical_hours": {5: 90, 4: 100, 3: 110},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "汽车维修工(智能汽车维修工)国家职业标准 征求意见稿, 职业编码 4-12-01-01"
        " (max.book118.com/html/2025/0806/7036136014010143.shtm)",
    },
    {
        "code": "6-29-01-01",
        "edition": 2015,
        "name_zh": "砌筑工",
        "name_en": "Bricklayer",
        "levels": (5, 4, 3),
        "theory_hours": {5: 30, 4: 40, 3: 40},
        "practical_hours": {5: 90, 4: 100, 3: 110},
        "simulation_allowed": False,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": False,
        "source_note": "Not confirmed: old 砌筑工 standard found (wenku.docs.qq.com), code not"
        " shown; 6-29-01-01 from memory",
    },
    {
        "code": "6-12-02-00",
        "edition": 2022,
        "name_zh": "中药炮制工",
        "name_en": "Chinese herbal medicine processor",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 50, 3: 50},
        "practical_hours": {5: 80, 4: 90, 3: 100},
        "simulation_allowed": False,
        "certificate_types": ("skill_level",),
        "verified": True,
        "source_note": "中药炮制工职业技能标准, 1.2 职业编码 6-12-02-00 (gxgy.edu.cn, bilingual"
        " page); '-00' (one-occupation 小类) suggests the 2022 大典, edition not stated there",
    },
    # --- Digital economy (online simulation of practice plausible) ---------------------------
    {
        "code": "4-01-02-02",
        "edition": 2015,
        "name_zh": "电子商务师",
        "name_en": "E-commerce specialist",
        "levels": (5, 4, 3),
        "theory_hours": {5: 50, 4: 50, 3: 50},
        "practical_hours": {5: 70, 4: 70, 3: 60},
        "simulation_allowed": True,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": False,
        "source_note": "Not confirmed: five levels with 网商/跨境电子商务师 工种 confirmed"
        " (chinwin.com/news/detail_2511.html) but no page showed the code; 4-01-02-02 from"
        " memory (互联网营销师 4-01-02-07 is in the same 小类)",
    },
    {
        "code": "4-01-02-07",
        "edition": 2022,
        "name_zh": "互联网营销师",
        "name_en": "Internet marketer",
        "levels": (5, 4, 3),
        "theory_hours": {5: 50, 4: 44, 3: 38},
        "practical_hours": {5: 70, 4: 60, 3: 50},
        "simulation_allowed": True,
        "certificate_types": ("skill_level", "training_completion"),
        "verified": True,
        "source_note": "互联网营销师国家职业技能标准: 1.2 职业编码 4-01-02-07, 培训参考学时"
        " 120/104/88 (sd773.com/news/130081.html); new occupation of 2020, in the 2022 大典",
    },
    {
        "code": "4-04-04-02",
        "edition": 2022,
        "name_zh": "网络与信息安全管理员",
        "name_en": "Network and information security administrator",
        "levels": (4, 3),
        "theory_hours": {4: 60, 3: 60},
        "practical_hours": {4: 80, 3: 80},
        "simulation_allowed": True,
        "certificate_types": ("skill_level",),
        "verified": True,
        "source_note": "职业编码 4-04-04-02, levels 四级-一级 (pwwt.cn/news/107760); 2024"
        " 数据安全管理员 standard 4-04-04-02-004 based on the 2022 大典"
        " (renrendoc.com/paper/318359156.html)",
    },
    {
        "code": "4-04-05-05",
        "edition": 2022,
        "name_zh": "人工智能训练师",
        "name_en": "Artificial intelligence trainer",
        "levels": (5, 4, 3),
        "theory_hours": {5: 24, 4: 20, 3: 16},
        "practical_hours": {5: 36, 4: 30, 3: 24},
        "simulation_allowed": True,
        "certificate_types": ("skill_level",),
        "verified": True,
        "source_note": "人工智能训练师国家职业技能标准 (2021年版), 1.2 职业编码 4-04-05-05,"
        " 培训参考学时 60/50/40 (chinastor.com/ai/163819954228378.html); new occupation of 2020",
    },
    {
        "code": "4-07-05-06",
        "edition": 2022,
        "name_zh": "密码技术应用员",
        "name_en": "Cryptography application technician",
        "levels": (4, 3),
        "theory_hours": {4: 60, 3: 60},
        "practical_hours": {4: 60, 3: 60},
        "simulation_allowed": True,
        "certificate_types": ("skill_level",),
        "verified": True,
        "source_note": "国家职业技能标准 职业编码 4-07-05-06 密码技术应用员 (2022年版), levels"
        " 四级-一级, per 人社厅发〔2021〕17号 (industrystandards.asia/hangye/136729)",
    },
    # --- Security ----------------------------------------------------------------------------
    {
        "code": "4-07-05-01",
        "edition": 2015,
        "name_zh": "保安员",
        "name_en": "Security guard",
        "levels": (5, 4, 3),
        "theory_hours": {5: 40, 4: 40, 3: 40},
        "practical_hours": {5: 40, 4: 50, 3: 60},
        "simulation_allowed": False,
        "certificate_types": ("occupational_qualification", "skill_level"),
        "verified": False,
        "source_note": "Not confirmed: 2019 保安员 standard described (buyunw.cn/yangsheng/"
        "820356.html) but no page showed the code; 4-07-05-01 from memory (4-07-05-06 confirmed"
        " in the same 小类)",
    },
)
