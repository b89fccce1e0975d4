// The owner's page (ui.md, manual steps 4–17 and the rejection path).
import { api, el, yuan, dots, period, sleep } from './api.js';
import { words } from './messages.js';
import { parsePlate, parsePhone } from './plate.js';

const lotId = decodeURIComponent(location.pathname.split('/')[2] || '');
const app = document.getElementById('app');
const KEY = `owner:${lotId}`;
const state = { lot: null, permits: [], poll: null, ...JSON.parse(sessionStorage.getItem(KEY) || '{}') };

function save() {
  const { token, phone, plate, wechatCode } = state;
  sessionStorage.setItem(KEY, JSON.stringify({ token, phone, plate, wechatCode }));
}

// The official account's OAuth redirect brings `code` (or `wechat_code`): keep it, drop it from the URL.
const query = new URLSearchParams(location.search);
const oauth = query.get('wechat_code') || query.get('code');
if (oauth) {
  state.wechatCode = oauth;
  save();
  history.replaceState(null, '', location.pathname);
}

const CARD_STATUS = { active: '已生效', expired: '已过期', not_yet_valid: '未生效' };
const RENEWAL_STATUS = {
  awaiting_payment: '待支付',
  under_review: '审核中',
  approved: '审核通过',
  rejected: '审核失败',
  refund_requested: '退款中',
  refunded: '已退款',
  refund_failed: '退款未成功，停车办公室处理中',
  expired_unpaid: '已关闭',
  cancelled: '已取消',
};
const PENDING = ['under_review', 'refund_requested'];

const alertBox = () => el('p', { class: 'alert', role: 'alert', hidden: true });
function say(box, err) {
  box.textContent = typeof err === 'string' ? err : words(err);
  box.hidden = false;
}

function show(...nodes) {
  clearTimeout(state.poll);
  app.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
}

async function signedOut(err) {
  if (err.code === 'invalid_token' || err.code === 'unauthenticated') {
    state.token = null;
    save();
    home('登录已过期，请重新确认车主手机号');
    return true;
  }
  return false;
}

// Step 4: the lot, the phone to confirm, the vehicle to choose, start.
function home(notice) {
  const box = alertBox();
  if (notice) say(box, notice);
  const masked = state.phone ? state.phone.replace(/^(\d{3})\d{4}(\d{4})$/, '$1****$2') : null;
  show(
    el('p', { class: 'muted' }, '您还没有办理过长租业务，填写以下信息后，将会为您找到最适合的办理长租方式。'),
    el('section', { class: 'rows' },
      el('div', { class: 'row' }, el('strong', {}, state.lot.name), el('span', { class: 'muted' }, '将会根据选择的停车场为您匹配办理')),
      el('button', { class: 'row link', type: 'button', onclick: phoneStep },
        el('span', {}, '请确认车主手机号'),
        el('span', { class: 'muted' }, state.token ? `已确认 ${masked}` : '停车场办理长租时以此信息为准')),
      el('button', { class: 'row link', type: 'button', onclick: () => (state.token ? plateStep() : say(box, '请先确认车主手机号')) },
        el('span', {}, '请选择办理车辆'),
        el('span', { class: 'muted' }, state.plate || '将为您推荐所选车场适合您的长租卡'))),
    box,
    el('button', { class: 'primary', type: 'button', onclick: () => start(box) }, '开始办理'),
  );
}

// Step 5: phone, code with its countdown, submit.
function phoneStep() {
  const box = alertBox();
  const phone = el('input', { id: 'phone', type: 'tel', inputmode: 'numeric', autocomplete: 'tel', value: state.phone || '' });
  const code = el('input', { id: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6 });
  const send = el('button', { type: 'button', class: 'secondary' }, '获取验证码');
  let timer = null;
  const countdown = (s) => {
    clearInterval(timer);
    let left = s;
    send.disabled = true;
    send.textContent = `${left}秒`;
    timer = setInterval(() => {
      left -= 1;
      if (left <= 0 || !send.isConnected) {
        clearInterval(timer);
        send.disabled = false;
        send.textContent = '获取验证码';
      } else send.textContent = `${left}秒`;
    }, 1000);
  };
  send.addEventListener('click', async () => {
    box.hidden = true;
    const p = parsePhone(phone.value);
    if (!p) return say(box, '请输入正确的11位手机号');
    try {
      const r = await api('POST', `/api/v1/lots/${lotId}/codes`, { body: { phone: p } });
      countdown(r.resend_after_s);
      code.focus();
    } catch (e) {
      if (e.code === 'resend_too_soon') countdown(e.retryAfter || 60);
      say(box, e);
    }
  });
  const submit = async (ev) => {
    ev.preventDefault();
    box.hidden = true;
    const p = parsePhone(phone.value);
    if (!p) return say(box, '请输入正确的11位手机号');
    if (!/^\d{6}$/.test(code.value.trim())) return say(box, '请输入6位短信验证码');
    const body = { phone: p, code: code.value.trim() };
    if (state.wechatCode) body.wechat_code = state.wechatCode;
    try {
      const r = await api('POST', `/api/v1/lots/${lotId}/sessions`, { body });
      Object.assign(state, { token: r.token, phone: p, wechatCode: null });
      save();
      home();
    } catch (e) {
      say(box, e);
    }
  };
  show(
    el('h2', {}, '车主手机号'),
    el('form', { class: 'form', onsubmit: submit, novalidate: true },
      el('label', { for: 'phone' }, '手机号'), phone,
      el('label', { for: 'code' }, '短信验证码'),
      el('div', { class: 'inline' }, code, send),
      box,
      el('button', { class: 'primary', type: 'submit' }, '提交')),
  );
  phone.focus();
}

// Steps 6–7: the plate, checked here before it is sent.
function plateStep() {
  const box = alertBox();
  const plate = el('input', { id: 'plate', autocomplete: 'off', value: state.plate || '', placeholder: '如 京A66666' });
  const confirm = (ev) => {
    ev.preventDefault();
    const p = parsePlate(plate.value);
    if (!p) return say(box, '车牌号格式不正确，请检查后重新输入');
    state.plate = p;
    save();
    home();
  };
  show(
    el('h2', {}, '请选择办理车辆'),
    el('form', { class: 'form', onsubmit: confirm, novalidate: true },
      el('label', { for: 'plate' }, '车牌号'), plate, box,
      el('button', { class: 'primary', type: 'submit' }, '确认')),
  );
  plate.focus();
}

// Step 8: the cards of the phone that carry the plate.
async function start(box) {
  if (!state.token) return say(box, '请先确认车主手机号');
  if (!state.plate) return say(box, '请选择办理车辆');
  try {
    const r = await api('POST', '/api/v1/vehicles', { token: state.token, body: { plate: state.plate } });
    state.permits = r.permits;
    cards();
  } catch (e) {
    if (!(await signedOut(e))) say(box, e);
  }
}

async function reload() {
  const r = await api('GET', '/api/v1/permits', { token: state.token });
  state.permits = r.permits.filter((p) => p.plate === state.plate);
}

const latest = (p) => p.renewals[p.renewals.length - 1];

// Steps 9 and 17, rejection 2–3: each card, its validity and status, its orders.
function cards() {
  const nodes = state.permits.map((p) => {
    const last = latest(p);
    const orders = [...p.renewals].reverse();
    return el('article', { class: 'card', 'aria-label': p.plate },
      el('h2', {}, p.plate, ' ', el('small', {}, '在此车场已办理长租')),
      el('p', { class: 'validity' },
        el('span', {}, `有效期：${dots(p.valid_from)}至${dots(p.valid_to)}`),
        el('span', { class: `badge ${p.status}` }, CARD_STATUS[p.status] || p.status)),
      el('p', {}, p.lot_name), el('p', {}, p.product_name), el('p', {}, `持卡人 ${p.holder_name} ${p.phone_masked}`),
      p.second_plate ? el('p', {}, `限行日备案第二辆车 ${p.second_plate}`) : null,
      last && last.status === 'under_review'
        ? el('div', { class: 'notice' }, el('strong', {}, '审核中'), el('span', {}, `${period(last.period)}：已支付，等待停车办公室审核，预计一个工作日`))
        : null,
      last && last.status === 'awaiting_payment'
        ? el('button', { class: 'row link failed', type: 'button', onclick: () => order(p, last) },
          el('span', {}, '缴费订单 微信支付'), el('span', {}, '待支付'))
        : null,
      last && last.status === 'rejected'
        ? el('button', { class: 'row link failed', type: 'button', onclick: () => order(p, last) },
          el('span', {}, '缴费订单 微信支付'), el('span', {}, '审核失败'))
        : null,
      el('h3', {}, '订单记录'),
      orders.length
        ? el('ul', { class: 'orders' }, orders.map((r) => el('li', {},
          el('button', { class: 'row link', type: 'button', onclick: () => order(p, r) },
            el('span', {}, `${period(r.period)} ${yuan(r.amount_fen)}`),
            el('span', { class: `state ${r.status}` }, RENEWAL_STATUS[r.status] || r.status)))))
        : el('p', { class: 'muted' }, '暂无订单'),
      el('button', { class: 'primary', type: 'button', onclick: () => renew(p) }, '为此卡续费'));
  });
  show(...(nodes.length ? nodes : [el('p', { class: 'muted' }, '没有找到长租卡')]),
    el('button', { class: 'secondary', type: 'button', onclick: () => home() }, '返回'));
  if (state.permits.some((p) => p.renewals.some((r) => PENDING.includes(r.status)))) {
    state.poll = setTimeout(async () => {
      try {
        await reload();
        cards();
      } catch (e) {
        if (!(await signedOut(e))) state.poll = setTimeout(cards, 3000);
      }
    }, 2000);
  }
}

// Steps 10–12: what is bought, the campus-card photo, the consent, pay.
function renew(p) {
  const box = alertBox();
  const last = latest(p);
  if (last && last.status === 'rejected') say(box, { code: 'refund_required' });
  const lot = state.lot;
  const photo = el('input', { id: 'photo', type: 'file', accept: 'image/jpeg,image/png', capture: 'environment' });
  const preview = el('img', { class: 'preview', alt: '校园一卡通照片预览', hidden: true });
  photo.addEventListener('change', () => {
    const f = photo.files[0];
    if (!f) return;
    if (f.size > 5 * 1024 * 1024) {
      photo.value = '';
      return say(box, { code: 'too_large' });
    }
    preview.src = URL.createObjectURL(f);
    preview.hidden = false;
  });
  const agree = el('input', { id: 'agree', type: 'checkbox' });
  const pay = el('button', { class: 'primary', type: 'button' }, `支付 ${yuan(lot.product.price_fen)}`);
  pay.addEventListener('click', async () => {
    box.hidden = true;
    if (!photo.files[0]) return say(box, '请上传校园一卡通照片');
    if (!agree.checked) return say(box, '请阅读并同意知情同意书');
    const form = new FormData();
    form.append('consent_version', lot.consent.version);
    form.append('photo', photo.files[0]);
    pay.disabled = true;
    try {
      const r = await api('POST', `/api/v1/permits/${p.permit_id}/renewals`, { token: state.token, body: form, key: crypto.randomUUID() });
      sessionStorage.setItem(`pay:${r.renewal_id}`, JSON.stringify(r));
      await payFor(p, r);
    } catch (e) {
      if (!(await signedOut(e))) say(box, e);
    } finally {
      pay.disabled = false;
    }
  });
  show(
    el('section', { class: 'rows' },
      el('div', { class: 'row' }, el('strong', {}, lot.product.name), el('span', { class: 'muted' }, '本次办理长租产品名')),
      el('div', { class: 'row' }, el('span', {}, p.period_on_sale ? period(p.period_on_sale) : '本期和下期均已办理'), el('span', { class: 'muted' }, '本次办理长租卡可使用时长')),
      el('div', { class: 'row' }, el('span', {}, `${p.phone_masked} ${p.holder_name} ${p.plate}`))),
    el('h3', {}, '附加信息'),
    el('label', { for: 'photo', class: 'required' }, '校园一卡通'), photo, preview,
    el('section', { class: 'consent', 'aria-label': '知情同意书' },
      el('h3', {}, `${lot.name}线上办证知情同意书`),
      ...lot.consent.text.split('\n').map((line) => el('p', {}, line))),
    el('label', { class: 'check' }, agree, `我已阅读并同意《${lot.name}线上办证知情同意书》`),
    box, pay,
    el('button', { class: 'secondary', type: 'button', onclick: cards }, '返回'),
  );
}

// Steps 13–14: WeChat's pay sheet in production; its stand-in in sandbox mode.
async function payFor(p, r) {
  const jsapi = r.payment && r.payment.jsapi;
  if (jsapi) {
    if (!window.WeixinJSBridge) throw { code: 'x', message: '请在微信中打开本页面完成支付' };
    const res = await new Promise((resolve) => window.WeixinJSBridge.invoke('getBrandWCPayRequest', jsapi, resolve));
    if (!res || res.err_msg !== 'get_brand_wcpay_request:ok') {
      throw { code: 'x', message: '支付未完成，可在订单记录中查看' };
    }
    await api('POST', `/api/v1/renewals/${r.renewal_id}/payment/check`, { token: state.token });
    return afterPay(r.renewal_id);
  }
  sandboxSheet(p, r);
}

function sandboxSheet(p, r) {
  const box = alertBox();
  const confirm = el('button', { class: 'primary', type: 'button' }, '确认支付');
  const sheet = el('div', { class: 'sheet', role: 'dialog', 'aria-modal': 'true', 'aria-label': '微信支付' },
    el('p', { class: 'muted' }, '微信支付（沙箱）'),
    el('p', {}, `${state.lot.product.name} ${p.plate}`),
    el('p', {}, period(r.period)),
    el('p', { class: 'amount' }, yuan(r.amount_fen)),
    box, confirm,
    el('button', { class: 'secondary', type: 'button', onclick: async () => { sheet.remove(); await reload(); cards(); } }, '取消'));
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    try {
      await api('POST', `/sandbox/payments/${r.payment.order_id}/pay`);
      sheet.remove();
      await afterPay(r.renewal_id);
    } catch (e) {
      confirm.disabled = false;
      say(box, e);
    }
  });
  app.append(sheet);
  confirm.focus();
}

// Step 15: the payment reaches the ledger a moment later; then the card shows 审核中.
async function afterPay(renewalId) {
  for (let i = 0; i < 20; i += 1) {
    const r = await api('GET', `/api/v1/renewals/${renewalId}`, { token: state.token });
    if (r.status !== 'awaiting_payment') break;
    await sleep(500);
  }
  await reload();
  cards();
}

// Rejection 3–7: the order, its reason, the refund.
function order(p, r) {
  const box = alertBox();
  const refund = el('button', { class: 'primary', type: 'button' }, '申请退款');
  refund.addEventListener('click', () => {
    const ok = el('button', { class: 'primary', type: 'button' }, '确认退款');
    const dialog = el('div', { class: 'sheet', role: 'dialog', 'aria-modal': 'true', 'aria-label': '申请退款' },
      el('p', {}, `退款金额 ${yuan(r.amount_fen)}，将原路退回微信支付账户`), ok,
      el('button', { class: 'secondary', type: 'button', onclick: () => dialog.remove() }, '取消'));
    ok.addEventListener('click', async () => {
      ok.disabled = true;
      try {
        await api('POST', `/api/v1/renewals/${r.renewal_id}/refund`, { token: state.token, key: crypto.randomUUID() });
        dialog.replaceChildren(el('p', {}, el('strong', {}, '退款申请已提交')),
          el('p', { class: 'muted' }, '退款将原路退回，到账后会收到短信'),
          el('button', { class: 'primary', type: 'button', onclick: async () => { await reload(); cards(); } }, '我知道了'));
        dialog.setAttribute('aria-label', '退款申请已提交');
      } catch (e) {
        dialog.remove();
        if (!(await signedOut(e))) say(box, e);
      }
    });
    app.append(dialog);
    ok.focus();
  });
  show(
    el('h2', {}, '缴费订单'),
    el('section', { class: 'rows' },
      el('div', { class: 'row' }, el('span', {}, '订单状态'), el('strong', { class: `state ${r.status}` }, RENEWAL_STATUS[r.status] || r.status)),
      r.reject_reason ? el('div', { class: 'row' }, el('span', {}, '原因'), el('span', { class: 'reason' }, r.reject_reason)) : null,
      el('div', { class: 'row' }, el('span', {}, '车辆'), el('span', {}, p.plate)),
      el('div', { class: 'row' }, el('span', {}, '有效期'), el('span', {}, period(r.period))),
      el('div', { class: 'row' }, el('span', {}, '金额'), el('span', {}, yuan(r.amount_fen))),
      el('div', { class: 'row' }, el('span', {}, '支付方式'), el('span', {}, r.channel === 'wechat_pay' ? '微信支付' : '线下办理'))),
    r.status === 'rejected' ? el('p', { class: 'muted' }, '审核未通过。如需重新续费，请先申请退款后再续费。') : null,
    box,
    r.status === 'rejected' || r.status === 'refund_failed' ? refund : null,
    r.status === 'awaiting_payment' ? unpaid(p, r, box) : null,
    el('button', { class: 'secondary', type: 'button', onclick: cards }, '返回'),
  );
}

// An order not paid yet: pay it (with the submission's payment, kept for this tab) or cancel it.
function unpaid(p, r, box) {
  const kept = JSON.parse(sessionStorage.getItem(`pay:${r.renewal_id}`) || 'null');
  const cancel = el('button', { class: 'secondary', type: 'button' }, '取消订单');
  cancel.addEventListener('click', async () => {
    try {
      await api('POST', `/api/v1/renewals/${r.renewal_id}/cancel`, { token: state.token, key: crypto.randomUUID() });
      await reload();
      cards();
    } catch (e) {
      if (!(await signedOut(e))) say(box, e);
    }
  });
  const pay = el('button', { class: 'primary', type: 'button' }, `继续支付 ${yuan(r.amount_fen)}`);
  pay.addEventListener('click', async () => {
    try {
      await payFor(p, kept);
    } catch (e) {
      say(box, e);
    }
  });
  return el('div', {}, el('p', { class: 'muted' }, `请在 ${new Date(r.pay_by).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false })} 前完成支付，逾期订单自动关闭`),
    kept ? pay : el('p', { class: 'muted' }, '如需重新支付，请取消订单后重新办理'), cancel);
}

async function main() {
  try {
    state.lot = await api('GET', `/api/v1/lots/${lotId}`);
  } catch (e) {
    show(el('p', { class: 'alert', role: 'alert' }, words(e)));
    return;
  }
  document.getElementById('title').textContent = state.lot.name;
  document.title = `${state.lot.name} 长租办理`;
  const hotline = document.getElementById('hotline');
  if (state.lot.service_phone) {
    hotline.href = `tel:${state.lot.service_phone}`;
    hotline.textContent = `客服电话 ${state.lot.service_phone}`;
    hotline.hidden = false;
  }
  if (state.token && state.plate) {
    try {
      await reload();
      return cards();
    } catch (e) {
      if (await signedOut(e)) return;
    }
  }
  home();
}

main();
