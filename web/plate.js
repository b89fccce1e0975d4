// The plate and phone checks the service makes, made before anything is sent.

const PROVINCES = '京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼';
const SEPARATORS = /[\s\-·•._・\u3000]/g;

// Full-width to half-width, upper-case, no spaces or separators: `京ａ ６６６６６` is `京A66666`.
export function normalisePlate(input) {
  return input
    .replace(/[\uFF01-\uFF5E]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(SEPARATORS, '')
    .toUpperCase();
}

// The canonical plate, or null when it cannot be one.
export function parsePlate(input) {
  const p = normalisePlate(input);
  const chars = [...p];
  if (chars.length !== 7 && chars.length !== 8) return null;
  if (!PROVINCES.includes(chars[0])) return null;
  if (!/^[A-HJ-NP-Z]$/.test(chars[1])) return null;
  const serial = chars.slice(2).join('');
  if (!/^[A-HJ-NP-Z0-9]{4,6}[学挂警港澳领A-HJ-NP-Z0-9]?$/.test(serial)) return null;
  return p;
}

// An 11-digit mainland mobile number, or null.
export function parsePhone(input) {
  let p = input
    .replace(/[\uFF10-\uFF19]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\s-]/g, '');
  p = p.replace(/^(\+86|0086|86)(?=1\d{10}$)/, '');
  return /^1[3-9]\d{9}$/.test(p) ? p : null;
}
