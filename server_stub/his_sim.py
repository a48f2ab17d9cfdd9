"""A simulated hospital information system: feeds a day of outpatient bills to the platform
at a steady rate, signed with its own ``his`` device key, as a real HIS integration would
(``kiosk-server his simulate``).

It is a client of the platform like any other device: it registers once with a one-time
enrolment token (``kiosk-server device token --role his``), keeps its key and the pinned
server key in a state folder, signs every request and verifies every answer. Bills are
made from a fixed seed, so a second run with the same seed sends the same bill numbers and
content again: the platform answers each with the bill it already has (200), which is what
a HIS retrying after an outage does. Every ``amend_every``-th bill is amended (a line
added) and every ``cancel_every``-th cancelled right after it was created. Requests go one
at a time, like a HIS's outbound interface queue, so the rate is at most one over the
platform's latency; the platform's per-device request limit (``[security]
rate_limit_per_minute``, 600 by default) also applies, and the simulator waits it out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from common.errors import CodedError, ErrorCode
from kiosk.protocol import schemas
from kiosk.protocol.errors import ProtocolError
from kiosk.protocol.keys import (
    generate_private_key,
    load_private_key_pem,
    load_public_key_b64,
    private_key_pem,
    public_key_b64,
)
from kiosk.protocol.signing import DeviceSigner, ResponseVerifier

KEY_FILE, STATE_FILE = "his.key", "his.json"

# (kind, description, unit_fen, insurance class): an outpatient department's common lines
CATALOGUE = [
    ("exam", "挂号诊查费 consultation", 1_000, "A"),
    ("exam", "血常规 blood count", 2_500, "A"),
    ("exam", "尿常规 urinalysis", 1_200, "A"),
    ("exam", "CT 胸部 chest CT", 28_000, "B"),
    ("exam", "彩超 ultrasound", 16_000, "B"),
    ("drug", "阿莫西林胶囊 amoxicillin", 1_830, "A"),
    ("drug", "布洛芬缓释胶囊 ibuprofen", 2_260, "A"),
    ("drug", "奥美拉唑肠溶胶囊 omeprazole", 3_450, "B"),
    ("drug", "进口靶向药 imported targeted drug", 98_000, "C"),
    ("treatment", "静脉输液 IV infusion", 1_500, "A"),
    ("treatment", "清创缝合 wound suturing", 12_000, "B"),
    ("material", "一次性耗材 consumables", 1_204, "C"),
    ("other", "病历本 record book", 100, "C"),
]


class SimError(CodedError):
    """The simulator cannot run (no identity, platform unreachable, registration refused)."""

    code = ErrorCode.HIS_SIMULATOR_FAILED


@dataclass
class Identity:
    device_id: str
    site_id: str
    session: requests.Session
    verifier: ResponseVerifier


def _server_key(url: str) -> Any:
    try:
        reply = requests.get(f"{url}/v1/server-key", timeout=10)
    except requests.RequestException as exc:
        raise SimError(f"platform unreachable at {url}: {exc}") from exc
    return load_public_key_b64(reply.json()["public_key"])


def identity(url: str, state: Path, token: str | None, name: str) -> Identity:
    """The simulator's device: registered now with ``token`` if ``state`` holds none yet."""
    key_path, state_path = state / KEY_FILE, state / STATE_FILE
    if not state_path.exists():
        if token is None:
            raise SimError(f"no HIS identity in {state}: give --token (kiosk-server device "
                           "token --role his)")
        server_key = _server_key(url)
        key = generate_private_key()
        state.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(private_key_pem(key))
        os.chmod(key_path, 0o600)
        body = schemas.RegisterDeviceRequest(token=token, public_key=public_key_b64(key),
                                             name=name)
        reply = requests.post(f"{url}/v1/devices/register", data=body.model_dump_json(),
                              headers={"Content-Type": "application/json"}, timeout=10)
        ResponseVerifier(server_key).verify(reply)
        if reply.status_code != 201:
            raise SimError(f"registration refused: {reply.text[:200]}")
        registered = schemas.RegisterDeviceResponse.model_validate_json(reply.content)
        if registered.role is not schemas.Role.HIS:
            raise SimError(f"the token is for a {registered.role} device, not a his one")
        state_path.write_text(json.dumps({
            "device_id": registered.device_id, "site_id": registered.site_id,
            "server_key": registered.server_key.public_key}), encoding="utf-8")
    saved = json.loads(state_path.read_text(encoding="utf-8"))
    session = requests.Session()
    session.auth = DeviceSigner(saved["device_id"], load_private_key_pem(key_path.read_bytes()))
    return Identity(saved["device_id"], saved["site_id"], session,
                    ResponseVerifier(load_public_key_b64(saved["server_key"])))


def day_of_bills(count: int, patients: list[str], day: dt.date, seed: int
                 ) -> list[schemas.HisBillCreate]:
    """``count`` outpatient bills of ``day``: 1-5 lines each, the same for the same seed."""
    rng = random.Random(seed)
    bills = []
    for n in range(count):
        lines = [schemas.HisBillLine(kind=kind, description=text, unit_fen=unit,
                                     quantity=rng.randint(1, 3), insurance_class=klass)
                 for kind, text, unit, klass in rng.sample(CATALOGUE, rng.randint(1, 5))]
        bills.append(schemas.HisBillCreate(
            bill_no=f"MZ{day:%Y%m%d}-{seed % 1000:03d}-{n:05d}",
            patient_id=patients[n % len(patients)],
            visit_id=f"V{day:%Y%m%d}-{n:05d}", items=lines))
    return bills


@dataclass
class Summary:
    created: int = 0
    replayed: int = 0
    amended: int = 0
    cancelled: int = 0
    throttled: int = 0  # answers 429/423 waited out and sent again
    refused: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    bill_ids: list[str] = field(default_factory=list)

    def refuse(self, code: str) -> None:
        self.refused[code] = self.refused.get(code, 0) + 1


def _post(who: Identity, url: str, path: str, body: schemas.Request,
          summary: Summary) -> requests.Response:
    """One feed request; told to slow down (429, 423), it waits ``Retry-After`` and sends
    the same request again (harmless: the bill number makes it idempotent)."""
    while True:
        started = time.perf_counter()
        try:
            reply = who.session.post(f"{url}{path}", data=body.model_dump_json(), timeout=30,
                                     headers={"Content-Type": "application/json"})
        except requests.RequestException as exc:
            raise SimError(f"platform unreachable at {url}: {exc}") from exc
        summary.latencies_ms.append((time.perf_counter() - started) * 1000)
        who.verifier.verify(reply)
        if reply.status_code not in (423, 429):
            break
        summary.throttled += 1
        time.sleep(float(reply.headers.get("Retry-After", "1")))
    if reply.status_code >= 400:
        summary.refuse(ProtocolError.from_body(reply.status_code, reply.json()).code)
    return reply


def simulate(url: str, who: Identity, bills: list[schemas.HisBillCreate], *, rate: float,
             amend_every: int = 0, cancel_every: int = 0) -> dict[str, Any]:
    """Send ``bills`` at ``rate`` per second (a fixed schedule, not sleep-after-send, so a
    slow answer does not lower the rate); the run's counts and latencies."""
    url, summary = url.rstrip("/"), Summary()
    start = time.monotonic()
    for n, bill in enumerate(bills, start=1):
        delay = start + (n - 1) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        reply = _post(who, url, "/v1/his/bills", bill, summary)
        if reply.status_code not in (200, 201):
            continue
        summary.created += reply.status_code == 201
        summary.replayed += reply.status_code == 200
        summary.bill_ids.append(reply.json()["bill_id"])
        path = f"/v1/his/bills/{bill.bill_no}"
        if cancel_every and n % cancel_every == 0:
            done = _post(who, url, f"{path}/cancel",
                         schemas.HisBillCancel(reason="visit.voided"), summary)
            summary.cancelled += done.status_code == 200
        elif amend_every and n % amend_every == 0:
            extra = schemas.HisBillLine(kind="exam", description="复查 follow-up test",
                                        quantity=1, unit_fen=1_200, insurance_class="A")
            done = _post(who, url, f"{path}/amend", schemas.HisBillAmend(
                items=[*bill.items, extra], reason="order.added"), summary)
            summary.amended += done.status_code == 200
    elapsed = time.monotonic() - start
    latencies = sorted(summary.latencies_ms)
    return {"device_id": who.device_id, "site_id": who.site_id, "bills": len(bills),
            "created": summary.created, "replayed": summary.replayed,
            "amended": summary.amended, "cancelled": summary.cancelled,
            "refused": summary.refused, "throttled": summary.throttled,
            "elapsed_s": round(elapsed, 3),
            "rate_per_s": round(len(bills) / elapsed, 1) if elapsed else None,
            "latency_ms": {"p50": round(statistics.median(latencies), 1),
                           "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1)}
            if latencies else None,
            "first_bill_ids": summary.bill_ids[:5]}
