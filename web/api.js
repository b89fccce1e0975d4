// The JSON API as the pages use it: bearer token from sessionStorage, errors as ApiError.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Sends a request; `body` is JSON unless it is FormData. Answers the parsed JSON (or null).
export async function api(method, path, { token, body, key } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (key) headers['idempotency-key'] = key;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'omit' });
  } catch {
    throw new ApiError(0, 'network', '网络不可用，请检查网络后重试');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const retry = Number(res.headers.get('retry-after')) || 0;
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || '服务暂时不可用', retry);
  }
  return data;
}

// Fetches an image with the bearer header and answers a blob URL for it.
export async function imageUrl(path, token) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}` }, credentials: 'omit' });
  if (!res.ok) throw new ApiError(res.status, 'no_photo', '照片无法显示');
  return URL.createObjectURL(await res.blob());
}

export const yuan = (fen) => `¥${(fen / 100).toFixed(2)}`;
export const dots = (date) => (date || '').replaceAll('-', '.');
export const period = (p) => (p ? `${dots(p.from)}至${dots(p.to)}` : '');

// Creates an element: el('button', {class: 'x', onclick: f}, 'text', child…).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Waits `ms` milliseconds.
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
