// The reviewer's console (ui.md): sign in, the queue, a renewal, approve or reject; admins'
// payment problems and daily takings.
import { api, el, yuan, period, imageUrl } from './api.js';
import { words } from './messages.js';
import { normalisePlate } from './plate.js';

const app = document.getElementById('app');
const logoutButton = document.getElementById('logout');
const state = {
  token: sessionStorage.getItem('staff-token'),
  reviewer: false,
  admin: false,
  queue: [],
  filter: '',
  current: null,
  photoUrl: null,
  timer: null,
  lots: new Set(),
};
const REASONS = ['校园一卡通照片不清晰', '持卡人不是在职职工', '照片与持卡人信息不符', '车牌号与登记信息不符'];
const EVENT_WORDS = {
  PermitIssued: '办理车证', HolderChanged: '变更持卡人', VehicleUnbound: '解绑车辆', VehicleBound: '绑定车辆',
  SecondVehicleAdded: '备案第二辆车', SecondVehicleRemoved: '取消第二辆车', CardHidden: '车主移除此卡', CardShown: '车主添加此卡',
  VehicleChosen: '车主选择车辆', RenewalSubmitted: '提交续费', DeskRenewalPaid: '线下缴费', Paid: '已支付',
  StrayPaymentReceived: '收到多余付款', StrayPaymentRefunded: '多余付款已退回', StrayRefundFailed: '多余付款退回失败',
  Approved: '审核通过', Rejected: '审核拒绝', RefundRequested: '申请退款', Refunded: '已退款', RefundFailed: '退款失败',
  PaymentProblemRaised: '退款异常', PaymentProblemRetried: '重试退款', PaymentProblemResolved: '退款异常已处理',
  RenewalExpiredUnpaid: '超时未支付', RenewalCancelled: '取消续费',
};

const alertBox = () => el('p', { class: 'alert', role: 'alert', hidden: true });
function say(box, err) {
  box.textContent = typeof err === 'string' ? err : words(err);
  box.hidden = false;
}

function waited(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}小时${m}分` : `${m}分`;
}
const localTime = (t) => (t ? new Date(t).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '');

// Sign in: which of the roles the token has decides what the console shows.
function signIn(notice) {
  const box = alertBox();
  if (notice) say(box, notice);
  const token = el('input', { id: 'token', type: 'password', autocomplete: 'off' });
  const submit = async (ev) => {
    ev.preventDefault();
    box.hidden = true;
    const t = token.value.trim();
    if (!t) return say(box, '请输入令牌');
    try {
      await enter(t);
    } catch (e) {
      say(box, signInWords(e));
    }
  };
  logoutButton.hidden = true;
  document.getElementById('who').textContent = '';
  app.replaceChildren(el('form', { class: 'form signin', onsubmit: submit, novalidate: true },
    el('h2', {}, '登录'),
    el('label', { for: 'token' }, '令牌'), token, box,
    el('button', { class: 'primary', type: 'submit' }, '登录')));
  token.focus();
}

const signInWords = (e) => (e.code === 'invalid_token' ? '令牌无效或已过期，请向管理员索取新令牌' : words(e));

async function roleCheck(path, t) {
  try {
    return await api('GET', path, { token: t });
  } catch (e) {
    if (e.code === 'forbidden') return null;
    throw e;
  }
}

async function enter(t) {
  const queue = await roleCheck('/api/v1/review/queue', t);
  const problems = await roleCheck('/api/v1/admin/payments/problems', t);
  if (!queue && !problems) throw { code: 'x', message: '此令牌没有审核或管理权限' };
  sessionStorage.setItem('staff-token', t);
  Object.assign(state, { token: t, reviewer: !!queue, admin: !!problems, queue: queue ? queue.items : [] });
  document.getElementById('who').textContent = [state.reviewer && '审核员', state.admin && '管理员'].filter(Boolean).join('、');
  logoutButton.hidden = false;
  layout();
}

function logout() {
  clearInterval(state.timer);
  sessionStorage.removeItem('staff-token');
  Object.assign(state, { token: null, current: null, queue: [] });
  signIn();
}
logoutButton.addEventListener('click', logout);

async function guarded(fn, box) {
  try {
    return await fn();
  } catch (e) {
    if (e.code === 'invalid_token' || e.code === 'unauthenticated') return logout();
    if (box) say(box, e);
    return undefined;
  }
}

function layout() {
  const parts = [];
  if (state.reviewer) {
    const filter = el('input', { id: 'filter', autocomplete: 'off', value: state.filter, placeholder: '如 京A66666' });
    filter.addEventListener('input', () => {
      state.filter = normalisePlate(filter.value);
      renderQueue();
    });
    parts.push(el('section', { class: 'queue', 'aria-label': '待审核' },
      el('h2', {}, '待审核 ', el('span', { id: 'count', class: 'muted' })),
      el('label', { for: 'filter' }, '车牌号'), filter,
      el('table', {}, el('thead', {}, el('tr', {}, ['车牌号', '持卡人', '手机号', '有效期', '已等待'].map((h) => el('th', {}, h)))),
        el('tbody', { id: 'rows' }))),
    el('section', { id: 'detail', class: 'detail', 'aria-label': '续费详情' }, el('p', { class: 'muted' }, '队列中没有待审核的续费')));
    state.timer = setInterval(refreshQueue, 3000);
  }
  if (state.admin) parts.push(problemsSection(), takingsSection());
  app.replaceChildren(el('div', { class: state.reviewer ? 'grid' : '' }, parts));
  if (state.reviewer) {
    renderQueue();
    openNext();
  }
}

const visible = () => state.queue.filter((i) => !state.filter || i.plate.includes(state.filter));

async function refreshQueue() {
  const r = await guarded(() => api('GET', '/api/v1/review/queue', { token: state.token }));
  if (!r) return;
  state.queue = r.items;
  renderQueue();
  if (!state.current) openNext();
}

function renderQueue() {
  const rows = document.getElementById('rows');
  if (!rows) return;
  const items = visible();
  document.getElementById('count').textContent = `${items.length} 条`;
  rows.replaceChildren(...items.map((i) => el('tr', {
    class: state.current && state.current.renewal.renewal_id === i.renewal_id ? 'selected' : '',
    tabindex: 0,
    'data-id': i.renewal_id,
    onclick: () => open(i.renewal_id),
    onkeydown: (e) => e.key === 'Enter' && open(i.renewal_id),
  },
  el('td', {}, i.plate), el('td', {}, i.holder_name), el('td', {}, i.phone_masked), el('td', {}, period(i.period)),
  el('td', {}, `${waited(i.waited_s)} / 目标${Math.round(i.target_s / 3600)}小时 `, i.overdue ? el('span', { class: 'badge overdue' }, '超时') : null))));
}

function openNext() {
  const items = visible();
  if (items.length) return open(items[0].renewal_id);
  state.current = null;
  const detail = document.getElementById('detail');
  if (detail) detail.replaceChildren(el('p', { class: 'muted' }, '队列中没有待审核的续费'));
  return undefined;
}

function move(step) {
  const items = visible();
  if (!items.length) return;
  const at = items.findIndex((i) => state.current && i.renewal_id === state.current.renewal.renewal_id);
  const next = items[Math.min(items.length - 1, Math.max(0, at + step))];
  open(next.renewal_id);
}

async function open(id) {
  const detail = document.getElementById('detail');
  const box = alertBox();
  const r = await guarded(() => api('GET', `/api/v1/review/renewals/${id}`, { token: state.token }), box);
  if (!r) return detail.replaceChildren(box);
  state.current = r;
  state.lots.add(r.permit.lot_id);
  renderQueue();
  if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
  const photo = el('img', { class: 'photo', alt: '校园一卡通照片', title: '点击放大（Z）' });
  photo.addEventListener('click', () => photo.classList.toggle('zoomed'));
  imageUrl(`/api/v1/review/renewals/${id}/photo`, state.token).then((u) => {
    state.photoUrl = u;
    photo.src = u;
  }, (e) => say(box, e));
  const { renewal, permit, history } = r;
  const approve = el('button', { class: 'primary', type: 'button', onclick: () => decide('approve', box) }, '通过');
  const reject = el('button', { class: 'danger', type: 'button', onclick: () => rejectForm(box) }, '拒绝');
  detail.replaceChildren(
    el('h2', {}, permit.plate, ' ', el('small', {}, renewal.status === 'under_review' ? '待审核' : '已处理')),
    el('div', { class: 'split' },
      el('figure', {}, photo, el('figcaption', { class: 'muted' }, '校园一卡通（点击放大）')),
      el('dl', {},
        el('dt', {}, '持卡人'), el('dd', {}, permit.holder_name),
        el('dt', {}, '手机号'), el('dd', {}, permit.phone),
        el('dt', {}, '车牌号'), el('dd', {}, permit.plate),
        ...(permit.second_plate ? [el('dt', {}, '限行日第二辆车'), el('dd', {}, permit.second_plate)] : []),
        el('dt', {}, '续费有效期'), el('dd', {}, period(renewal.period)),
        el('dt', {}, '当前有效期'), el('dd', {}, period({ from: permit.valid_from, to: permit.valid_to })),
        el('dt', {}, '金额'), el('dd', {}, yuan(renewal.amount_fen)),
        el('dt', {}, '支付时间'), el('dd', {}, localTime(renewal.paid_at)))),
    box,
    el('div', { class: 'actions', id: 'actions' }, approve, reject),
    el('h3', {}, '此卡记录'),
    el('ol', { class: 'history' }, history.map((e) => el('li', {},
      el('span', { class: 'muted' }, localTime(e.recorded_at)), ' ', EVENT_WORDS[e.event_type] || e.event_type, reasonOf(e)))),
  );
}

function reasonOf(e) {
  const p = e.payload && e.payload[e.event_type];
  return p && p.reason ? `：${p.reason}` : '';
}

async function decide(kind, box, reason) {
  const id = state.current.renewal.renewal_id;
  const body = kind === 'reject' ? { reason } : undefined;
  const done = await guarded(() => api('POST', `/api/v1/review/renewals/${id}/${kind}`, { token: state.token, body }), box);
  if (!done) return;
  state.queue = state.queue.filter((i) => i.renewal_id !== id);
  state.current = null;
  renderQueue();
  openNext();
}

function rejectForm(box) {
  const actions = document.getElementById('actions');
  const reason = el('textarea', { id: 'reason', rows: 2, maxlength: 500 });
  const confirm = () => {
    if (!reason.value.trim()) return say(box, '请填写拒绝原因');
    return decide('reject', box, reason.value.trim());
  };
  reason.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.ctrlKey) confirm();
  });
  actions.replaceChildren(el('div', { class: 'form reject' },
    el('label', { for: 'reason' }, '拒绝原因'),
    el('div', { class: 'picks' }, REASONS.map((r, i) => el('button', { type: 'button', class: 'chip', 'data-pick': i + 1, onclick: () => { reason.value = r; reason.focus(); } }, r))),
    reason,
    el('div', { class: 'actions' },
      el('button', { class: 'danger', type: 'button', onclick: confirm }, '确认拒绝'),
      el('button', { class: 'secondary', type: 'button', onclick: () => open(state.current.renewal.renewal_id) }, '取消'))));
  reason.focus();
}

document.addEventListener('keydown', (e) => {
  if (!state.reviewer || !state.token) return;
  const typing = ['INPUT', 'TEXTAREA'].includes(document.activeElement.tagName);
  if (e.key === 'Escape') {
    if (document.getElementById('reason') && state.current) open(state.current.renewal.renewal_id);
    else document.activeElement.blur();
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) {
    return;
  }
  const k = e.key.toLowerCase();
  if (k === 'arrowdown' || k === 'j') move(1);
  else if (k === 'arrowup' || k === 'k') move(-1);
  else if (k === '/') {
    e.preventDefault();
    document.getElementById('filter').focus();
  } else if (k === 'z') document.querySelector('.photo')?.classList.toggle('zoomed');
  else if (!state.current) return;
  else if (k === 'a') document.querySelector('#actions .primary')?.click();
  else if (k === 'r') document.querySelector('#actions .danger')?.click();
  else if (/^[1-4]$/.test(k)) document.querySelector(`[data-pick="${k}"]`)?.click();
  else return;
  e.preventDefault();
});

// Admins: the refunds that went wrong, with retry and resolve.
function problemsSection() {
  const list = el('div', { id: 'problems' });
  const box = alertBox();
  const load = async () => {
    const r = await guarded(() => api('GET', '/api/v1/admin/payments/problems', { token: state.token }), box);
    if (!r) return;
    if (!r.items.length) return list.replaceChildren(el('p', { class: 'muted' }, '没有退款异常'));
    list.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, ['发现时间', '类型', '金额', '说明', '处理'].map((h) => el('th', {}, h)))),
      el('tbody', {}, r.items.map((p) => {
        const note = el('input', { 'aria-label': '处理说明', placeholder: '处理说明' });
        return el('tr', {},
          el('td', {}, localTime(p.since)), el('td', {}, p.kind), el('td', {}, yuan(p.amount_fen)), el('td', {}, p.detail),
          el('td', {},
            el('button', { type: 'button', class: 'secondary', onclick: async () => { if (await guarded(() => api('POST', `/api/v1/admin/payments/problems/${p.problem_id}/retry`, { token: state.token, key: crypto.randomUUID() }), box)) load(); } }, '重试'),
            note,
            el('button', { type: 'button', class: 'secondary', onclick: async () => {
              if (!note.value.trim()) return say(box, '请填写处理说明');
              if (await guarded(() => api('POST', `/api/v1/admin/payments/problems/${p.problem_id}/resolve`, { token: state.token, body: { note: note.value.trim() }, key: crypto.randomUUID() }), box)) load();
              return undefined;
            } }, '标记已处理')));
      }))));
    return undefined;
  };
  load();
  return el('section', { class: 'admin', 'aria-label': '退款异常' }, el('h2', {}, '退款异常'), box, list,
    el('button', { type: 'button', class: 'secondary', onclick: load }, '刷新'));
}

// Admins: money in and out per business day at a lot.
function takingsSection() {
  const box = alertBox();
  const today = new Date().toISOString().slice(0, 10);
  const lot = el('input', { id: 'takings-lot', autocomplete: 'off', placeholder: '停车场编号', value: [...state.lots][0] || '' });
  const from = el('input', { id: 'takings-from', type: 'date', value: today });
  const to = el('input', { id: 'takings-to', type: 'date', value: today });
  const out = el('div', {});
  const show = async (ev) => {
    ev.preventDefault();
    box.hidden = true;
    if (!lot.value.trim()) return say(box, '请填写停车场编号');
    const q = new URLSearchParams({ lot_id: lot.value.trim(), from: from.value, to: to.value });
    const r = await guarded(() => api('GET', `/api/v1/admin/reports/daily-takings?${q}`, { token: state.token }), box);
    if (!r) return undefined;
    out.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, ['日期', '收款', '笔数', '退款', '笔数', '净额'].map((h) => el('th', {}, h)))),
      el('tbody', {}, [...r.days.map((d) => [d.day, d]), ['合计', r.totals]].map(([day, d]) => el('tr', {},
        el('td', {}, day), el('td', {}, yuan(d.paid_fen)), el('td', {}, d.paid_count),
        el('td', {}, yuan(d.refunded_fen)), el('td', {}, d.refunded_count), el('td', {}, yuan(d.net_fen)))))));
    return undefined;
  };
  return el('section', { class: 'admin', 'aria-label': '每日收款' }, el('h2', {}, '每日收款'),
    el('form', { class: 'inline', onsubmit: show, novalidate: true },
      el('label', { for: 'takings-lot' }, '停车场'), lot,
      el('label', { for: 'takings-from' }, '从'), from,
      el('label', { for: 'takings-to' }, '到'), to,
      el('button', { type: 'submit', class: 'secondary' }, '查询')),
    box, out);
}

if (state.token) enter(state.token).catch((e) => signIn(signInWords(e)));
else signIn();
