// Signing in and out of the app page (docs/issuer.md, "The phone's login").
//
// The phone's login is its registered device key (offline.js): the page signs the issuer's
// challenge and gets a session, so a new tab or a reopened browser is signed in with no
// credential. The holder credential is pasted once, to register the key, kept in memory for
// that, and never stored. Several people on one browser each have their own key: a new tab
// asks whose code to show when there is more than one.
"use strict";

const isSession = () => bearer.startsWith("yds1.");

function showCards(online) {
  for (const id of ["signin", "choose"]) $(id).hidden = true;
  $("signout").hidden = false;
  for (const id of ["code-card", "family-card"]) $(id).hidden = false;
  $("add-person").hidden = false;
  for (const id of ["expenses-card", "devices-card", "shares-card", "reads-card"]) $(id).hidden = !online;
}
function showSignIn() {
  for (const id of ["code-card", "family-card", "expenses-card", "devices-card", "shares-card", "reads-card", "choose"]) $(id).hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
}

// A session with `holder`'s device key; throws as the issuer's answer does.
async function openSession(holder) {
  bearer = (await Offline.session(holder)).session;
}

// A session ended (api() got a 401): the key opens the next one. When the issuer refuses the
// key, the device was removed (signed out from another device, reported lost).
let reopening = null;
function reopenSession() {
  if (!me) return Promise.resolve(false);
  if (!reopening) {
    reopening = openSession(me.voucher_id).then(() => true)
      .catch(async (e) => { if (e.status) await signedOutElsewhere(); return false; })
      .finally(() => { reopening = null; });
  }
  return reopening;
}
async function signedOutElsewhere() {
  const holder = me && me.voucher_id;
  bearer = ""; me = null; clearTimeout(refreshTimer); ++generation;
  if (holder) await Offline.drop(holder);
  sessionStorage.removeItem("yibao.holder");
  showSignIn();
  say("signed-out-elsewhere");
}

// Signed in (a session, or a pasted credential where the key could not be registered): who
// this is, and everything the page shows online.
async function enter() {
  const token = await (await api("GET", "/v1/token")).json();
  me = { masked_name: token.masked_name, voucher_id: token.voucher_id };
  // Which holder this tab shows, for a reload (never the credential).
  sessionStorage.setItem("yibao.holder", me.voucher_id);
  showCards(true);
  $("error").hidden = true;
  await loadCode();
  loadFamily(); loadExpenses(); loadDevices(); loadShares(); loadReads();
}

// Registers this phone's key with the pasted credential (or renews it, for a holder whose key
// this browser has), then signs in with the key; the credential is dropped. At the device
// limit, the device list says so and offers to remove one; the credential then serves this
// tab until the key is registered.
async function registerKey() {
  if (!window.crypto || !crypto.subtle) return false;
  try {
    await Offline.ensure(api, me.voucher_id, me.masked_name, serverNow(), true, true);
  } catch (e) {
    if (e.code !== "device-limit-reached") throw e;
    $("devices-limit").hidden = false;
    return false;
  }
  document.documentElement.dataset.device = "ready";
  await openSession(me.voucher_id);
  return true;
}

async function signIn(pasted) {
  clearTimeout(refreshTimer); ++generation; showing = null;
  bearer = pasted;
  $("credential").value = "";
  try {
    const token = await (await api("GET", "/v1/token")).json();
    me = { masked_name: token.masked_name, voucher_id: token.voucher_id };
    await registerKey();
    await enter();
  } catch (e) {
    bearer = "";
    if (isOutage(e) && me && await startOffline(me.voucher_id)) return;
    me = null;
    say(e.code);
  }
}

// A holder whose key this browser has: a session with it, or offline codes with no issuer.
async function resume(holder) {
  try {
    await openSession(holder);
    await enter();
  } catch (e) {
    if (isOutage(e) && await startOffline(holder)) return;
    if (e.status === 401) { me = { voucher_id: holder }; await signedOutElsewhere(); return; }
    say(e.code);
  }
}

// The issuer answers again after the page started without it: pending sign-outs go out, and
// the key signs in for issuer codes, expenses and the family list.
async function reconnect() {
  Offline.sendSignOuts().catch(() => {});
  if (!me) return;
  try {
    await openSession(me.voucher_id);
    showCards(true); loadFamily(); loadExpenses(); loadDevices(); loadShares(); loadReads();
  } catch (e) { if (e.status === 401) await signedOutElsewhere(); }
}

// No issuer, but this phone holds `holder`'s certificates: offline codes.
async function startOffline(holder) {
  const record = await Offline.load(holder);
  if (!record) return false;
  me = { masked_name: record.masked_name, voucher_id: record.holder };
  sessionStorage.setItem("yibao.holder", record.holder);
  showCards(false);
  await loadCode();
  offlineFamily();
  return true;
}

// Whose code a new tab shows when this browser holds keys of several people.
function choose(records) {
  $("signin").hidden = true;
  $("choose").hidden = false;
  const box = $("choices"); box.replaceChildren();
  for (const r of records) {
    box.append(row([el("span", r.masked_name, "grow"),
      act(t("出示此人的医保码", "Show this code"), () => { $("choose").hidden = true; return resume(r.holder); }, true)]));
  }
}

const day = (secs) => new Date(secs * 1000).toLocaleDateString(lang === "zh" ? "zh-CN" : "en-GB");
// A button whose failure is said on the page.
function act(text, action, primary) {
  const b = el("button", text, primary ? "primary" : "");
  b.type = "button";
  b.addEventListener("click", () => action().catch((e) => say(e.code)));
  return b;
}

// The holder's devices with offline codes, each removable. When registration was refused at
// the limit (`#devices-limit` shown), this phone's key is registered after a removal.
async function loadDevices() {
  const limit = $("devices-limit");
  if (!limit.hidden) say("device-limit-reached");
  let devices;
  try { devices = await (await api("GET", "/v1/devices")).json(); } catch (e) { return; }
  const mine = ((await Offline.load(me.voucher_id)) || {}).device_id;
  const box = $("devices"); box.replaceChildren();
  $("devices-card").hidden = false;
  limit.textContent = t(`最多 5 台，已用 ${devices.length} 台`, `At most 5; ${devices.length} in use`);
  for (const d of devices) {
    const parts = [el("span", `${d.label || t("设备", "device")} · ${t("添加于", "added")} ${day(d.registered_at)}`, "grow")];
    if (d.device_id === mine) parts.push(el("span", t("本机", "this phone"), "hint"));
    else {
      parts.push(act(t("移除", "Remove"), async () => {
        if (!confirm(t("移除后，那台设备上的离线码立即失效。确定移除？",
          "Removing it makes its offline codes stop working at once. Remove?"))) return;
        await api("DELETE", `/v1/devices/${d.device_id}`);
        if (!limit.hidden && !isSession() && await registerKey()) { limit.hidden = true; $("error").hidden = true; }
        loadDevices();
      }));
    }
    box.append(row(parts));
  }
}

$("signin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const pasted = $("credential").value.trim();
  if (pasted) signIn(pasted);
});
$("add-person").addEventListener("click", showSignIn);
$("choose-other").addEventListener("click", showSignIn);
$("signout").addEventListener("click", async () => {
  // One mis-tap must not wipe the offline codes: say what signing out does, and ask.
  const offline = !$("offline-mark").hidden || navigator.onLine === false;
  const sure = confirm(offline
    ? t("现在没有网络。退出后，此手机上的离线码会被删除，联网重新登录前无法出示医保码。确定退出？",
      "There is no network now. Signing out deletes this phone's offline codes: no code until you sign in again online. Sign out?")
    : t("退出后，此手机上的离线码也会删除，需重新登录。确定退出？",
      "Signing out also deletes this phone's offline codes; you will sign in again. Sign out?"));
  if (!sure) return;
  // The key signs its own removal and is deleted; the issuer hears of it now or, offline, at
  // the next contact.
  await Offline.signOut(me && me.voucher_id);
  sessionStorage.removeItem("yibao.holder");
  sessionStorage.setItem("yibao.signed-out", "1");
  location.reload();
});

// A tab that was just signed out asks; otherwise the holder it showed, or the only one.
(async () => {
  Offline.sendSignOuts().catch(() => {});
  const records = await Offline.all().catch(() => []);
  const asked = sessionStorage.getItem("yibao.signed-out");
  sessionStorage.removeItem("yibao.signed-out");
  const shown = sessionStorage.getItem("yibao.holder");
  const record = records.find((r) => r.holder === shown) || (!asked && records.length === 1 ? records[0] : null);
  if (record) await resume(record.holder);
  else if (records.length) choose(records);
  else showSignIn();
})();
