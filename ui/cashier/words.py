"""The counter's own words: what a kiosk's reason code means to *staff* (the patient's text
says "please ask at the counter"; the cashier needs to know what to do), and the console's
lines made from platform answers. Kept free of Qt, like ``kiosk.i18n``, whose texts the console
uses for everything shared with the kiosk (methods, categories, error codes).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from common.errors import STAFF_OTHER, ErrorCode
from kiosk.i18n import label, tr, yuan
from kiosk.protocol.schemas import (
    Bill,
    CreditState,
    MaskedPatient,
    Quote,
    Reconciliation,
    ReconTotals,
)

# Reason code (or its family) -> what happened at the kiosk, in staff words.
STAFF: dict[str, tuple[str, str]] = {
    "staff.face": ("刷脸未成功", "Face payment failed"),
    "staff.face.not_recognised": ("刷脸未认出患者（可能未登记或光线差）",
                                  "Face not recognised (not enrolled, or poor light)"),
    "staff.face.timeout": ("刷脸超时，未拍到可用人脸", "Face scan timed out"),
    "staff.face.camera_failed": ("自助机摄像头故障，请报修", "Kiosk camera failed: report it"),
    "staff.liveness": ("活体检测未通过", "Liveness check failed"),
    "staff.liveness.screen_detected": ("疑似照片或屏幕翻拍，请核对本人",
                                       "Looked like a photo or screen: check the person"),
    "staff.liveness.timeout": ("活体检测超时", "Liveness check timed out"),
    "staff.second_factor": ("手机尾号验证未完成", "Phone-digit check not completed"),
    "staff.second_factor.locked": ("手机尾号输错次数过多，已锁定，请核对身份",
                                   "Phone digits wrong too often (locked): check identity"),
    "staff.second_factor.timeout": ("手机尾号未输入（超时）", "Phone digits not entered in time"),
    "staff.credit": ("信用支付被拒", "Credit payment refused"),
    "staff.credit.limit_exceeded": ("信用额度不足，请收现金/医保卡",
                                    "Credit limit exceeded: take cash or card"),
    "staff.credit.user_suspended": ("患者信用已暂停", "Patient's credit is suspended"),
    "staff.credit.user_blacklisted": ("患者信用已停用", "Patient's credit is blocked"),
    "staff.card": ("医保卡读取失败", "Insurance card problem"),
    "staff.card.not_found": ("医保卡未在本院登记", "Insurance card not on file"),
    "staff.voucher": ("医保电子凭证无效", "E-voucher not accepted"),
    "staff.voucher.expired": ("医保电子凭证已过期", "E-voucher expired"),
    "staff.voucher.revoked": ("医保电子凭证已作废", "E-voucher revoked"),
    "staff.voucher.not_found": ("医保电子凭证查无此人", "E-voucher matches no patient"),
    "staff.evoucher": ("电子凭证二维码无法识别", "E-voucher QR not readable"),
    "staff.bill": ("账单有问题", "Bill problem"),
    "staff.bill.not_found": ("账单未找到", "Bill not found"),
    "staff.bill.patient_mismatch": ("账单与患者不符", "Bill belongs to another patient"),
    "staff.bill.already_settled": ("账单已结算过", "Bill already settled"),
    "staff.his": ("医院信息系统变更了已结算的账单", "The hospital system changed a settled bill"),
    "staff.his.amended_after_settlement": (
        "HIS 在结算后修改了账单：请冲正原结算，再按新账单结算",
        "The hospital system amended a settled bill: reverse it, then settle the new bill"),
    "staff.his.cancelled_after_settlement": (
        "HIS 撤销了已结算的账单：请冲正原结算并退款",
        "The hospital system cancelled a settled bill: reverse it and refund"),
    "staff.backend": ("自助机与平台通信失败", "Kiosk could not reach the platform"),
    "staff.backend.unreachable": ("自助机连不上平台", "Kiosk cannot reach the platform"),
    "staff.backend.timeout": ("平台响应超时", "Platform timed out"),
    "staff.settlement": ("结算未完成", "Settlement not completed"),
    "staff.settlement.unconfirmed": ("扣款结果未确认：先查今日结算，勿重复收费",
                                     "Charge unconfirmed: check Today before charging"),
    "staff.settlement.partial": ("部分结算：余额需人工收取", "Partly settled: collect the rest"),
    "staff.settlement.expired": ("离线结算超时未送达平台，请人工核对",
                                 "Offline settlement expired undelivered: check it"),
    "staff.settlement.refused": ("离线结算被平台拒绝，请人工收费",
                                 "Offline settlement refused: charge at the counter"),
    "staff.settlement.quote_changed": ("金额已变化，需重新试算", "Amount changed: quote again"),
    "staff.reconcile": ("对账不一致，请核对", "Reconciliation mismatch: check it"),
    "staff.patient": ("患者需要人工服务", "Patient needs a cashier"),
    "staff.patient.requested_cashier": ("患者主动呼叫人工", "Patient asked for a cashier"),
    "staff.patient.not_found": ("查无此患者", "Patient not found"),
    "staff.consent": ("患者未授权刷脸支付", "No face-pay consent on file"),
    "staff.session.abandoned": ("患者中途离开", "Patient walked away"),
    "staff.review.timeout": ("患者未确认账单（超时）", "Bill not confirmed in time"),
    "staff.clock.skewed": ("自助机时钟偏差过大，请报修", "Kiosk clock is off: report it"),
    "staff.server": ("平台故障", "Platform failure"),
    "staff.auth": ("自助机认证失败，请报修", "Kiosk authentication failed: report it"),
    "staff.card.reader": ("自助机读卡器故障，请报修", "Kiosk card reader failed: report it"),
    "staff.scanner": ("自助机扫码口故障，请报修", "Kiosk scanner failed: report it"),
    "staff.speaker": ("自助机语音播报故障，请报修", "Kiosk voice prompts failed: report it"),
    "staff.printer": ("自助机打印机故障：凭条可在本窗口补打",
                      "Kiosk printer failed: reprint the receipt here"),
    STAFF_OTHER: ("自助机无法继续（{code}）", "Kiosk could not continue ({code})"),
}

# The console's words beyond ``kiosk.i18n``'s cashier.* keys.
CONSOLE: dict[str, tuple[str, str]] = {
    "counter.window_title": ("人工收费台 · 收费员工作台", "Cashier counter console"),
    "counter.unresolved_none": ("本机没有待确认的收费。", "No charge of this counter awaits "
                                "confirmation."),
    "counter.unresolved": ("本机有 {n} 笔收费尚未确认：", "{n} charge(s) of this counter not "
                           "confirmed:"),
    "counter.unresolved_pending": ("待确认 · 账单 {bill} · {amount} · {code}（正在重发，"
                                   "不会重复扣款）",
                                   "Pending · bill {bill} · {amount} · {code} (being sent "
                                   "again, never charged twice)"),
    "counter.unresolved_expired": ("已过重发期限 · 账单 {bill} · {amount}：请在今日结算中核对",
                                   "Too old to send · bill {bill} · {amount}: check today's "
                                   "settlements"),
    "counter.unresolved_rejected": ("被拒绝 · 账单 {bill} · {amount} · {code} · 收费单 {taken}",
                                    "Refused · bill {bill} · {amount} · {code} · taken by "
                                    "{taken}"),
    "counter.retry_unresolved": ("立即重发", "Send again now"),
    "counter.retried": ("已重发 {n} 笔", "{n} sent again"),
    "counter.col_waited": ("已等待", "Waited"),
    "counter.col_kiosk": ("终端位置", "Kiosk"),
    "counter.col_reason": ("原因", "Reason"),
    "counter.col_patient": ("患者", "Patient"),
    "counter.col_amount": ("金额", "Amount"),
    "counter.col_count": ("次数", "Times"),
    "counter.col_status": ("状态", "Status"),
    "counter.minutes": ("{m} 分 {s:02d} 秒", "{m} min {s:02d} s"),
    "counter.seconds": ("{s} 秒", "{s} s"),
    "counter.times": ("×{n}", "×{n}"),
    "counter.unknown": ("—", "—"),
    "counter.take_over": ("接管 (F2)", "Take over (F2)"),
    "counter.dismiss": ("忽略…", "Dismiss…"),
    "counter.dismiss_title": ("忽略此转人工（所有窗口都不再显示）",
                              "Dismiss this hand-off (for every counter)"),
    "counter.resolve": ("已处理", "Done"),
    "counter.resolve.settled": ("已收费", "Paid"),
    "counter.resolve.no_charge": ("无需缴费", "Nothing to pay"),
    "counter.resolve.referred": ("已转其他窗口", "Sent elsewhere"),
    "counter.closed": ("已处理：{what}", "Closed: {what}"),
    "counter.dismiss.left": ("患者已离开", "Patient left"),
    "counter.dismiss.duplicate": ("重复记录", "Duplicate"),
    "counter.dismiss.handled_elsewhere": ("已在别处处理", "Handled elsewhere"),
    "counter.dismiss.test": ("测试", "Test"),
    "counter.took_over": ("已接管：{kiosk} · {reason}", "Taken over: {kiosk} · {reason}"),
    "counter.new_handoffs": ("新的转人工：{n} 个", "New hand-offs: {n}"),
    "counter.queue_empty": ("没有等待中的患者", "Nobody is waiting"),
    "counter.lookup": ("查询 (F3)", "Look up (F3)"),
    "counter.charge": ("收费 (F9)", "Charge (F9)"),
    "counter.credit_line": ("信用额度 {limit} · 可用 {available} · 待还 {outstanding} · "
                            "到期日 {due}",
                            "Credit limit {limit} · available {available} · outstanding "
                            "{outstanding} · due {due}"),
    "counter.no_due": ("无", "none"),
    "counter.patient_line": ("{name}（{id}）{category}", "{name} ({id}) {category}"),
    "counter.items_title": ("账单明细", "Bill items"),
    "counter.col_item": ("项目", "Item"),
    "counter.col_kind": ("类别", "Category"),
    "counter.col_qty": ("数量", "Qty"),
    "counter.col_unit": ("单价", "Unit"),
    "counter.col_amount_item": ("金额", "Amount"),
    "counter.col_eligible": ("医保", "Covered"),
    "counter.col_lines": ("项数", "Lines"),
    "counter.yes": ("是", "yes"),
    "counter.no": ("否", "no"),
    "counter.split_title": ("医保分摊（试算）", "Insurance split (quote)"),
    "counter.split": ("统筹 {basic} · 大病 {critical} · 救助 {aid} · 自付 {self_pay}",
                      "Basic pool {basic} · critical illness {critical} · medical aid {aid} · "
                      "self-pay {self_pay}"),
    "counter.split_pay": ("记入信用 {credit} · 窗口收取 {counter}",
                          "On credit {credit} · collect here {counter}"),
    "counter.quoting": ("正在试算……", "Quoting…"),
    "counter.confirm_charge": ("确认收费", "Confirm charge"),
    "counter.confirm_charge_text": ("{patient}\n账单 {bill}，总额 {total}\n{split}\n{pay}\n"
                                    "方式：{method}",
                                    "{patient}\nBill {bill}, total {total}\n{split}\n{pay}\n"
                                    "Method: {method}"),
    "counter.confirm_retry": ("上一次收费结果未确认，本次确认将查询同一笔，不会重复扣款。",
                              "The last charge is unconfirmed: confirming asks about the same "
                              "charge and never charges twice."),
    "counter.confirm_reverse": ("确认撤销结算", "Confirm reversal"),
    "counter.confirm_reverse_text": ("撤销凭条 {receipt}（{patient}，{total}）。原因将记入审计。",
                                     "Reverse receipt {receipt} ({patient}, {total}). The "
                                     "reason goes into the audit."),
    "counter.confirm_withdraw": ("确认撤回刷脸授权", "Confirm consent withdrawal"),
    "counter.confirm_withdraw_text": ("撤回 {patient} 的刷脸授权并删除人脸模板。原因将记入审计。",
                                      "Withdraw {patient}'s face consent and delete the face "
                                      "templates. The reason goes into the audit."),
    "counter.reason": ("原因（必填，至少 2 个字）", "Reason (required, 2+ characters)"),
    "counter.ok": ("确认", "Confirm"),
    "counter.cancel": ("取消", "Cancel"),
    "counter.charge_in_flight": ("正在收费，请稍候", "Charging, please wait"),
    "counter.already_settled_here": ("该账单已在本机结算", "This bill was settled here"),
    "counter.withdraw": ("撤回刷脸授权…", "Withdraw face consent…"),
    "counter.reverse": ("撤销结算…", "Reverse…"),
    "counter.consent_date": ("授权日期：{date}", "Consent date: {date}"),
    # --- 亲情付 (family pay) -----------------------------------------------------------
    "counter.tab_family": ("亲情付", "Family pay"),
    "family.at_desk": ("在窗口的人：{patient}", "At the desk: {patient}"),
    "family.need_patient": ("请先在“查询与收费”中查询在窗口的人",
                            "Look up the person at the desk first (Look up & settle)"),
    "family.relatives_title": ("本人授权的代付亲属", "Relatives this patient lets pay"),
    "family.person_short": ("{name}（证件尾号 {last4}）", "{name} (ID …{last4})"),
    "family.col_relative": ("亲属", "Relative"),
    "family.col_relation": ("关系", "Relation"),
    "family.col_version": ("授权书版本", "Consent version"),
    "family.col_since": ("授权时间", "Authorised"),
    "family.col_state": ("状态", "State"),
    "family.state_standing": ("有效", "Standing"),
    "family.state_withdrawn": ("已撤回（{date}）", "Withdrawn ({date})"),
    "family.withdraw": ("撤回代付授权…", "Withdraw authorisation…"),
    "family.need_standing": ("请先选择一条有效的授权", "Select a standing authorisation first"),
    "family.confirm_withdraw": ("确认撤回亲情付授权", "Confirm withdrawal of family pay"),
    "family.confirm_withdraw_text": ("{patient}\n撤回 {relative}（{relation}）的代付授权，"
                                     "立即生效：该亲属不能再为本人结算或还款。",
                                     "{patient}\nWithdraw the authorisation of {relative} "
                                     "({relation}); it ends at once: they can no longer settle "
                                     "or repay for this patient."),
    "family.withdrawn": ("已撤回 {relative} 的代付授权", "{relative} may no longer pay"),
    "family.add_title": ("新增代付亲属（亲属须为本院先看病后付费用户）",
                         "Authorise a relative (a credit user of this hospital)"),
    "family.find": ("查找亲属", "Find relative"),
    "family.found": ("亲属：{relative}", "Relative: {relative}"),
    "family.relation": ("是患者的", "is the patient's"),
    "family.authorise": ("患者同意，授权…", "Patient agrees: authorise…"),
    "family.need_relative": ("请先查找要授权的亲属", "Find the relative first"),
    "family.need_ack": ("请先请患者本人阅读授权书并勾选同意",
                        "The patient must read the consent and tick it first"),
    "family.confirm_authorise": ("确认亲情付授权", "Confirm family pay"),
    "family.confirm_authorise_text": ("{patient}\n授权 {relative}（{relation}）为本人代付。\n"
                                      "授权书版本 {version}，同意日期 {date}。",
                                      "{patient}\nlets {relative} ({relation}) pay for them.\n"
                                      "Consent version {version}, agreed on {date}."),
    "family.authorised": ("已授权 {relative}（{relation}）代付",
                          "{relative} ({relation}) may now pay"),
    "family.dependants_title": ("在窗口的人可为以下患者代付", "The person at the desk may pay for"),
    "family.col_dependant": ("患者", "Patient"),
    "family.col_payer_is": ("代付人是其", "Payer is their"),
    "family.col_outstanding": ("待还", "Outstanding"),
    "family.col_available": ("可用额度", "Available"),
    "family.no_dependants": ("没有人授权在窗口的人代付", "Nobody lets the person at the desk pay"),
    "family.settle_for": ("代为结算账单", "Settle their bill"),
    "family.amount": ("还款金额（元）", "Amount (yuan)"),
    "family.repay": ("代为还款…", "Repay for them…"),
    "family.need_dependant": ("请先选择要代付的患者", "Select the patient to pay for first"),
    "family.bad_amount": ("金额不对：{detail}", "That amount is not valid: {detail}"),
    "family.confirm_repay": ("确认代为还款", "Confirm repayment"),
    "family.confirm_repay_text": ("还款 {amount}，方式：{method}\n患者：{patient}\n"
                                  "代付人：{payer}（患者的{relation}）\n还款后待还 {left}",
                                  "Repay {amount}, method: {method}\nPatient: {patient}\n"
                                  "Paid by: {payer} (the patient's {relation})\n"
                                  "Outstanding after: {left}"),
    "family.repaid": ("已为 {patient} 还款 {amount}，还需还 {left}",
                      "Repaid {amount} for {patient}; {left} still owed"),
    "family.repay_unconfirmed": ("还款结果未确认：再次确认将查询同一笔，不会重复入账",
                                 "Repayment unconfirmed: confirming again asks about the same "
                                 "one and never records it twice"),
    "family.paying_for": ("亲情付：{payer}（患者的{relation}）代付，记入患者本人的信用账户",
                          "Family pay: {payer} (the patient's {relation}) pays, on the "
                          "patient's credit"),
    "family.payer_line": ("代付人：{payer}（患者的{relation}）",
                          "Paid by: {payer} (the patient's {relation})"),
    "credit_status.suspended": ("已暂停（逾期）", "Suspended (overdue)"),
    "credit_status.blacklisted": ("已停用", "Blocked"),
    "repay_method.cash": ("现金", "Cash"),
    "repay_method.card": ("银行卡", "Bank card"),
    "repay_method.transfer": ("转账", "Transfer"),
    # the platform's refusals in staff words (the kiosk's patient words are kiosk.i18n's)
    "staff_error.family.not_authorised": (
        "该亲属没有这位患者的有效代付授权（从未授权或已撤回），不能代付",
        "This relative holds no standing authorisation from this patient (never given, or "
        "withdrawn): they cannot pay for them"),
    "staff_error.family.self": ("不能把患者本人登记为自己的代付亲属",
                                "The patient cannot be their own paying relative"),
    "staff_error.patient.not_found": ("查无此人：请核对卡号、电子凭证或患者编号",
                                      "No such patient: check the card, e-voucher or id"),
    "enrol.face_ok": ("人脸清晰，可以开始采集", "Face is clear: ready to capture"),
    "enrol.simulated_camera": ("这是模拟摄像头，不能登记真人（仅演示模式可用）",
                               "this is a simulated camera: it cannot enrol a real person "
                               "(demo mode only)"),
}

WORDS = {**STAFF, **CONSOLE}


def say(key: str, lang: str = "zh", **params: object) -> str:
    """The console's text for ``key``: its own words first, then ``kiosk.i18n``'s."""
    if key not in WORDS:
        return tr(key, lang, **params)
    zh, en = WORDS[key]
    text = en if lang == "en" else zh
    return text.format(**params) if params else text


def staff_error(code: str, lang: str = "zh") -> str:
    """A platform refusal as the cashier should read it: staff words where the patient's
    would mislead ("please ask at the cashier"), else the shared text."""
    key = f"staff_error.{code}"
    return say(key if key in CONSOLE else code, lang)


def staff_key(reason: str) -> str:
    """The staff text's key for a kiosk reason code: the registry's, or the generic one that
    names the code (a code this console does not know yet, from a newer kiosk)."""
    try:
        return ErrorCode(reason).staff
    except ValueError:
        return STAFF_OTHER


def staff_reason(reason: str, lang: str = "zh") -> str:
    return say(staff_key(reason), lang, code=reason)


def waited(seconds: int, lang: str = "zh") -> str:
    if seconds < 60:
        return say("counter.seconds", lang, s=seconds)
    return say("counter.minutes", lang, m=seconds // 60, s=seconds % 60)


def local(at: datetime, zone: tzinfo, fmt: str) -> str:
    return at.astimezone(zone).strftime(fmt)


def patient_line(patient: MaskedPatient, lang: str) -> str:
    return say("counter.patient_line", lang, name=patient.name, id=patient.national_id,
               category=label("category", patient.category.value, lang))


def person_short(patient: MaskedPatient, lang: str) -> str:
    """Name and the id's last four: a table row of people, where a whole line would not fit."""
    return say("family.person_short", lang, name=patient.name, last4=patient.national_id[-4:])


def credit_line(credit: CreditState, zone: tzinfo, lang: str) -> str:
    due = (local(credit.next_due_at, zone, "%Y-%m-%d") if credit.next_due_at
           else say("counter.no_due", lang))
    return say("counter.credit_line", lang, limit=yuan(credit.limit_fen, lang),
               available=yuan(credit.available_fen, lang),
               outstanding=yuan(credit.outstanding_fen, lang), due=due)


def item_rows(bill: Bill, lang: str) -> list[list[str]]:
    return [[item.description, label("item", item.kind.value, lang), str(item.quantity),
             yuan(item.unit_fen, lang), yuan(item.amount_fen, lang),
             say("counter.yes" if item.eligible else "counter.no", lang)]
            for item in bill.items]


def split_lines(quote: Quote, lang: str) -> tuple[str, str]:
    """The insurance split and where the self-pay goes (credit or collected here)."""
    layers = quote.layers
    split = say("counter.split", lang, basic=yuan(layers.basic_pool_fen, lang),
                critical=yuan(layers.critical_illness_fen, lang),
                aid=yuan(layers.medical_aid_fen, lang), self_pay=yuan(layers.self_pay_fen, lang))
    pay = say("counter.split_pay", lang, credit=yuan(quote.charge_to_credit_fen, lang),
              counter=yuan(quote.pay_at_counter_fen, lang))
    if not quote.payable and quote.refusal is not None:
        pay += "\n" + tr("cashier.not_payable", lang, reason=tr(quote.refusal.code, lang))
    return split, pay


def _totals_line(name: str, totals: ReconTotals, lang: str) -> str:
    return tr("cashier.recon_row", lang, label=name,
              count=totals.count, total=yuan(totals.total_fen, lang),
              basic=yuan(totals.basic_pool_fen, lang),
              critical=yuan(totals.critical_illness_fen, lang),
              aid=yuan(totals.medical_aid_fen, lang), self_pay=yuan(totals.self_pay_fen, lang))


def recon_lines(recon: Reconciliation, lang: str) -> list[str]:
    """The day's reconciliation as lines: heading, settled, reversed, net, per method, and
    whether it balances (a report that does not add up must say so loudly)."""
    lines = [tr("cashier.recon_heading", lang, date=recon.date, tz=recon.timezone),
             _totals_line(tr("cashier.recon_settled", lang), recon.settled, lang),
             _totals_line(tr("cashier.recon_reversed", lang), recon.reversed, lang),
             _totals_line(tr("cashier.recon_net", lang), recon.net, lang)]
    lines += [_totals_line(label("method", method.value, lang), totals, lang)
              for method, totals in sorted(recon.by_method.items())]
    lines.append(tr("cashier.recon_balanced" if recon.balanced else "cashier.recon_unbalanced",
                    lang))
    return lines
