// The app page's 家庭共济 part (an employee's personal account pays for relatives' visits:
// who the holder's account pays for, whose accounts pay for the holder, requests to confirm)
// and 谁查看了我的身份信息 (each hospital's read of the holder's identity for 实名就医).
"use strict";

const SHARE_STATUS = { "active": ["共济中", "active"], "pending": ["待确认", "pending"],
  "unbound": ["已结束", "ended"], "rejected": ["已拒绝", "declined"], "expired": ["已过期", "expired"] };
const shareStat = (s) => t(...(SHARE_STATUS[s] || [s, s]));
const ended = (m) => m.status === "unbound";

async function loadShares() {
  if (!me) return;
  try {
    const get = async (path) => (await api("GET", path)).json();
    const [members, payers, requests] = await Promise.all([get("/v1/account-shares/members"),
      get("/v1/account-shares/payers"), get("/v1/account-shares/requests")]);
    const mine = $("share-members"); mine.replaceChildren();
    mine.append(el("h3", t("我的个人账户为他们支付", "My account pays for")));
    if (!members.length) mine.append(el("p", t("尚未授权家人使用", "Nobody yet"), "hint"));
    for (const m of members) {
      const parts = [el("span", `${m.masked_name}（${rel(m.relation)}）`, "grow"),
        el("span", shareStat(m.status), "status " + m.status)];
      if (!ended(m)) {
        parts.push(button(t("结束共济", "End"), async () => {
          if (!confirm(t(`确定结束为 ${m.masked_name} 支付？立即生效。`,
            `Stop paying for ${m.masked_name}? It takes effect at once.`))) return;
          await api("DELETE", `/v1/account-shares/members/${m.member}`);
        }, false, loadShares));
      }
      mine.append(row(parts));
    }
    const theirs = $("share-payers"); theirs.replaceChildren();
    theirs.append(el("h3", t("可为我支付的家人账户", "Accounts that pay for me")));
    const paying = payers.filter((p) => p.status === "active" || ended(p));
    if (!paying.length) theirs.append(el("p", t("没有", "None"), "hint"));
    for (const p of paying) {
      const parts = [el("span", `${p.masked_name}`, "grow"), el("span", shareStat(p.status), "status " + p.status)];
      if (!ended(p)) {
        parts.push(button(t("结束共济", "End"), async () => {
          if (!confirm(t(`确定不再由 ${p.masked_name} 的个人账户支付？立即生效。`,
            `Stop ${p.masked_name}'s account paying for you? It takes effect at once.`))) return;
          await api("DELETE", `/v1/account-shares/payers/${p.binder}`);
        }, false, loadShares));
      }
      theirs.append(row(parts));
    }
    const asks = $("share-requests"); asks.replaceChildren();
    for (const r of requests) {
      const path = `/v1/account-shares/requests/${r.binder}/${r.member}`;
      asks.append(row([
        el("span", t(`${r.masked_name} 请求用其个人账户为${r.member === me.voucher_id ? "您" : "您的孩子"}支付医药费`,
          `${r.masked_name} offers to pay ${r.member === me.voucher_id ? "your" : "your child's"} bills from their personal account`), "grow"),
        button(t("同意", "Accept"), () => api("POST", `${path}/approve`), true, loadShares),
        button(t("拒绝", "Decline"), () => api("POST", `${path}/reject`), false, loadShares),
      ]));
    }
  } catch (e) { if (!isOutage(e)) say(e.code); }
}

const when = (secs) => new Date(secs * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB",
  { year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });

async function loadReads() {
  if (!me) return;
  try {
    const data = await (await api("GET", "/v1/identity-reads")).json();
    const box = $("reads"); box.replaceChildren();
    if (!data.reads.length) { box.append(el("p", t("还没有机构查看过", "No institution has read it"), "hint")); return; }
    for (const r of data.reads) {
      box.append(row([el("span", `${when(r.at)}`, "amount"),
        el("span", t(`${r.institution_name || r.institution} 为实名就医查看（${r.visit_date} 就诊）`,
          `${r.institution_name || r.institution}, for the medical record (visit on ${r.visit_date})`), "grow")]));
    }
  } catch (e) { if (!isOutage(e)) say(e.code); }
}

$("share-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const res = await api("POST", "/v1/account-shares/members", {
      name: $("share-name").value.trim(), id_number: $("share-id").value.trim().toUpperCase(),
      relation: $("share-relation").value,
    });
    $("share-form").reset(); $("error").hidden = true;
    $("share-sent").hidden = res.status !== 202;
  } catch (e) { say(e.code); }
  loadShares();
});
