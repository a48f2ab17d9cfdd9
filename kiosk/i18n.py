"""Every string a patient, a cashier or IT sees on screen, in Chinese (default) and English.

Keys are the flow's guidance keys and reason codes as they are (``quality.too_far``,
``credit.limit_exceeded``...), plus ``ui.*``/``cashier.*``/``enrol.*`` for the screens' own
words. A key nobody translated still renders something a person can act on (its family's
text, else a generic "please ask at the counter"), never a bare code. Kept free of Qt so the
texts can be checked without a display.
"""

from __future__ import annotations

from common.errors import SYSTEM_FAULT, ErrorCode
from device.printer.receipt import format_fen

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
# The 亲情付 consent text below ("family.consent_text") is recorded by this version: a new
# text needs a new version, so the platform knows which words each patient agreed to.
FAMILY_CONSENT_VERSION = "family-pay-2026.1"

# Words for problems a patient cannot fix and need not understand: they all say the same.
_SYSTEM = ("系统暂时出了点问题。", "Something went wrong on our side.")
_FACE_FAILED = ("刷脸没有成功。",
                "Face payment did not work this time.")
_LIVENESS_FAILED = ("刷脸验证没有通过。",
                    "We could not confirm it is you in person.")
_SCAN_AGAIN = ("二维码没有读清楚，请重新扫描医保电子凭证。",
               "The code was not read correctly. Please scan your e-voucher again.")

STRINGS: dict[str, tuple[str, str]] = {
    # --- window chrome ---------------------------------------------------------------
    "ui.kiosk_name": ("医院自助缴费机", "Hospital self-service kiosk"),
    "ui.lang_switch": ("English", "中文"),
    "ui.elderly_on": ("大字模式", "Large text"),
    "ui.elderly_off": ("标准字体", "Normal text"),
    "ui.call_cashier": ("呼叫人工", "Call staff"),
    "ui.seconds_left": ("{seconds} 秒后返回首页", "Back to start in {seconds} s"),
    "ui.seconds_short": ("{seconds} 秒后返回", "{seconds} s left"),  # a narrow top bar
    "ui.pay_face": ("刷脸支付", "Face pay"),
    "ui.pay_card": ("医保卡", "Card"),
    "ui.pay_voucher": ("医保电子凭证", "E-voucher"),
    "ui.card_hint": ("请将医保卡插入下方读卡器", "Insert your insurance card in the reader below"),
    "ui.voucher_hint": ("请打开医保电子凭证，对准下方扫码口",
                        "Open your insurance e-voucher and hold it to the scanner below"),
    "ui.face_unavailable": ("刷脸暂不可用", "No face pay"),
    "ui.in_use": ("✓ {method}", "✓ {method}"),
    "ui.cancel": ("取消", "Cancel"),
    "ui.confirm": ("确认支付", "Confirm"),
    "ui.back_to_start": ("返回首页", "Back to start"),
    "ui.finish": ("完成", "Done"),
    "ui.liveness_off": ("演示模式：未检测活体", "Demo mode: liveness not checked"),
    "ui.code": ("代码：{code}", "Code: {code}"),
    "ui.replay": ("再听一遍", "Replay"),
    "ui.yuan": ("¥{amount}", "¥{amount}"),
    # --- attract / idle --------------------------------------------------------------
    "idle.welcome": ("欢迎使用自助缴费", "Welcome to self-service payment"),
    "idle.subtitle": ("先看病，后缴费。请选择下方任意一种方式付款。",
                      "Treat first, pay later. Choose any way to pay below."),
    "idle.face_tip": ("点击下方“刷脸支付”后，看着摄像头即可付款",
                      "Touch \"Face pay\" below, then look at the camera"),
    # --- face scan -------------------------------------------------------------------
    "scan.title": ("刷脸支付", "Pay by face"),
    "searching.look_at_screen": ("请看着摄像头，把脸放进框内",
                                 "Look at the camera, with your face in the frame"),
    "searching.hold_still": ("请保持不动，正在识别……", "Please hold still, recognising…"),
    "quality.no_face": ("请站到屏幕正前方", "Please stand in front of the screen"),
    "quality.multiple_faces": ("请一位一位来，其他人请稍后",
                               "Only one person at a time, please"),
    "quality.too_far": ("请再靠近一点", "Please come a little closer"),
    "quality.too_close": ("请稍微往后退一点", "Please step back a little"),
    "quality.cut_off": ("请把整张脸放进框内", "Please move your whole face into the frame"),
    "quality.not_frontal": ("请正对屏幕", "Please face the screen directly"),
    "quality.blurred": ("请保持不动", "Please hold still"),
    "quality.too_dark": ("光线太暗，请靠近一点或面向灯光",
                         "Too dark: please come closer or face the light"),
    "quality.too_bright": ("光线太亮，请避开强光", "Too bright: please move out of the glare"),
    "quality._other": ("请调整位置，看着屏幕",
                       "Please adjust your position and look at the screen"),
    # --- liveness --------------------------------------------------------------------
    "liveness.title": ("请按提示转头", "Please follow the prompt"),
    "liveness.look_straight": ("请正视屏幕", "Please look straight at the screen"),
    "liveness.hold_still": ("请保持不动", "Please hold still"),
    "liveness.turn_left": ("请慢慢向左转头", "Please turn your head slowly to your left"),
    "liveness.turn_right": ("请慢慢向右转头", "Please turn your head slowly to your right"),
    "liveness.off_demo": ("演示模式：未检测活体", "Demo mode: liveness not checked"),
    "liveness.no_parallax": _LIVENESS_FAILED,
    "liveness.wrong_direction": ("转头方向不对。",
                                 "That was the other direction."),
    "liveness.too_fast": ("转头太快了。",
                          "The turn was too quick."),
    "liveness.timeout": ("验证超时。", "The check took too long."),
    "liveness.face_lost": ("没有看到您的脸。",
                           "We lost sight of your face."),
    "liveness.face_changed": _LIVENESS_FAILED,
    "liveness.screen_detected": _LIVENESS_FAILED,
    "liveness.model_rejected": _LIVENESS_FAILED,
    "liveness.failed": _LIVENESS_FAILED,
    "liveness._other": _LIVENESS_FAILED,
    # --- second factor ---------------------------------------------------------------
    "keypad.delete": ("删除", "Delete"),
    "keypad.clear": ("清空", "Clear"),
    "keypad.ok": ("确定", "OK"),
    "keypad.title": ("请输入手机号后四位", "Last 4 digits of your phone"),  # on screen
    "keypad.attempts_left": ("还可以输入 {n} 次", "{n} tries left"),
    "second_factor.enter_phone_digits": ("为了您的安全，请输入登记手机号的后四位",
                                         "For your safety, enter the last 4 digits of your "
                                         "registered phone number"),
    "second_factor.need_four_digits": ("请输入 4 位数字", "Please enter 4 digits"),
    "second_factor.checking": ("正在核对……", "Checking…"),
    "second_factor.wrong_digits": ("号码不对，请再试一次", "That does not match. Please try again"),
    "second_factor.uncertain_match": ("请再确认一下身份", "Please confirm it is you"),
    "second_factor.large_gallery": ("请再确认一下身份", "Please confirm it is you"),
    "second_factor.large_amount": ("金额较大，请再确认一下身份",
                                   "A larger amount: please confirm it is you"),
    "second_factor.locked": ("输入错误次数太多。",
                             "Too many wrong tries."),
    "second_factor.timeout": ("输入超时。",
                              "Time ran out."),
    "second_factor._other": ("请再确认一下身份", "Please confirm it is you"),
    # --- waiting ---------------------------------------------------------------------
    "lookup.please_wait": ("正在查询您的账单，请稍候……", "Finding your bills, please wait…"),
    "settling.please_wait": ("正在支付，请稍候……", "Paying, please wait…"),
    "settling.do_not_leave": ("请不要离开", "Please do not leave yet"),
    # --- bill review -----------------------------------------------------------------
    "review.check_and_confirm": ("请核对账单，无误后点击“确认支付”",
                                 "Please check your bill, then press Confirm"),
    "review.patient": ("患者", "Patient"),
    "review.items": ("费用明细", "Items"),
    "review.split": ("医保报销", "Insurance pays"),
    "review.total": ("合计", "Total"),
    "review.self_pay": ("个人自付（记入信用账户）", "You pay (on your credit)"),
    "review.credit_available": ("记入信用账户，可用额度 {amount}",
                                "On your credit: {amount} available"),
    "review.you_pay": ("个人自付", "You pay"),  # on screen; review.self_pay is spoken
    "layer.basic_pool": ("基本医疗保险", "Basic insurance"),
    "layer.critical_illness": ("大病保险", "Critical illness"),
    "layer.supplementary": ("重大疾病补充保险", "Supplementary"),
    "layer.medical_aid": ("医疗救助", "Medical aid"),
    "layer.government_backstop": ("财政兜底", "Government"),
    "layer.self_pay": ("个人自付", "Self-pay"),
    "category.employee": ("职工医保", "Employee insurance"),
    "category.resident": ("居民医保", "Resident insurance"),
    "category.poverty_relief": ("困难群众", "Poverty relief"),
    "item.drug": ("药品", "Drugs"),
    "item.exam": ("检查", "Examination"),
    "item.treatment": ("治疗", "Treatment"),
    "item.material": ("材料", "Materials"),
    "item.bed": ("床位", "Bed"),
    "item.other": ("其他", "Other"),
    # --- result ----------------------------------------------------------------------
    "done.paid": ("支付成功", "Payment complete"),
    "done.partial": ("部分账单已支付，其余账单请到人工收费窗口办理",
                     "Part of your bills is paid. Please take the rest to the cashier's desk"),
    "done.queued": ("已记录，网络恢复后自动确认", "Recorded: it will be confirmed when we are back "
                    "online"),
    "done.self_pay": ("本次个人自付 {amount}，已记入您的信用账户",
                      "You paid {amount}, charged to your credit"),
    "done.printing": ("正在打印凭条，请取走凭条", "Please take your receipt"),
    "done.settlement_no": ("结算号 {id}", "Settlement no. {id}"),
    "done.receipt_no": ("凭条号", "Receipt no."),
    "done.credit_due": ("信用付 {amount}，请于{date}前还款", "{amount} on credit, due {date}"),
    "done.credit_due_pending": ("信用付 {amount}，还款到期日待确认",
                                "{amount} on credit: due date pending"),
    "done.credit_owed": ("信用付待还合计 {amount}", "On credit in all: {amount}"),
    "done.unpaid": ("尚未支付 {amount}，请到人工收费窗口办理",
                    "Still to pay: {amount}, at the cashier's desk"),
    "done.date": ("{year}年{month}月{day}日", "{iso}"),
    "done.reference": ("参考号 {id}", "Reference {id}"),
    "done.receipt_unavailable": ("凭条图像暂不可用，可到人工窗口补打",
                                 "Receipt image unavailable; the cashier can reprint it"),
    "method.face": ("刷脸支付", "Face"),
    "method.card": ("医保卡", "Insurance card"),
    "method.voucher": ("医保电子凭证", "E-voucher"),
    "method.cash": ("现金", "Cash"),
    # --- 我的欠款 and repayment at the kiosk (kiosk/flow/owed.py) --------------------------
    "ui.owed": ("我的欠款", "What I owe"),
    "owed.identify": ("查看欠款：请点击下方“刷脸支付”，或插入医保卡、扫描医保电子凭证",
                      "To see what you owe: touch Face pay below, insert your card or scan "
                      "your e-voucher"),
    "owed.title": ("{name}，您的欠款", "{name}, what you owe"),
    "owed.list": ("以下是您尚未还清的信用付", "Your credit charges not yet repaid"),
    "owed.none": ("您目前没有欠款", "You owe nothing at the moment"),
    "owed.total": ("待还合计 {amount}", "Owed in all: {amount}"),
    "owed.charge": ("凭条 {receipt}　{amount}　{date}前还",
                    "Receipt {receipt}  {amount}  due {date}"),
    "owed.charge_overdue": ("凭条 {receipt}　{amount}　已逾期（{date}到期）",
                            "Receipt {receipt}  {amount}  overdue (due {date})"),
    "owed.more": ("另有 {n} 笔，已计入合计", "{n} more, in the total"),
    "owed.repay_all": ("扫码还款 {amount}", "Repay {amount} by QR"),
    "owed.repay_one": ("还这笔", "Repay this"),
    "owed.repay_failed": ("付款没有成功，未扣款。您可以再试一次", "The payment did not go "
                          "through; nothing was taken. You can try again"),
    "owed.repay_timeout": ("付款码已过期，未扣款。您可以再试一次",
                           "The payment code expired; nothing was taken. You can try again"),
    "owed.repay_cancelled": ("已取消付款，未扣款", "Payment cancelled; nothing was taken"),
    "owed.repay_unavailable": ("暂时无法扫码还款，请稍后再试或到人工窗口还款",
                               "QR repayment is not available right now: try again later or "
                               "repay at the cashier"),
    "owed.no_repay": ("本机暂不支持扫码还款，请到人工窗口还款",
                      "This kiosk does not take repayments: please repay at the cashier"),
    "repay.opening": ("正在生成付款码，请稍候", "Making your payment code, please wait"),
    "repay.scan": ("请用手机扫描二维码付款", "Scan the code with your phone to pay"),
    "repay.amount": ("本次还款 {amount}", "Repaying {amount}"),
    "repay.back": ("不付了，返回", "Back, don't pay"),
    "repay.closing": ("正在确认付款结果，请稍候", "Checking the payment, please wait"),
    "repay.paid": ("还款成功", "Repaid"),
    "repay.paid_amount": ("已还款 {amount}", "You repaid {amount}"),
    "repay.left": ("剩余欠款 {amount}", "Still owed: {amount}"),
    # 亲情付 at the kiosk: a relative pays for a patient who authorised them
    "family.pay_for": ("为家人还款（{n}位）", "Pay for family ({n})"),
    "family.title": ("为家人还款", "Pay for family"),
    "family.choose": ("请选择要为哪位家人还款", "Choose whose debt to pay"),
    "family.member": ("{name}　您是其{relation}　欠款 {amount}",
                      "{name} · you are their {relation} · owes {amount}"),
    "family.member_clear": ("{name}　您是其{relation}　没有欠款",
                            "{name} · you are their {relation} · owes nothing"),
    "family.paying_for": ("为 {name} 还款", "Paying for {name}"),
    "family.owed": ("以下是这位家人尚未还清的信用付", "Their credit charges not yet repaid"),
    "family.owed_none": ("这位家人目前没有欠款", "They owe nothing at the moment"),
    "family.withdrawn": ("这位家人已撤回代付授权，未扣款。您可以为其他家人还款，或到人工窗口咨询",
                         "That relative withdrew the authorisation; nothing was taken. You "
                         "can pay for someone else, or ask at the cashier"),
    "family.back": ("返回", "Back"),
    "family.choose_one": ("查看并还款", "See and repay"),
    "family.offer": ("您也可以点“为家人还款”，为授权您的家人还款",
                     "You can also pay for family members who authorised you"),
    "repay.unconfirmed": ("付款结果暂未确认，请勿重复付款，工作人员会为您核实。",
                          "The payment is not confirmed yet. Do not pay again: staff will "
                          "check it for you."),
    "payment.not_offered": ("本机暂不支持扫码还款，请到人工窗口还款。",
                            "This kiosk does not take repayments: please repay at the counter."),
    "payment.unavailable": ("暂时无法扫码还款，请到人工窗口还款。",
                            "QR repayment is not available right now: please repay at the "
                            "cashier."),
    "payment.notification_invalid": _SYSTEM,
    "repay_order.not_found": ("没有找到这笔付款，请到人工窗口核实。",
                              "We could not find this payment: please ask at the cashier."),
    # --- fallback and errors ---------------------------------------------------------
    "fallback.go_to_cashier": ("请到人工窗口缴费", "Please pay at the cashier"),
    "fallback.staff_coming": ("已通知工作人员，请在此稍候", "Staff are coming: please wait here"),
    "fallback.notice": ("您可以返回首页，或呼叫工作人员。",
                        "You can go back to the start, or call a member of staff."),
    "notice.title": ("温馨提示", "For your information"),
    "way.face_again": ("再试一次刷脸", "Try face again"),
    "way.card": ("插入医保卡", "Insert card"),
    "way.voucher": ("扫描医保电子凭证", "Scan e-voucher"),
    "way.cashier": ("呼叫人工", "Call staff"),
    "way.cashier_called": ("已呼叫人工", "Staff called"),
    "way.start": ("返回首页", "Back to start"),
    "idle.greet": ("您好！请选择下方的缴费方式", "Hello! Choose a way to pay below"),
    "searching.try_again": ("没有认出来，我们再试一次：请摘下帽子、口罩，正对屏幕",
                            "Not recognised yet. Let's try once more: take off hat and mask, "
                            "face the screen"),
    "liveness.try_again": ("没有看清转头动作，我们再试一次：请慢慢转头",
                           "We missed the head turn. Let's try once more: turn your head "
                           "slowly"),
    "fallback.title": ("换一种方式付款", "Let's pay another way"),
    "fallback.options": ("您可以：", "You can:"),
    "fallback.option_card": ("插入医保卡", "Insert your insurance card"),
    "fallback.option_voucher": ("扫描医保电子凭证", "Scan your insurance e-voucher"),
    "fallback.option_cashier": ("到人工窗口，工作人员会帮您", "Go to the cashier: staff will help"),
    "fallback.option_later": ("稍后再试", "Try again later"),
    "error.title": ("暂时无法完成", "We could not finish this"),
    "face.camera_failed": ("摄像头暂时不可用。",
                           "The camera is not working right now."),
    "face.not_recognised": ("没有认出您，可能您还没有开通刷脸支付。",
                            "We did not recognise you; you may not be enrolled for face pay."),
    "face.timeout": _FACE_FAILED,
    "face._other": _FACE_FAILED,
    "patient.requested_cashier": ("已通知工作人员，请到人工窗口",
                                  "Staff have been told. Please go to the cashier"),
    "patient.cancelled": ("已取消", "Cancelled"),
    "session.abandoned": ("已返回首页，您的信息已清除", "Back to start; your details were cleared"),
    "session.finished": ("已返回首页", "Back to start"),
    "review.timeout": ("长时间未操作，已返回首页", "No answer for a while, back to start"),
    "backend.unreachable": ("暂时连不上缴费系统。",
                            "We cannot reach the payment system right now."),
    "backend.timeout": ("缴费系统响应太慢。", "The payment system is too slow to answer."),
    "backend.bad_response": _SYSTEM,
    "settlement.unconfirmed": ("支付结果还没有确认，请不要重复缴费，到人工窗口查询。",
                               "Your payment is not confirmed yet. Please do not pay again: ask "
                               "at the cashier."),
    "settlement.expired": ("一笔自助机结算长时间未得到平台确认，已停止重发：请人工核对是否已扣款。",
                           "A kiosk settlement stayed unconfirmed too long and is no longer "
                           "sent: check by hand whether it was charged."),
    "settlement.refused": ("患者离开时显示“待确认”的结算被平台拒绝，请联系患者补缴。",
                           "A settlement the patient left with as pending was refused by the "
                           "platform: contact the patient."),
    "reconcile.missing_on_platform": ("平台缺少自助机持有签名凭据的结算，已重新提交。",
                                      "The platform lacked a settlement this kiosk holds a "
                                      "signed receipt for: sent again."),
    "reconcile.mismatch": ("自助机对账不一致，请联系信息科核对。",
                           "A kiosk's batch totals disagree with the platform: call IT."),
    "clock.skewed": ("本机时钟与平台时间相差过大，请校准时间。",
                     "This terminal's clock is far from platform time: set the clock."),
    "client.tls_pin_mismatch": ("平台的安全证书与本机登记时的不一致，已拒绝连接：请联系信息科"
                                "（证书更换后需重新绑定）。",
                                "The platform's security certificate is not the one this "
                                "terminal registered: connection refused. Call IT (after a "
                                "certificate change it must be re-pinned)."),
    "client.insecure_transport": ("平台地址未加密（http://），已拒绝连接：请联系信息科改用 "
                                  "https://。",
                                  "The platform address is not encrypted (http://): "
                                  "connection refused. Call IT to use https://."),
    "cashier.charge_unconfirmed": ("收费结果未确认：请再点一次“结算”，同一笔不会重复扣款。",
                                   "The charge is not confirmed: press Settle again — the same "
                                   "charge is never taken twice."),
    "settlement.partial": ("部分账单已在自助机支付，其余账单未支付。",
                           "Part of the bills was paid at the kiosk; the rest is not paid."),
    "bill.none_pending": ("您目前没有待缴费用。", "You have no bills to pay right now."),
    "bill.not_found": ("没有找到这张账单，请到人工窗口。",
                       "We could not find this bill. Please ask at the cashier."),
    "bill.already_settled": ("这张账单已经缴过费了，无需再付。",
                             "This bill is already paid. Nothing more to pay."),
    "bill.patient_mismatch": ("账单与患者不一致，请到人工窗口。",
                              "This bill belongs to someone else. Please ask at the cashier."),
    "bill.cancelled": ("医院已撤销这张账单，无需缴费；如有疑问请到人工窗口。",
                       "The hospital cancelled this bill: nothing to pay. Ask at the cashier "
                       "if unsure."),
    "credit.limit_exceeded": ("本次费用超出了您可用的信用额度，换医保卡或电子凭证也一样，"
                              "请到人工窗口缴费。",
                              "This is more than your credit allows, with any card or QR too. "
                              "Please pay at the cashier."),
    "auth.identification_expired": ("确认身份已超时，请重新刷脸、刷卡或扫码。",
                                    "That took too long: please identify yourself again."),
    "credit.user_suspended": ("您的信用就医已暂停（可能有到期未还的费用），请到人工窗口办理。",
                              "Your credit pay is paused (perhaps an overdue amount). Please "
                              "see the cashier."),
    "credit.user_blacklisted": ("您目前不能使用信用就医，请到人工窗口缴费。",
                                "Credit pay is not available to you now. Please pay at the "
                                "cashier."),
    "handoff.already_closed": ("这条转人工记录已处理过了，请刷新列表。",
                               "This hand-off was already closed. Refresh the list."),
    "handoff.already_taken": ("这位患者已由其他窗口接手。",
                              "Another counter has already taken this patient."),
    "handoff.not_found": ("没有找到这条转人工记录，请刷新列表。",
                          "This hand-off was not found. Refresh the list."),
    "receipt.not_found": ("没有这笔结算的凭条（柜台收费不在自助机打印）。",
                          "No slip is kept for this settlement (counter payments are not "
                          "printed at the kiosk)."),
    "printer.offline": ("打印机未连接，请检查打印机。", "The printer is not connected. Check it."),
    "printer.out_of_paper": ("打印机缺纸，请更换纸卷。", "The printer is out of paper."),
    "consent.missing": ("您还没有同意刷脸支付。",
                        "You have not agreed to face pay."),
    "patient.not_found": ("没有找到您的信息，请到人工窗口。",
                          "We could not find your record. Please ask at the cashier."),
    "card.not_found": ("这张医保卡还没有开通信用就医（先看病后付费），可到人工窗口开通或缴费。",
                       "This insurance card is not opened for credit pay (treat first, pay "
                       "later). The cashier can open it or take your payment."),
    "card.unreadable": ("没有读到医保卡，请取出后重新插入。",
                        "The card could not be read. Please take it out and insert it again."),
    "card.no_card": ("没有检测到医保卡，请把医保卡插入读卡器。",
                     "No card found. Please insert your insurance card in the reader."),
    "card.reader_unavailable": ("读卡器暂时不可用，请扫描医保电子凭证或到人工窗口。",
                                "The card reader is not working right now. Please scan your "
                                "e-voucher or go to the cashier."),
    "scanner.unavailable": ("扫码口暂时不可用，请插入医保卡或到人工窗口。",
                            "The scanner is not working right now. Please insert your card "
                            "or go to the cashier."),
    "voucher.malformed": _SCAN_AGAIN,
    "voucher.not_found": ("没有找到这个电子凭证，请刷新后重新扫描。",
                          "This e-voucher was not found. Please refresh it and scan again."),
    "voucher.expired": ("电子凭证已过期，请在手机上刷新后重新扫描。",
                        "This e-voucher has expired. Please refresh it on your phone and "
                        "scan again."),
    "voucher.revoked": ("电子凭证已失效，请在手机上刷新后重新扫描。",
                        "This e-voucher is no longer valid. Please refresh it and scan again."),
    "settlement.quote_changed": ("账单金额有变化，请重新开始核对。",
                                 "The bill changed. Please start again to check it."),
    "settlement.not_found": ("没有找到这笔支付，请到人工窗口。",
                             "We could not find this payment. Please ask at the cashier."),
    "settlement.already_reversed": ("这笔支付已经撤销。", "This payment was already reversed."),
    "amount.invalid": _SYSTEM,
    "amount.exceeds_balance": ("金额超过应还余额。", "The amount is more than what is owed."),
    "repayment.reason_required": ("该患者不属于本院，请填写代收还款的原因。",
                                  "This patient is from another hospital: enter why you "
                                  "take this repayment."),
    "template.invalid": _SYSTEM,
    "evoucher.not_evoucher": ("这不是医保电子凭证二维码，请打开医保电子凭证再扫。",
                              "This is not an insurance e-voucher code. Please open your "
                              "e-voucher and scan again."),
    "evoucher.unsupported_version": ("这个电子凭证版本暂不支持，请到人工窗口。",
                                     "This e-voucher version is not supported here. Please ask "
                                     "at the cashier."),
    "evoucher.malformed": _SCAN_AGAIN,
    "evoucher.bad_token": _SCAN_AGAIN,
    "evoucher.checksum_mismatch": _SCAN_AGAIN,
    "generic.problem": ("出了点问题。请到人工窗口，工作人员会帮您。",
                        "Something went wrong. Please go to the cashier: staff will help."),
    # --- cashier console -------------------------------------------------------------
    "cashier.title": ("收费员工作台", "Cashier console"),
    "cashier.pin_prompt": ("请输入工作人员密码", "Enter the staff PIN"),
    "cashier.pin_wrong": ("密码不正确，还可尝试 {n} 次", "Wrong PIN, {n} tries left"),
    "cashier.pin_locked": ("尝试次数过多，请 {seconds} 秒后再试",
                           "Too many tries; try again in {seconds} s"),
    "cashier.unlock": ("登录", "Unlock"),
    "cashier.lock": ("锁定", "Lock"),
    "cashier.tab_queue": ("转人工队列", "Hand-offs"),
    "cashier.tab_lookup": ("查询与收费", "Look up & settle"),
    "cashier.tab_today": ("今日结算", "Today"),
    "cashier.tab_recon": ("日终对账", "Reconciliation"),
    "cashier.tab_enrol": ("刷脸登记", "Face enrolment"),
    "cashier.refresh": ("刷新", "Refresh"),
    "cashier.col_time": ("时间", "Time"),
    "cashier.col_status": ("状态", "Status"),
    "cashier.taken": ("已接管", "Taken"),
    "cashier.waiting": ("等待中", "Waiting"),
    "cashier.by_card": ("医保卡号", "Card number"),
    "cashier.by_voucher": ("电子凭证二维码", "E-voucher QR"),
    "cashier.by_patient": ("患者编号", "Patient id"),
    "cashier.lookup_key": ("卡号 / 二维码 / 编号", "Card no. / QR / id"),
    "cashier.bad_key": ("输入的内容格式不对：{detail}", "That input is not valid: {detail}"),
    "cashier.col_bill": ("账单", "Bill"),
    "cashier.col_total": ("总额", "Total"),
    "cashier.col_method": ("方式", "Method"),
    "cashier.col_self_pay": ("自付", "Self-pay"),
    "cashier.col_receipt": ("凭条号", "Receipt"),
    "cashier.col_patient": ("患者", "Patient"),
    "cashier.not_payable": ("不能结算：{reason}", "Cannot settle: {reason}"),
    "cashier.settled": ("已结算，凭条号 {receipt}", "Settled, receipt {receipt}"),
    "cashier.no_bills": ("没有待缴账单", "No pending bills"),
    "cashier.select_bill": ("请先选择一张账单并试算", "Select a bill and quote it first"),
    "cashier.reversed": ("已撤销，应退 {refund}", "Reversed; refund {refund}"),
    "cashier.reprint": ("补打凭条", "Reprint receipt"),
    "cashier.reprinted": ("已补打凭条 {receipt}", "Receipt {receipt} reprinted"),
    "cashier.select_settlement": ("请先选择一笔结算", "Select a settlement first"),
    "cashier.status_settled": ("已结算", "Settled"),
    "cashier.status_reversed": ("已撤销", "Reversed"),
    "cashier.recon_heading": ("{date} 对账（{tz}）", "Reconciliation for {date} ({tz})"),
    "cashier.recon_row": ("{label}：{count} 笔，总额 {total}，统筹 {basic}，大病 {critical}，救助 "
                          "{aid}，自付 {self_pay}",
                          "{label}: {count}, total {total}, basic {basic}, critical {critical}, "
                          "aid {aid}, self-pay {self_pay}"),
    "cashier.recon_settled": ("已结算", "Settled"),
    "cashier.recon_reversed": ("已撤销", "Reversed"),
    "cashier.recon_net": ("净额", "Net"),
    "cashier.recon_balanced": ("账目平衡", "Balanced"),
    "cashier.recon_unbalanced": ("账目不平衡，请联系信息科", "NOT balanced: call IT"),
    "cashier.withdrawn": ("已撤回授权，删除人脸模板 {n} 个",
                          "Consent withdrawn; {n} face templates deleted"),
    "cashier.need_patient": ("请先查询患者", "Look a patient up first"),
    "cashier.failed": ("操作失败：{message}", "Failed: {message}"),
    # --- enrolment -------------------------------------------------------------------
    "enrol.consent_title": ("刷脸支付授权书（版本 {version}）",
                            "Face pay consent (version {version})"),
    "enrol.consent_text": (
        "开通刷脸支付后，本院自助缴费机将通过人脸识别确认您的身份，并将个人自付部分记入您的"
        "信用账户（先看病，后缴费）。\n\n"
        "1. 我们只保存由您的照片在本机计算出的人脸特征数据（模板），不保存照片。\n"
        "2. 模板加密保存，仅用于本院缴费时确认是您本人，不作他用，不向第三方提供。\n"
        "3. 刷脸支付是三种缴费方式之一，您随时可以改用医保卡、医保电子凭证或人工窗口。\n"
        "4. 您可以随时在人工窗口撤回授权，撤回后您的人脸模板将立即删除。\n"
        "5. 每次缴费记录保存两年以备审计。",
        "With face pay, this hospital's self-service kiosks confirm who you are by face "
        "recognition and put your self-pay part on your credit (treat first, pay later).\n\n"
        "1. We keep only face feature data (a template) computed on this device from your "
        "pictures; the pictures themselves are not kept.\n"
        "2. The template is stored encrypted, used only to confirm it is you when paying at "
        "this hospital, and never given to anyone else.\n"
        "3. Face pay is one of three ways to pay; you can always use your insurance card, "
        "your e-voucher or the cashier instead.\n"
        "4. You can withdraw this consent at the cashier at any time; your template is then "
        "deleted at once.\n"
        "5. Payment records are kept for two years for audit."),
    "enrol.consent_ack": ("患者已阅读并同意以上内容", "The patient has read and agrees"),
    "enrol.start": ("同意并开始采集", "Agree and start capture"),
    "enrol.need_ack": ("请先请患者阅读并勾选同意", "The patient must read and tick the consent"),
    "enrol.need_patient": ("请先查询并选择患者", "Look the patient up first"),
    "enrol.progress": ("已采集 {n}/{total} 张合格照片", "{n} of {total} good frames captured"),
    "enrol.capturing": ("请患者看着摄像头", "Ask the patient to look at the camera"),
    "enrol.uploading": ("正在生成并上传人脸模板……", "Making and uploading the template…"),
    "enrol.done": ("登记成功", "Enrolled"),
    "enrol.refused": ("登记未完成：{reason}", "Enrolment refused: {reason}"),
    "enrol.quality_poor": ("照片质量不够（{detail}），请调整后重试",
                           "picture quality too poor ({detail}); adjust and try again"),
    "enrol.inconsistent": ("采集的照片不像同一个人，请重新开始",
                           "the frames do not look like one person; start again"),
    "enrol.timeout": ("采集超时，请重试", "capture took too long; try again"),
    "enrol.camera_failed": ("摄像头不可用", "the camera is not available"),
    "enrol.cancel": ("取消", "Cancel"),
    # --- 亲情付 (family pay) ----------------------------------------------------------
    "relation.spouse": ("配偶", "Spouse"),
    "relation.parent": ("父母", "Parent"),
    "relation.child": ("子女", "Child"),
    "relation.sibling": ("兄弟姐妹", "Sibling"),
    "relation.grandchild": ("孙辈", "Grandchild"),
    "relation.guardian": ("监护人", "Guardian"),
    "relation.other": ("其他亲属", "Other relative"),
    "family.not_authorised": ("这位亲属没有代付授权（或授权已撤回），请到人工窗口。",
                              "This relative is not authorised to pay for the patient (or "
                              "the authorisation was withdrawn). Please ask at the cashier."),
    "family.self": ("不能把本人登记为自己的代付亲属。",
                    "A patient cannot be their own paying relative."),
    "family.consent_title": ("亲情付授权书（版本 {version}）",
                             "Family pay consent (version {version})"),
    "family.consent_text": (
        "本人同意由下面这位亲属为本人代付在本院的医疗费用（亲情付）。\n\n"
        "1. 该亲属在本院自助机或人工窗口确认其本人身份后，可以查看本人的待缴账单、信用额度"
        "和欠款，可以为本人结算账单（记入本人的信用账户），也可以为本人偿还欠款。\n"
        "2. 欠款仍记在本人名下；每一笔代付的结算和还款都会记录代付人，保存两年以备审计。\n"
        "3. 该亲属不能查看或更改本人的人脸信息和刷脸支付授权。\n"
        "4. 本人可以随时在人工窗口撤回授权，撤回后立即生效。",
        "I agree that the relative named below may pay my medical bills at this hospital "
        "for me (family pay).\n\n"
        "1. Once the relative has confirmed who they are at a kiosk or the cashier, they may "
        "see my pending bills, credit and debt, settle my bills (on my credit) and repay my "
        "debt.\n"
        "2. The debt stays mine; every settlement and repayment a relative makes for me "
        "records who paid, and is kept for two years for audit.\n"
        "3. The relative cannot see or change my face data or my face-pay consent.\n"
        "4. I can withdraw this at the cashier at any time; it ends at once."),
    "family.consent_ack": ("患者本人已阅读并同意以上内容",
                           "The patient has read and agrees"),
}

# A system fault's words: the registry sends every code of one here (common.errors.SYSTEM_FAULT)
STRINGS[SYSTEM_FAULT] = _SYSTEM

# Unknown key -> the text of its family, so a new guidance or reason still reads sensibly.
_FAMILY = {
    "quality": "quality._other",
    "liveness": "liveness._other",
    "second_factor": "second_factor._other",
    "face": "face._other",
    "searching": "searching.look_at_screen",
    "lookup": "lookup.please_wait",
    "settling": "settling.please_wait",
    "review": "review.check_and_confirm",
    "done": "done.paid",
    "idle": "idle.welcome",
    "fallback": "fallback.go_to_cashier",
    "voucher": "voucher.malformed",
    "evoucher": "evoucher.malformed",
    "request": "server.internal",
    "auth": "server.internal",
    "idempotency": "server.internal",
    "server": "server.internal",
    "client": "server.internal",
    "backend": "backend.unreachable",
    "owed": "owed.list",
    "repay": "repay.opening",
}


_CODES = frozenset(ErrorCode)


def has_text(key: str) -> bool:
    """True when ``key`` has its own translation (not a family or generic fallback)."""
    return key in STRINGS


def resolve(key: str) -> str:
    """The key whose text is shown for ``key``: itself, a registry code's patient key, its
    family's, or the generic one."""
    if key in STRINGS:
        return key
    if key in _CODES:
        return ErrorCode(key).patient
    family = _FAMILY.get(key.split(".", 1)[0])
    return family if family is not None else "generic.problem"


def tr(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The text for ``key`` in ``lang`` ("zh" or "en"), with ``{name}`` params filled in."""
    zh, en = STRINGS[resolve(key)]
    text = en if lang == "en" else zh
    return text.format(**params) if params else text


def yuan(fen: int, lang: str = DEFAULT_LANG) -> str:
    """Integer fen -> "¥12.34" (integer maths only, via the receipt's formatter)."""
    return tr("ui.yuan", lang, amount=format_fen(fen))


def label(prefix: str, name: str, lang: str = DEFAULT_LANG) -> str:
    """A translated name (layer, category, item kind, method); unknown names show as given."""
    key = f"{prefix}.{name}"
    return tr(key, lang) if key in STRINGS else name
