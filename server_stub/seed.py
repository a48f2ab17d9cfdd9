"""Demo data: one hospital, credit users in every insurance category with pending bills,
and one-time enrolment tokens for a kiosk and a counter. No face templates: the platform
never runs recognition, so the demo uploads templates through the enrol endpoint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from common.privacy import mask_phone
from kiosk.protocol.schemas import InsuranceCategory
from server_stub.config import ServerConfig
from server_stub.records.bills import NewItem, create_bill
from server_stub.records.devices import issue_enrolment_token
from server_stub.records.patients import NewUser, enrol_user
from server_stub.records.sites import create_site
from server_stub.records.vouchers import issue_voucher

SITE_CODE = "YK01"
SITE_NAME = "永康市第一人民医院 (demo)"

# Fictional people; ids and numbers are well-formed but belong to nobody.
DEMO_USERS = [
    ("P1001", "张三丰", "330784199001011234", "13800001001", InsuranceCategory.EMPLOYEE,
     "YB33078400001001"),
    ("P1002", "李小四", "330784198502022345", "13800001002", InsuranceCategory.EMPLOYEE, None),
    ("P1003", "王五", "330784197003033456", "13800001003", InsuranceCategory.RESIDENT,
     "YB33078400001003"),
    ("P1004", "赵六妹", "330784196004044567", "13800001004", InsuranceCategory.RESIDENT, None),
    ("P1005", "陈七", "330784195505055678", "13800001005", InsuranceCategory.POVERTY_RELIEF,
     "YB33078400001005"),
    ("P1006", "欧阳八", "33078419480606678X", "13800001006", InsuranceCategory.POVERTY_RELIEF,
     None),
]

DEMO_ITEMS = [
    [NewItem("exam", "血常规 blood count", 1, 2_500, True),
     NewItem("drug", "阿莫西林胶囊 amoxicillin", 2, 1_830, True),
     NewItem("other", "病历本 record book", 1, 100, False)],
    [NewItem("exam", "CT 胸部 chest CT", 1, 28_000, True),
     NewItem("treatment", "静脉输液 IV infusion", 3, 1_500, True)],
    [NewItem("treatment", "门诊手术 outpatient surgery", 1, 165_000, True),
     NewItem("material", "一次性耗材 consumables", 1, 12_040, False)],
]


def seed_demo(conn: Connection, config: ServerConfig, now: int) -> dict[str, Any]:
    site_id = create_site(conn, code=SITE_CODE, name=SITE_NAME, now=now)
    tokens = {role: issue_enrolment_token(conn, site_id=site_id, role=role,
                                                    ttl_hours=72, now=now)
              for role in ("kiosk", "counter")}
    patients = []
    for n, (pid, name, national_id, phone, category, card) in enumerate(DEMO_USERS):
        enrol_user(conn, NewUser(pid, name, national_id, phone, category.value,
                                           card_no=card, consent_version="demo-1"), config, now)
        bill_id = create_bill(conn, site_id=site_id, patient_id=pid,
                                        visit_id=f"V{pid[1:]}-1",
                                        items=DEMO_ITEMS[n % len(DEMO_ITEMS)], config=config,
                                        now=now, bill_id=f"B{pid[1:]}-1")
        patients.append({"patient_id": pid, "category": category.value, "card_no": card,
                         "phone": mask_phone(phone), "bill_id": bill_id})
    voucher = issue_voucher(conn, patient_id="P1002", ttl_hours=72, now=now)
    return {"site_id": site_id, "site_code": SITE_CODE, "enrolment_tokens": tokens,
            "patients": patients, "voucher": {"patient_id": "P1002", "payload": voucher}}
