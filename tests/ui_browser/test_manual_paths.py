"""The manual's two paths across the owner's page (375 px) and the reviewer's console (1280 px),
driven by role and visible label, and the refusals shown in words."""

import re

from playwright.sync_api import expect

from conftest import ADMIN, REVIEWER, call, last_code, shot


def sign_in_owner(page, phone, plate, shots=None):
    """Steps 4–8: confirm the phone with the SMS code, choose the vehicle, start."""
    expect(page.get_by_role("heading", name="北京大学医学部")).to_be_visible()
    if shots:
        shot(page, f"{shots}-04-lot")
    page.get_by_role("button", name=re.compile("请确认车主手机号")).click()
    page.get_by_label("手机号").fill(phone)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("button", name=re.compile(r"^\d+秒$"))).to_be_disabled()
    page.get_by_label("短信验证码").fill(last_code(phone))
    if shots:
        shot(page, f"{shots}-05-phone")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("button", name=re.compile("请确认车主手机号"))).to_contain_text("已确认")
    page.get_by_role("button", name=re.compile("请选择办理车辆")).click()
    # Full-width letters and digits and a space, as a phone keyboard may type them.
    page.get_by_label("车牌号").fill(plate)
    if shots:
        shot(page, f"{shots}-07-plate")
    page.get_by_role("button", name="确认").click()
    page.get_by_role("button", name="开始办理").click()


def renew_and_pay(page, photo, shots=None, first_close=False):
    """Steps 9–14: renew this card with the campus-card photo and the consent; pay (after
    closing the pay sheet once and paying from the unpaid order, if `first_close`)."""
    page.get_by_role("button", name="为此卡续费").click()
    expect(page.get_by_text("本次办理长租卡可使用时长")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("2022.06.01至2023.05.31本次办理长租卡可使用时长")
    page.get_by_label("校园一卡通").set_input_files(str(photo))
    expect(page.get_by_role("img", name="校园一卡通照片预览")).to_be_visible()
    expect(page.get_by_role("region", name="知情同意书")).to_contain_text("通过审核后则无法再次申请")
    page.get_by_role("checkbox", name=re.compile("同意")).check()
    if shots:
        shot(page, f"{shots}-10-renew")
    page.get_by_role("button", name="支付 ¥360.00").click()
    sheet = page.get_by_role("dialog", name="微信支付")
    expect(sheet).to_contain_text("¥360.00")
    expect(sheet).to_contain_text("2022.06.01至2023.05.31")
    if shots:
        shot(page, f"{shots}-13-pay")
    if first_close:
        sheet.get_by_role("button", name="取消").click()
        unpaid = page.get_by_role("button", name=re.compile("^缴费订单.*待支付"))
        expect(unpaid).to_be_visible()
        unpaid.click()
        expect(page.get_by_text("待支付", exact=True)).to_be_visible()
        page.get_by_role("button", name="继续支付 ¥360.00").click()
    sheet.get_by_role("button", name="确认支付").click()


def sign_in_reviewer(pages, shots=None):
    console = pages.console()
    console.get_by_label("令牌").fill(REVIEWER)
    if shots:
        shot(console, f"{shots}-signin")
    console.get_by_role("button", name="登录").click()
    expect(console.get_by_role("button", name="退出")).to_be_visible()
    return console


def test_approve_path(pages, desk, photo):
    permit = desk.card("京A66666", "13912345678")
    # The desk registers a second vehicle for the tail-number restriction days.
    status, body = call("POST", f"/api/v1/admin/permits/{permit}/second-vehicle", ADMIN,
                        {"plate": "京C88888"})
    assert status == 200, body
    owner = pages.owner(desk.lot_id)
    sign_in_owner(owner, "13912345678", "京ａ ６６６６６", shots="approve")
    card = owner.get_by_role("article", name="京A66666")
    expect(card).to_contain_text("在此车场已办理长租")
    expect(card).to_contain_text("有效期：2021.06.01至2022.05.31")
    expect(card).to_contain_text("已生效")
    expect(card).to_contain_text("限行日备案第二辆车 京C88888")
    shot(owner, "approve-09-card")
    renew_and_pay(owner, photo, shots="approve", first_close=True)
    expect(card).to_contain_text("审核中")
    expect(card).to_contain_text("预计一个工作日")
    shot(owner, "approve-15-under-review")

    console = sign_in_reviewer(pages, shots="review")
    queue = console.get_by_role("region", name="待审核")
    row = queue.get_by_role("row").filter(has_text="京A66666")
    expect(row).to_contain_text("王老师")
    expect(row).to_contain_text("139****5678")
    expect(row).to_contain_text("2022.06.01至2023.05.31")
    detail = console.get_by_role("region", name="续费详情")
    expect(detail).to_contain_text("13912345678")
    expect(detail).to_contain_text("¥360.00")
    expect(detail).to_contain_text("提交续费")
    expect(detail).to_contain_text("限行日第二辆车京C88888")
    expect(detail).to_contain_text("备案第二辆车")
    picture = detail.get_by_role("img", name="校园一卡通照片")
    expect(picture).to_have_attribute("src", re.compile("^blob:"))
    console.wait_for_function("document.querySelector('.photo').naturalWidth === 320")
    picture.click()
    expect(picture).to_have_class(re.compile("zoomed"))
    shot(console, "review-renewal-zoomed")
    console.keyboard.press("z")
    expect(picture).not_to_have_class(re.compile("zoomed"))
    detail.get_by_role("button", name="通过").click()
    expect(queue.get_by_role("row").filter(has_text="京A66666")).to_have_count(0)
    expect(detail).to_contain_text("队列中没有待审核的续费")

    expect(card).to_contain_text("有效期：2022.06.01至2023.05.31")
    expect(card).to_contain_text("已生效")
    expect(card).to_contain_text("审核通过")
    shot(owner, "approve-17-approved")

    # Renewing again: both seasons are covered now, and the owner is told so in words.
    owner.get_by_role("button", name="为此卡续费").click()
    expect(owner.get_by_role("main")).to_contain_text("本期和下期均已办理")
    owner.get_by_label("校园一卡通").set_input_files(str(photo))
    owner.get_by_role("checkbox", name=re.compile("同意")).check()
    owner.get_by_role("button", name="支付 ¥360.00").click()
    expect(owner.get_by_role("alert")).to_have_text("本期和下期的长租都已办理，无需续费")
    console.get_by_role("button", name="退出").click()
    expect(console.get_by_label("令牌")).to_be_visible()


def test_rejection_path(pages, desk, photo):
    desk.card("京B12345", "13800138000", holder="李老师")
    # The console is open before the owner pays: the renewal appears without a reload.
    console = sign_in_reviewer(pages)
    detail = console.get_by_role("region", name="续费详情")
    expect(detail).to_contain_text("队列中没有待审核的续费")
    owner = pages.owner(desk.lot_id)
    sign_in_owner(owner, "13800138000", "京b12345")
    renew_and_pay(owner, photo)
    card = owner.get_by_role("article", name="京B12345")
    expect(card).to_contain_text("审核中")
    expect(detail).to_contain_text("京B12345", timeout=10000)
    expect(detail).to_contain_text("13800138000")
    # By keyboard: R asks for the reason, 1 picks the first usual one.
    console.keyboard.press("r")
    expect(console.get_by_label("拒绝原因")).to_be_focused()
    console.get_by_role("button", name="校园一卡通照片不清晰").click()
    expect(console.get_by_label("拒绝原因")).to_have_value("校园一卡通照片不清晰")
    shot(console, "review-reject")
    console.get_by_role("button", name="确认拒绝").click()
    expect(console.get_by_role("region", name="待审核").get_by_role("row").filter(has_text="京B12345")).to_have_count(0)

    failed = card.get_by_role("button", name=re.compile("^缴费订单.*审核失败"))
    expect(failed).to_be_visible()
    shot(owner, "reject-02-failed")
    # A new renewal before the refund is refused in words.
    owner.get_by_role("button", name="为此卡续费").click()
    expect(owner.get_by_role("alert")).to_contain_text("请先在缴费订单中申请退款")
    owner.get_by_label("校园一卡通").set_input_files(str(photo))
    owner.get_by_role("checkbox", name=re.compile("同意")).check()
    owner.get_by_role("button", name="支付 ¥360.00").click()
    expect(owner.get_by_role("alert")).to_have_text("上次续费未通过审核，请先在缴费订单中申请退款，退款后再续费")
    owner.get_by_role("button", name="返回").click()

    card.get_by_role("button", name=re.compile("^缴费订单.*审核失败")).click()
    expect(owner.get_by_text("校园一卡通照片不清晰")).to_be_visible()
    expect(owner.get_by_text("审核失败", exact=True)).to_be_visible()
    shot(owner, "reject-03-reason")
    owner.get_by_role("button", name="申请退款").click()
    shot(owner, "reject-04-refund")
    owner.get_by_role("button", name="确认退款").click()
    submitted = owner.get_by_role("dialog", name="退款申请已提交")
    expect(submitted).to_contain_text("退款申请已提交")
    shot(owner, "reject-06-submitted")
    submitted.get_by_role("button", name="我知道了").click()
    orders = card.get_by_role("list")
    expect(orders).to_contain_text("已退款", timeout=15000)
    expect(card).to_contain_text("有效期：2021.06.01至2022.05.31")
    shot(owner, "reject-07-refunded")

    # The admin's console: no problem left, and the day's money in and back at this lot.
    admin = pages.console()
    admin.get_by_label("令牌").fill(ADMIN)
    admin.get_by_role("button", name="登录").click()
    expect(admin.get_by_role("region", name="退款异常")).to_contain_text("没有退款异常")
    expect(admin.get_by_role("region", name="待审核")).to_have_count(0)
    takings = admin.get_by_role("region", name="每日收款")
    takings.get_by_label("停车场", exact=True).fill(desk.lot_id)
    takings.get_by_label("从", exact=True).fill("2022-05-20")
    takings.get_by_label("到", exact=True).fill("2022-05-20")
    takings.get_by_role("button", name="查询").click()
    total = takings.get_by_role("row").filter(has_text="合计")
    expect(total).to_have_text(re.compile("合计¥360.001¥360.001¥0.00"))
    shot(admin, "admin-takings")
    takings.get_by_label("停车场", exact=True).fill("不是编号")
    takings.get_by_role("button", name="查询").click()
    expect(takings.get_by_role("alert")).to_have_text("输入的内容格式不正确，请检查后重试")


def test_refusals_are_words(pages, desk, photo):
    desk.card("京C88888", "13700137000")
    owner = pages.owner(desk.lot_id)
    sent = []
    owner.on("request", lambda r: "/api/v1/" in r.url and sent.append(r.url))
    expect(owner.get_by_role("link", name=re.compile("客服电话"))).to_have_attribute("href", "tel:010-82805604")
    owner.get_by_role("button", name=re.compile("请确认车主手机号")).click()
    # A bad phone is refused before anything is sent.
    owner.get_by_label("手机号").fill("1391234")
    owner.get_by_role("button", name="获取验证码").click()
    expect(owner.get_by_role("alert")).to_have_text("请输入正确的11位手机号")
    assert not [u for u in sent if "/codes" in u]
    owner.get_by_label("手机号").fill("137 0013 7000")
    owner.get_by_role("button", name="获取验证码").click()
    expect(owner.get_by_role("button", name=re.compile(r"^\d+秒$"))).to_be_visible()
    # A wrong code.
    owner.get_by_label("短信验证码").fill("000000" if last_code("13700137000") != "000000" else "111111")
    owner.get_by_role("button", name="提交").click()
    expect(owner.get_by_role("alert")).to_have_text("验证码错误或已过期，请重新获取")
    # Asking again within the minute (after a reload forgot the countdown): the service's
    # refusal, with its countdown.
    owner.reload()
    owner.get_by_role("button", name=re.compile("请确认车主手机号")).click()
    owner.get_by_label("手机号").fill("13700137000")
    owner.get_by_role("button", name="获取验证码").click()
    expect(owner.get_by_role("alert")).to_have_text(re.compile(r"^验证码已发送，请\d+秒后再获取$"))
    expect(owner.get_by_role("button", name=re.compile(r"^\d+秒$"))).to_be_disabled()
    owner.get_by_label("短信验证码").fill(last_code("13700137000"))
    owner.get_by_role("button", name="提交").click()
    # A bad plate is refused before anything is sent.
    owner.get_by_role("button", name=re.compile("请选择办理车辆")).click()
    owner.get_by_label("车牌号").fill("ABC123")
    owner.get_by_role("button", name="确认").click()
    expect(owner.get_by_role("alert")).to_have_text("车牌号格式不正确，请检查后重新输入")
    assert not [u for u in sent if "/vehicles" in u]
    # A plate not on this phone's card.
    owner.get_by_label("车牌号").fill("京D12345")
    owner.get_by_role("button", name="确认").click()
    owner.get_by_role("button", name="开始办理").click()
    expect(owner.get_by_role("alert")).to_have_text("此手机号在本车场名下没有这辆车的长租卡")
    shot(owner, "refusal-no-permit")
    # An unpaid order can be cancelled; the card is free to renew again.
    owner.get_by_role("button", name=re.compile("请选择办理车辆")).click()
    owner.get_by_label("车牌号").fill("京C88888")
    owner.get_by_role("button", name="确认").click()
    owner.get_by_role("button", name="开始办理").click()
    owner.get_by_role("button", name="为此卡续费").click()
    owner.get_by_label("校园一卡通").set_input_files(str(photo))
    owner.get_by_role("checkbox", name=re.compile("同意")).check()
    owner.get_by_role("button", name="支付 ¥360.00").click()
    owner.get_by_role("dialog", name="微信支付").get_by_role("button", name="取消").click()
    owner.get_by_role("button", name=re.compile("^缴费订单.*待支付")).click()
    owner.get_by_role("button", name="取消订单").click()
    expect(owner.get_by_role("article", name="京C88888").get_by_role("list")).to_contain_text("已取消")
    for text in owner.get_by_role("alert").all_inner_texts():
        assert "{" not in text

    console = pages.console()
    console.get_by_label("令牌").fill("plt_not_a_token")
    console.get_by_role("button", name="登录").click()
    expect(console.get_by_role("alert")).to_have_text("令牌无效或已过期，请向管理员索取新令牌")


def test_page_headers_and_unknown_paths(pages):
    page = pages.open(375, 740, "/review")
    response = page.request.get(page.url)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    missing = page.request.get(page.url.replace("/review", "/api/v1/no/such/route"))
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_locked_phone_is_told_until_midnight(pages, desk):
    """Ten codes a business day: the eleventh is refused until midnight, in words. The sandbox
    clock moves a minute on between asks (it stays on the same business day)."""
    desk.card("京E55555", "13600136000")
    owner = pages.owner(desk.lot_id)
    owner.get_by_role("button", name=re.compile("请确认车主手机号")).click()
    owner.get_by_label("手机号").fill("13600136000")
    for _ in range(10):
        status, body = call("POST", f"/api/v1/lots/{desk.lot_id}/codes", body={"phone": "13600136000"})
        assert status == 202, body
        status, now = call("GET", "/sandbox/clock")
        later = now["now"][:11] + step_minute(now["now"][11:19]) + "Z"
        assert call("POST", "/sandbox/clock", body={"now": later})[0] == 200
    owner.get_by_role("button", name="获取验证码").click()
    expect(owner.get_by_role("alert")).to_have_text("今天获取验证码的次数已用完，此手机号已锁定至今晚24点，请明天再试")
    shot(owner, "refusal-phone-locked")


def step_minute(hms):
    h, m, s = (int(x) for x in hms.split(":"))
    total = h * 3600 + m * 60 + s + 61
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"


def test_in_wechat_the_page_pays_through_weixin_js_bridge(pages, desk, photo):
    """Production's page path, on the sandbox service: the OAuth redirect's code goes with the
    session request and leaves the address; the renewal's answer carries `payment.jsapi` (added
    here, as production's service adds it); the page hands it to
    WeixinJSBridge.invoke('getBrandWCPayRequest', …) and, on success, asks
    `POST …/payment/check`. The stand-in bridge pays the order through the sandbox provider."""
    desk.card("京F66666", "13500135000")
    jsapi = {"appId": "wx8888888888888888", "timeStamp": "1653012000", "nonceStr": "n0nce",
             "package": "prepay_id=wx201410272009395522657a690389285100", "signType": "RSA",
             "paySign": "c2lnbmVk"}
    owner = pages.open(375, 740, f"/lots/{desk.lot_id}?code=0a1B2c3D4e5F", mobile=True)
    expect(owner.get_by_role("heading", name="北京大学医学部")).to_be_visible()
    assert "code=" not in owner.url
    # Production's service adds `payment.jsapi` to the renewal's answer: so does this wrapper.
    owner.evaluate("""jsapi => { const real = window.fetch; window.fetch = async (url, init) => {
        const r = await real(url, init);
        if (!(init && init.method === 'POST' && /\\/renewals$/.test(url) && r.ok)) return r;
        const body = await r.json();
        window.standInOrder = body.payment.order_id;
        body.payment.jsapi = jsapi;
        return new Response(JSON.stringify(body), { status: r.status, headers: r.headers }); }; }""", jsapi)
    invoked = []

    def pay(name, args):
        invoked.append((name, args))
        order = owner.evaluate("window.standInOrder")
        status, body = call("POST", f"/sandbox/payments/{order}/pay")
        assert status == 200, body
        return {"err_msg": "get_brand_wcpay_request:ok"}

    owner.expose_function("standInPay", pay)
    owner.evaluate("""() => { window.WeixinJSBridge = { invoke(name, args, done) {
        window.standInPay(name, args).then(done); } }; }""")
    sessions, checks = [], []
    owner.on("request", lambda r: "/sessions" in r.url and sessions.append(r.post_data_json))
    owner.on("request", lambda r: r.url.endswith("/payment/check") and checks.append(r.method))
    sign_in_owner(owner, "13500135000", "京F66666")
    assert sessions and sessions[0]["wechat_code"] == "0a1B2c3D4e5F", sessions
    owner.get_by_role("button", name="为此卡续费").click()
    owner.get_by_label("校园一卡通").set_input_files(str(photo))
    owner.get_by_role("checkbox", name=re.compile("同意")).check()
    owner.get_by_role("button", name="支付 ¥360.00").click()
    card = owner.get_by_role("article", name="京F66666")
    expect(card).to_contain_text("审核中")
    assert invoked == [("getBrandWCPayRequest", jsapi)], invoked
    assert checks == ["POST"], checks
    expect(owner.get_by_role("dialog", name="微信支付")).to_have_count(0)
