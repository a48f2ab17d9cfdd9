"""Face templates (sealed at rest) and the per-site galleries kiosks sync incrementally.

A gallery is materialised as rows (site, pack, patient) with a ``present`` flag and a
``version`` taken from one global counter whenever the row changes. A kiosk asks for rows
with ``version > cursor``: present rows are upserts, absent ones deletions. So any change
that moves a patient in or out of a site's scope — consent withdrawn, a bill settled under
the ``open_bills`` policy, a suspension — reaches every kiosk of that site on its next sync.

Scope (config ``gallery.scope``): ``open_bills`` (default) keeps only active, consenting
users with a pending bill at the site, or a credit charge of the site still to repay (so a
patient can come back and repay at its kiosk by face): hundreds of people, not the 316,800
of the whole credit population, because a 1:N search over that many with a small CPU model
would return false candidates on most searches. ``all_active`` keeps every active, consenting user.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    String,
    bindparam,
    cast,
    delete,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)

from kiosk.protocol import schemas
from kiosk.protocol.templates import WireTemplate
from server_stub import audit
from server_stub.clock import to_datetime
from server_stub.db import (
    bills,
    credit_charges,
    gallery_entries,
    meta,
    next_value,
    settlements,
    sites,
    templates,
    users,
)
from server_stub.keys import TemplateSealer
from server_stub.records.devices import Device
from server_stub.records.patients import user_row

SCOPE_META_KEY = "gallery_scope"


# everything refresh_user needs to know about a user, in one round trip: (kind, a, b, present)
_NO_TEXT, _NO_FLAG = cast(null(), String), cast(null(), Boolean)  # typed: PostgreSQL's UNION
_FACTS = union_all(
    select(literal("pack"), templates.c.pack, _NO_TEXT, _NO_FLAG)
    .where(templates.c.patient_id == bindparam("patient_id")),
    select(literal("entry"), gallery_entries.c.site_id, gallery_entries.c.pack,
           gallery_entries.c.present)
    .where(gallery_entries.c.patient_id == bindparam("patient_id")),
    # where they have a bill to pay
    select(literal("site"), bills.c.site_id, _NO_TEXT, _NO_FLAG).distinct().where(
        bills.c.patient_id == bindparam("patient_id"),
        bills.c.status == schemas.BillStatus.PENDING.value),
    # where they still owe for a charge: they may come back to that hospital's kiosk to repay
    select(literal("site"), settlements.c.site_id, _NO_TEXT, _NO_FLAG).distinct().join(
        credit_charges, credit_charges.c.settlement_id == settlements.c.settlement_id).where(
        credit_charges.c.patient_id == bindparam("patient_id"),
        credit_charges.c.cancelled.is_(False),
        credit_charges.c.repaid_fen < credit_charges.c.amount_fen))
_ENTRY_KEY = (gallery_entries.c.site_id == bindparam("e_site"),
              gallery_entries.c.pack == bindparam("e_pack"),
              gallery_entries.c.patient_id == bindparam("e_patient"))
_UPDATE_ENTRY = update(gallery_entries).where(*_ENTRY_KEY)
_INSERT_ENTRY = insert(gallery_entries)


def _desired(conn: Connection, user: Any, packs: list[str], scope: str,
             open_bills_sites: set[str]) -> set[tuple[str, str]]:
    """(site, pack) pairs whose gallery should contain this user; ``open_bills_sites``:
    where the ``open_bills`` scope keeps them (a bill to pay, a charge to repay)."""
    if not packs or user.status != schemas.UserStatus.ACTIVE.value or user.consent_ms is None \
            or user.consent_withdrawn_ms is not None:
        return set()
    if scope == schemas.GalleryScope.ALL_ACTIVE.value:
        site_ids = set(conn.execute(select(sites.c.site_id)).scalars())
    else:
        site_ids = open_bills_sites
    return {(site, pack) for site in site_ids for pack in packs}


def in_site_gallery(conn: Connection, *, site_id: str, pack: str, patient_id: str) -> bool:
    """Whether this site's kiosks were sent this patient's template of ``pack``."""
    return conn.execute(select(gallery_entries.c.present).where(
        gallery_entries.c.site_id == site_id, gallery_entries.c.pack == pack,
        gallery_entries.c.patient_id == patient_id)).scalar() is True


def refresh_user(conn: Connection, patient_id: str, scope: str,
                 changed_pack: str | None = None, user: Any = None) -> int:
    """Bring this user's gallery rows in line with the policy; returns rows changed.

    ``changed_pack``: the template of that pack was replaced, so present rows must be
    re-sent even though their presence did not change. ``user``: their row, when the
    caller holds it (read in this transaction, status and consent unchanged since).
    """
    packs: list[str] = []
    have: dict[tuple[str, str], bool] = {}
    open_bills_sites: set[str] = set()
    for kind, first, second, present in conn.execute(_FACTS, {"patient_id": patient_id}):
        if kind == "pack":
            packs.append(first)
        elif kind == "entry":
            have[(first, second)] = bool(present)
        else:
            open_bills_sites.add(first)
    if not packs and not have:
        return 0  # never enrolled a face: nothing to keep in step
    want = _desired(conn, user or user_row(conn, patient_id), packs, scope, open_bills_sites)
    changed = 0
    for site_id, pack in sorted(want | set(have)):
        present = (site_id, pack) in want
        if have.get((site_id, pack), False) == present and not (present and pack == changed_pack):
            continue
        values = {"version": next_value(conn, "gallery_version"), "present": present}
        if (site_id, pack) in have:
            conn.execute(_UPDATE_ENTRY, {"e_site": site_id, "e_pack": pack,
                                         "e_patient": patient_id, **values})
        else:
            conn.execute(_INSERT_ENTRY, {"site_id": site_id, "pack": pack,
                                         "patient_id": patient_id, **values})
        changed += 1
    return changed


def apply_scope_policy(conn: Connection, scope: str) -> int:
    """On start-up: if the configured scope differs from the one the rows were built with,
    rebuild every user's rows (changes then reach kiosks as ordinary upserts/deletions)."""
    current = conn.execute(select(meta.c.value).where(meta.c.key == SCOPE_META_KEY)).scalar()
    if current == scope:
        return 0
    changed = sum(refresh_user(conn, pid, scope)
                  for pid in conn.execute(select(users.c.patient_id)).scalars())
    if current is None:
        conn.execute(insert(meta).values(key=SCOPE_META_KEY, value=scope))
    else:
        conn.execute(update(meta).where(meta.c.key == SCOPE_META_KEY).values(value=scope))
    return changed


def enrol_template(conn: Connection, *, device: Device, patient_id: str,
                   req: schemas.EnrolTemplateRequest, sealer: TemplateSealer, scope: str,
                   now: int) -> schemas.EnrolTemplateResponse:
    """Store (or replace) the user's template for its pack, with the consent it rests on."""
    user_row(conn, patient_id, for_update=True)
    template: WireTemplate = req.template.wire()
    consented_ms = int(req.consent.consented_at.timestamp() * 1000)
    conn.execute(update(users).where(users.c.patient_id == patient_id).values(
        consent_version=req.consent.text_version, consent_ms=consented_ms,
        consent_withdrawn_ms=None))
    key = (templates.c.patient_id == patient_id, templates.c.pack == template.pack)
    conn.execute(delete(templates).where(*key))
    conn.execute(insert(templates).values(
        patient_id=patient_id, pack=template.pack, dim=template.dim,
        sealed=sealer.seal(patient_id, template.pack, template.vector), enrolled_ms=now))
    refresh_user(conn, patient_id, scope, changed_pack=template.pack)
    audit.append(conn, at_ms=now, actor=device.actor, action="template.enrolled",
                 subject=patient_id, details={"pack": template.pack, "dim": template.dim,
                                              "consent_version": req.consent.text_version})
    return schemas.EnrolTemplateResponse(patient_id=patient_id, pack=template.pack,
                                         enrolled_at=to_datetime(now))


def withdraw_consent(conn: Connection, *, actor: str, patient_id: str, reason: str | None,
                     scope: str, now: int) -> schemas.WithdrawConsentResponse:
    """Withdrawal deletes every template; the next sync tells each kiosk to forget them."""
    user_row(conn, patient_id, for_update=True)
    deleted = conn.execute(delete(templates).where(templates.c.patient_id == patient_id))
    conn.execute(update(users).where(users.c.patient_id == patient_id)
                 .values(consent_withdrawn_ms=now))
    refresh_user(conn, patient_id, scope)
    audit.append(conn, at_ms=now, actor=actor, action="consent.withdrawn", subject=patient_id,
                 details={"templates_deleted": deleted.rowcount, "reason": reason or ""})
    return schemas.WithdrawConsentResponse(patient_id=patient_id, withdrawn_at=to_datetime(now),
                                           templates_deleted=deleted.rowcount)


def sync(conn: Connection, *, site_id: str, pack: str, cursor: int, limit: int, scope: str,
         sealer: TemplateSealer) -> schemas.GallerySync:
    query = (select(gallery_entries.c.patient_id, gallery_entries.c.version,
                    gallery_entries.c.present, templates.c.dim, templates.c.sealed)
             .outerjoin(templates, (templates.c.patient_id == gallery_entries.c.patient_id)
                        & (templates.c.pack == gallery_entries.c.pack))
             .where(gallery_entries.c.site_id == site_id, gallery_entries.c.pack == pack,
                    gallery_entries.c.version > cursor)
             .order_by(gallery_entries.c.version).limit(limit + 1))
    if cursor == 0:  # a first sync needs no deletions
        query = query.where(gallery_entries.c.present.is_(True))
    rows = list(conn.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    upserts, deletions = [], []
    for row in rows:
        if row.present and row.sealed is not None:
            vector = sealer.open(row.patient_id, pack, row.sealed)
            template = WireTemplate(pack=pack, dim=row.dim, vector=vector).to_dict()
            upserts.append(schemas.GalleryEntry(patient_id=row.patient_id, version=row.version,
                                                template=schemas.TemplatePayload(**template)))
        else:
            deletions.append(row.patient_id)
    return schemas.GallerySync(pack=pack, scope=scope,
                               cursor=rows[-1].version if rows else cursor,
                               more=more, upserts=upserts, deletions=deletions)
