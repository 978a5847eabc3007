// The app page's main script: codes (issuer-signed online, 离线码 offline), the family list,
// expenses, the clock warning, elder mode. Signing in and out is login.js.
"use strict";
const $ = (id) => document.getElementById(id);
let lang = "zh";
const t = (zh, en) => (lang === "zh" ? zh : en);
// What the page signs in with, in memory only: a session opened with this phone's device key
// (login.js), or, while signing in, the credential pasted once to register that key.
let bearer = "";
let me = null;          // {masked_name, voucher_id}
let showing = null;     // null: own code; otherwise a member link
let refreshTimer = null, tickTimer = null, expiresAt = 0, skew = 0;

const ERRORS = {
  "unauthorized": ["凭证无效，请重新登录", "This credential is not valid; sign in again"],
  "credential-revoked": ["此凭证已注销，请重新激活", "This credential was revoked; activate again"],
  "voucher-suspended": ["医保凭证已暂停使用，请联系医保经办机构", "The voucher is suspended; contact the insurance office"],
  "not-bound": ["您未与此人绑定，或对方尚未同意", "You are not bound to this person, or they have not agreed yet"],
  "family-limit-reached": ["最多添加5位家人，请先解绑一位", "At most 5 family members: unbind one first"],
  "already-bound": ["已添加或正在等待对方同意", "Already added or waiting for their consent"],
  "cannot-bind-self": ["不能添加自己", "You cannot add yourself"],
  "guardian-approval-required": ["16岁以下须由登记的监护人同意", "A child under 16 needs a registered guardian's approval"],
  "not-in-registry": ["参保信息中没有此人，请核对身份证号", "No insured person with this ID number"],
  "name-mismatch": ["姓名与身份证号不符", "The name does not match the ID number"],
  "invalid-id-number": ["身份证号格式不正确", "The ID number is malformed"],
  "id-number-check-digit": ["身份证号校验位不正确", "The ID number's check digit is wrong"],
  "not-insured": ["此人当前未参保", "This person is not currently insured"],
  "rate-limited": ["操作太频繁，请稍后再试", "Too many requests; try again shortly"],
  "unavailable": ["服务暂时不可用，请稍后再试", "The service is temporarily unavailable"],
  "not-pending": ["此请求已处理", "This request was already decided"],
  "account-share-limit-reached": ["个人账户最多为8位家人支付，请先结束一位", "An account pays for at most 8 relatives: end one first"],
  "account-share-needs-employee": ["只有职工医保有个人账户可以共济", "Only employee insurance has a personal account to share"],
  "device-limit-reached": ["离线码最多可在 5 台设备上使用，现在已满。请在下面移除一台不再使用的设备，本机才能在断网时出示医保码。", "Offline codes work on at most 5 devices, and all 5 are in use. Remove one you no longer use below, so this phone can show codes without a network."],
  "signed-out-elsewhere": ["此手机已退出登录（在其他设备上移除，或已挂失）。请重新登录。", "This phone was signed out (removed from another device, or reported lost). Sign in again."],
  "network": ["无法连接服务：请检查网络。此手机还没有离线码：联网登录一次后，断网时也能出示", "No connection: check the network. This phone has no offline codes yet: sign in once online, and it shows codes offline too"],
  "no-certificate": ["无法连接服务，且此手机还没有离线码：请联网一次", "No connection, and this phone has no offline codes yet: go online once"],
  "certificate-expired": ["离线码已过期：请联网一次以更新", "Offline codes have expired: go online once to renew them"],
};

// An outage, as opposed to a refusal: no answer, a timeout, or a server error.
const isOutage = (e) => !e.status || e.status >= 500;

function say(code, fallback) {
  const words = ERRORS[code];
  const box = $("error");
  box.textContent = words ? t(words[0], words[1]) : (fallback || t("出错了，请稍后再试", "Something went wrong"));
  box.hidden = false;
}

// Slower than this and the issuer counts as unreachable (codes switch to offline ones).
const TIMEOUT_MS = 4000;
async function api(method, path, body, again) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  let res;
  try {
    res = await fetch(path, {
      method, signal: abort.signal,
      headers: Object.assign(bearer ? { authorization: "Bearer " + bearer } : {},
        body ? { "content-type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    const err = new Error("network"); err.code = "network"; throw err;  // no status: an outage
  } finally { clearTimeout(timer); }
  noteClock(res);
  // A session ends after a while: the device key opens the next one, and the call is retried.
  if (res.status === 401 && !again && isSession()) {
    if (await reopenSession()) return api(method, path, body, true);
    // Refused: the device is gone (login.js signed the page out). No answer: an outage.
    const err = new Error(me ? "network" : "signed-out-elsewhere"); err.code = err.message;
    if (!me) err.status = 401;
    throw err;
  }
  if (!res.ok) {
    let code = "";
    try { code = (await res.json()).code; } catch (e) { /* not JSON */ }
    const err = new Error(code); err.code = code; err.status = res.status; throw err;
  }
  return res;
}

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-zh]").forEach((el) => { el.textContent = el.dataset[lang]; });
  $("lang").textContent = lang === "zh" ? "English" : "中文";
  if (me) {
    renderWho(); loadFamily(); loadShares(); loadReads();
    if (!$("expenses-card").hidden) loadExpenses();
    if (!$("devices-card").hidden) loadDevices();
  }
  if (!$("offline-mark").hidden) loadCode();
  warnClock();
}

const RELATION = { "parent": ["父母", "parent"], "child": ["子女", "child"],
  "spouse": ["配偶", "spouse"], "other-close": ["其他近亲属", "close relative"] };
const STATUS = { "active": ["已绑定", "active"], "pending": ["待同意", "pending"],
  "rejected": ["已拒绝", "rejected"], "expired": ["已过期", "expired"], "unbound": ["已解绑", "unbound"] };
const rel = (r) => t(...(RELATION[r] || [r, r]));
const stat = (s) => t(...(STATUS[s] || [s, s]));

function renderWho() {
  if (showing) {
    $("proxy-banner").hidden = false;
    $("proxy-banner").textContent = t(`代家人出示：${showing.masked_name}（${rel(showing.relation)}）`,
      `Shown for a family member: ${showing.masked_name} (${rel(showing.relation)})`);
    $("who").textContent = showing.masked_name;
    $("back-own").hidden = false;
  } else {
    $("proxy-banner").hidden = true;
    $("who").textContent = me.masked_name;
    $("back-own").hidden = true;
  }
}

// The issuer's clock as last seen (codes are dated by it, not by the phone's). Kept across
// reloads, so an offline page still knows how wrong this phone's clock was.
function noteClock(res) {
  const served = Date.parse(res.headers.get("date") || "");
  if (Number.isNaN(served)) return;
  skew = Math.round(served / 1000) - Math.round(Date.now() / 1000);
  localStorage.setItem("yibao.skew", String(skew));
  warnClock();
}
// A phone clock this far off gets a warning: codes follow the issuer's time all the same.
const CLOCK_WARN_SECS = 300;
function warnClock() {
  const box = $("clock-warning");
  box.hidden = Math.abs(skew) < CLOCK_WARN_SECS;
  if (box.hidden) return;
  const off = Math.abs(skew);
  const amount = off >= 3600 ? t(`约 ${Math.round(off / 3600)} 小时`, `about ${Math.round(off / 3600)} h`)
    : t(`约 ${Math.round(off / 60)} 分钟`, `about ${Math.round(off / 60)} min`);
  // skew > 0: the issuer is ahead, so this phone is slow.
  box.textContent = skew > 0
    ? t(`手机时间慢了${amount}，请在手机设置中校正时间。医保码按标准时间计算，不受影响。`,
      `This phone's clock is ${amount} slow: set it right in the phone's settings. Codes use the standard time and still work.`)
    : t(`手机时间快了${amount}，请在手机设置中校正时间。医保码按标准时间计算，不受影响。`,
      `This phone's clock is ${amount} fast: set it right in the phone's settings. Codes use the standard time and still work.`);
}
const serverNow = () => Math.round(Date.now() / 1000) + skew;

let drawn = 0, lifetime = 60;
// Draws `code` as a QR code here (level M, numeric mode): no image round trip, online or not.
// `life`: seconds the code is valid, the most a countdown may show whatever the clock says.
function draw(code, expires, kind, life) {
  lifetime = life;
  const qr = qrcode(0, "M");
  qr.addData(code, "Numeric");
  qr.make();
  $("qr").innerHTML = qr.createSvgTag({ cellSize: 4, margin: 16, scalable: true });
  const svg = $("qr").querySelector("svg");
  svg.dataset.tokenExpiresAt = String(expires);
  svg.dataset.qrVersion = String((qr.getModuleCount() - 17) / 4);
  svg.dataset.kind = kind;
  svg.dataset.drawn = String(++drawn);
  expiresAt = expires;
}

const until = (secs) => new Date(secs * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB",
  { weekday: "short", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });

let generation = 0, offlineSince = 0;
// A fresh code: the issuer's (kind 1) while it answers; otherwise one this phone signs with
// its certified key (kind 2, 离线码), refreshed well before it expires.
async function loadCode() {
  clearTimeout(refreshTimer);
  if (!me) return;
  // A switch while a refresh is in flight: only the newest request may draw the code, or
  // the banner could name a family member over one's own code.
  const mine = ++generation;
  const path = showing ? `/v1/family/members/${showing.member}/token` : "/v1/token";
  let token = null, failure = null;
  if (bearer) {
    try { token = await (await api("GET", path)).json(); } catch (e) { failure = e; }
  } else failure = { code: "network" };
  if (mine !== generation) return;
  if (token) {
    draw(token.code, token.expires_at, "issuer-signed", token.expires_at - token.issued_at);
    $("offline-mark").hidden = true;
    $("offline-explained").hidden = true;
    $("error").hidden = true;
    offlineSince = 0;
    const remaining = token.expires_at - serverNow();
    // Refreshed before it expires, without a reload.
    refreshTimer = setTimeout(loadCode, Math.max(1, remaining - 10) * 1000);
    renderWho(); tick();
    syncDevice(false);
    return;
  }
  if (!isOutage(failure)) {
    say(failure.code);
    if (showing) { showing = null; refreshTimer = setTimeout(loadCode, 1000); }
    else refreshTimer = setTimeout(loadCode, 15000);
    return;
  }
  await showOfflineCode(mine);
}

// Seconds between device codes: a new one long before the 60 s lifetime ends, and each
// refresh also asks whether the issuer is back.
const OFFLINE_REFRESH_SECS = 20;
async function showOfflineCode(mine) {
  if (!offlineSince) offlineSince = serverNow();
  // This tab's holder's record only: the code shown is always the person named on screen.
  const record = await Offline.load(me && me.voucher_id);
  const target = showing ? showing.member : (record && record.holder);
  const got = record && target ? await Offline.present(record, target, serverNow()) : null;
  if (mine !== generation) return;
  if (!got || got.expired) {
    $("qr").replaceChildren();
    $("offline-mark").hidden = true;
    say(got ? "certificate-expired" : "no-certificate");
    refreshTimer = setTimeout(loadCode, 10000);
    return;
  }
  draw(got.code, got.expires_at, "device-bound", got.lifetime);
  $("error").hidden = true;
  const mark = $("offline-mark");
  mark.hidden = false;
  $("offline-explained").hidden = false;
  mark.textContent = t(`离线码 · 离线可用至 ${until(got.certificate.expires_at)}`,
    `Offline code · works offline until ${until(got.certificate.expires_at)}`);
  refreshTimer = setTimeout(loadCode, OFFLINE_REFRESH_SECS * 1000);
  renderWho(); tick();
}

// The issuer is watched while the page is shown, so an outage brings a 离线码 within seconds
// (not at the next code refresh, up to 50 s later) and its end brings issuer codes back at
// once. A probe is a bodyless GET of /healthz every few seconds, only while the page is
// visible; the browser's own offline/online events act at once.
const WATCH_SECS = 3, WATCH_TIMEOUT_MS = 2000;
let probing = false;
async function issuerAnswers() {
  if (navigator.onLine === false) return false;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), WATCH_TIMEOUT_MS);
  try {
    const res = await fetch("/healthz", { signal: abort.signal, cache: "no-store" });
    noteClock(res);
    return res.ok;
  } catch (e) { return false; } finally { clearTimeout(timer); }
}
async function checkIssuer() {
  if (probing || document.visibilityState !== "visible" || (!me && !Offline.signOutsWaiting())) return;
  probing = true;
  try {
    const up = await issuerAnswers();
    // A sign-out made offline reaches the issuer at the first contact, signed in or not.
    if (up && Offline.signOutsWaiting()) await Offline.sendSignOuts().catch(() => {});
    if (!me) return;
    if (!up && !offlineSince) { clearTimeout(refreshTimer); await showOfflineCode(++generation); }
    else if (up && offlineSince) { if (!bearer) await reconnect(); if (bearer) await loadCode(); }
  } finally { probing = false; }
}
setInterval(checkIssuer, WATCH_SECS * 1000);
window.addEventListener("offline", checkIssuer);
window.addEventListener("online", checkIssuer);
document.addEventListener("visibilitychange", checkIssuer);

// Keeps this phone's device certificates current while online (registered at sign-in by
// login.js, renewed here when due or after a family change). Failures wait for the next try.
let syncing = null;
function syncDevice(force) {
  if (!me || !me.voucher_id || syncing || !window.crypto || !crypto.subtle) return;
  syncing = Offline.ensure(api, me.voucher_id, me.masked_name, serverNow(), force, false)
    .then((record) => { if (record) document.documentElement.dataset.device = "ready"; })
    .catch(() => {})
    .finally(() => { syncing = null; });
}

function tick() {
  // Never more than the code allows: a clock far off must not promise "7125 秒".
  const left = Math.min(lifetime, Math.max(0, Math.round(expiresAt - serverNow())));
  $("countdown").textContent = t(`${left} 秒内有效，自动刷新`, `valid ${left} s, refreshes by itself`);
}

function row(children) {
  const div = document.createElement("div"); div.className = "row";
  for (const c of children) div.append(c);
  return div;
}
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
// A button that runs `action`, then redraws its list (`reload`, the family list by default).
function button(text, action, primary, reload) {
  const b = el("button", text, primary ? "primary" : "");
  b.type = "button";
  b.addEventListener("click", async () => {
    try { await action(); $("error").hidden = true; } catch (e) { say(e.code); }
    (reload || loadFamily)();
  });
  return b;
}

// Offline, the family members are those this phone holds certificates for.
async function offlineFamily() {
  const record = await Offline.load(me && me.voucher_id);
  const box = $("members"); box.replaceChildren();
  $("requests").replaceChildren();
  const members = record ? record.certificates.filter((c) => c.relation) : [];
  if (!members.length) box.append(el("p", t("离线时无法加载家人列表", "The family list needs a connection")));
  for (const c of members) {
    const m = { member: c.voucher_id, masked_name: c.masked_name, relation: c.relation };
    box.append(row([el("span", `${m.masked_name}（${rel(m.relation)}）`, "grow"),
      el("span", stat("active"), "status active"),
      el("span", t("可离线出示", "can be shown offline"), "hint"),
      button(t("出示TA的码", "Show code"), async () => { showing = m; await loadCode(); window.scrollTo(0, 0); }, true)]));
  }
}

async function loadFamily() {
  try {
    const members = await (await api("GET", "/v1/family/members")).json();
    // A member added or removed: the phone's offline certificates follow.
    const certified = new Set(((await Offline.load(me.voucher_id)) || { certificates: [] }).certificates
      .filter((c) => c.relation).map((c) => c.voucher_id));
    const active = members.filter((m) => m.status === "active").map((m) => m.member);
    if (active.length !== certified.size || active.some((v) => !certified.has(v))) syncDevice(true);
    const box = $("members"); box.replaceChildren();
    if (!members.length) box.append(el("p", t("尚未添加家人", "No family members yet")));
    for (const m of members) {
      const parts = [el("span", `${m.masked_name}（${rel(m.relation)}）`, "grow"),
        el("span", stat(m.status), "status " + m.status)];
      if (m.status === "active") {
        parts.push(button(t("出示TA的码", "Show code"), async () => {
          showing = m; await loadCode(); loadExpenses(); window.scrollTo(0, 0);
        }, true));
      }
      if (m.status === "active" || m.status === "pending") {
        parts.push(button(t("解绑", "Unbind"), async () => {
          if (!confirm(t(`确定解绑 ${m.masked_name}？立即生效，之后您不能再代TA出示医保码。`,
            `Unbind ${m.masked_name}? It takes effect at once: you can no longer show their code.`))) return;
          await api("DELETE", `/v1/family/members/${m.member}`);
          if (showing && showing.member === m.member) { showing = null; loadCode(); loadExpenses(); }
        }));
      }
      box.append(row(parts));
    }
    const requests = await (await api("GET", "/v1/family/requests")).json();
    const reqs = $("requests"); reqs.replaceChildren();
    for (const b of requests) {
      const path = `/v1/family/requests/${b.binder}/${b.member}`;
      const ward = members.find((m) => m.member === b.member);
      const ask = ward
        ? t(`${b.masked_name} 请求代 ${ward.masked_name} 出示医保码`, `${b.masked_name} asks to show ${ward.masked_name}'s code`)
        : t(`${b.masked_name} 请求将您添加为家人`, `${b.masked_name} asks to add you`);
      reqs.append(row([
        el("span", ask, "grow"),
        button(t("同意", "Approve"), () => api("POST", `${path}/approve`), true),
        button(t("拒绝", "Reject"), () => api("POST", `${path}/reject`)),
      ]));
    }
  } catch (e) { if (isOutage(e)) offlineFamily(); else say(e.code); }
}

const fen = (n) => (n / 100).toFixed(2);
async function loadExpenses() {
  const year = $("year").value;
  const who = showing ? showing.masked_name : me.masked_name;
  $("expenses-who").textContent = who;
  const q = showing ? `&voucher=${showing.member}` : "";
  try {
    const data = await (await api("GET", `/v1/expenses?year=${year}${q}`)).json();
    const box = $("expenses"); box.replaceChildren();
    if (!data.items.length && !data.aid_given.length) { box.append(el("p", t("本年度没有费用记录", "No expenses this year"))); return; }
    for (const k of data.by_kind) {
      box.append(row([el("span", k.institution_kind === "hospital" ? t("医院", "Hospitals") : t("药店", "Pharmacies"), "grow"),
        el("span", `${k.visits} ${t("次", "visits")}  ¥${fen(k.amounts.total_fen)}`, "amount")]));
    }
    box.append(row([el("strong", t("合计", "Total"), "grow"), el("strong", `¥${fen(data.total.total_fen)}`, "amount")]));
    for (const i of data.items) {
      box.append(row([el("span", `${i.date} ${i.institution_name || i.institution} · ${i.business_name_zh}`, "grow"),
        el("span", `¥${fen(i.amounts.total_fen)} (${t("统筹", "fund")} ${fen(i.amounts.fund_fen)} / ${t("个账", "account")} ${fen(i.amounts.account_fen)} / ${t("现金", "cash")} ${fen(i.amounts.cash_fen)})`, "amount")]));
      if (i.amounts.mutual_aid_fen) {
        box.append(row([el("span", t(`家庭共济：由 ${i.mutual_aid_payer_name || ""} 的个人账户支付 ¥${fen(i.amounts.mutual_aid_fen)}`,
          `Family mutual aid: ¥${fen(i.amounts.mutual_aid_fen)} paid from ${i.mutual_aid_payer_name || ""}'s account`), "hint grow")]));
      }
    }
    if (data.aid_given.length) {
      box.append(row([el("strong", t("我的个人账户为家人支付", "Paid for relatives from this account"), "grow"),
        el("strong", `¥${fen(data.aid_given_fen)}`, "amount")]));
      for (const a of data.aid_given) {
        box.append(row([el("span", `${a.date} ${a.member_name} · ${a.institution_name || a.institution}`, "grow"),
          el("span", `¥${fen(a.paid_fen)}`, "amount")]));
      }
    }
  } catch (e) { if (!isOutage(e)) say(e.code); }
}


$("back-own").addEventListener("click", () => { showing = null; loadCode(); loadExpenses(); });
$("lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; applyLang(); });
// Elder mode shows that it is on: the button is pressed and says so.
function showLarge() {
  const on = document.documentElement.classList.contains("large");
  const button = $("large");
  button.setAttribute("aria-pressed", on ? "true" : "false");
  button.dataset.zh = on ? "长辈模式：开" : "长辈模式";
  button.dataset.en = on ? "Large text: on" : "Large text";
  button.textContent = button.dataset[lang];
}
$("large").addEventListener("click", () => {
  document.documentElement.classList.toggle("large");
  localStorage.setItem("yibao.large", document.documentElement.classList.contains("large") ? "1" : "");
  showLarge();
});
if (localStorage.getItem("yibao.large")) document.documentElement.classList.add("large");
showLarge();
skew = Number(localStorage.getItem("yibao.skew")) || 0;
warnClock();
$("bind-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const res = await api("POST", "/v1/family/members", {
      name: $("bind-name").value.trim(), id_number: $("bind-id").value.trim().toUpperCase(),
      relation: $("bind-relation").value,
    });
    $("bind-form").reset(); $("error").hidden = true;
    $("bind-sent").hidden = res.status !== 202;
  } catch (e) { say(e.code); }
  loadFamily();
});
const thisYear = new Date().getFullYear();
for (let y = thisYear; y >= thisYear - 4; y--) {
  const o = el("option", String(y)); o.value = String(y); $("year").append(o);
}
$("year").addEventListener("change", loadExpenses);
setInterval(tick, 1000);
// Installable, and loads with no network once opened (localhost and HTTPS only).
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app-sw.js").catch(() => {});
