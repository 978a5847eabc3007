// Offline codes (离线码) on the app page: the device key, its certificates, presentations.
// The format is docs/token-format.md §8; the registration API is docs/issuer.md.
//
// The key is a non-extractable WebCrypto ECDSA P-256 key kept in IndexedDB (the page can
// sign with it, nobody can read it out). The certificates are kept beside it. The key is also
// the phone's login: it signs the issuer's challenge for a session (`session`), so the holder
// credential pasted at sign-in is used once, to register the key, and never stored.
//
// One record per holder, keyed by the holder's voucher id: two people signed in on one
// browser (two tabs, a shared family phone, a kiosk) each have their own key and
// certificates, and a tab only ever reads the record of the holder whose name it shows.
"use strict";
const Offline = (() => {
  const DB = "yibao", STORE = "device";
  // Where a browser kept its one record before records were per holder.
  const LEGACY = "device";
  // Seconds a device code is valid; the page draws a fresh one well before.
  const LIFETIME = 60;
  const encoder = new TextEncoder();

  function open() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  async function run(mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => { db.close(); resolve(request.result); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  }
  // Moves a record kept the old way under its holder's key, once.
  async function migrate() {
    const legacy = await run("readonly", (s) => s.get(LEGACY));
    if (legacy && legacy.holder) {
      await run("readwrite", (s) => { s.put(legacy, legacy.holder); return s.delete(LEGACY); });
    }
  }
  const ready = migrate().catch(() => {});
  // `holder`'s record, or null. Never another holder's.
  const load = (holder) => ready
    .then(() => (holder ? run("readonly", (s) => s.get(holder)) : null))
    .then((r) => (r && r.holder === holder ? r : null));
  // Every holder's record on this browser, most recently certified first.
  const all = () => ready
    .then(() => run("readonly", (s) => s.getAll()))
    .then((rs) => (rs || []).filter((r) => r && r.holder)
      .sort((a, b) => (b.renew_after || 0) - (a.renew_after || 0)));
  const save = (record) => run("readwrite", (s) => s.put(record, record.holder));
  const erase = (holder) => run("readwrite", (s) => s.delete(holder));

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  const b64url = (bytes) => btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const fromB64url = (text) =>
    Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const fromHex = (hex) => Uint8Array.from(hex.match(/../g).map((h) => parseInt(h, 16)));
  function u64(n) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    return b;
  }

  // The text form (§2): "96", then each 7-byte group as fixed-width decimal digits.
  const WIDTH = [0, 3, 5, 8, 10, 13, 15, 17];
  function toText(bytes) {
    let text = "96";
    for (let i = 0; i < bytes.length; i += 7) {
      const group = bytes.subarray(i, i + 7);
      let value = 0n;
      for (const b of group) value = (value << 8n) | BigInt(b);
      text += value.toString().padStart(WIDTH[group.length], "0");
    }
    return text;
  }

  // SEC1 compressed point (33 bytes) from WebCrypto's raw export (65 bytes: 04 || x || y).
  async function compressed(publicKey) {
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
    return concat(new Uint8Array([2 + (raw[64] & 1)]), raw.subarray(1, 33));
  }
  // ECDSA P-256/SHA-256; WebCrypto answers r || s, the form the format uses.
  async function sign(privateKey, bytes) {
    return new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, bytes));
  }
  // Proof of possession: "yibao.device-pop.v1" || voucher id || signed_at (u64) || key.
  async function proof(keys, holder, signedAt) {
    const message = concat(encoder.encode("yibao.device-pop.v1"), fromHex(holder), u64(signedAt),
      await compressed(keys.publicKey));
    return b64url(await sign(keys.privateKey, message));
  }

  // What the device list calls this phone: its system and browser, never anything personal.
  function label() {
    const ua = navigator.userAgent;
    const system = [["iPhone", "iPhone"], ["iPad", "iPad"], ["Android", "Android"], ["HarmonyOS", "HarmonyOS"],
      ["Windows", "Windows"], ["Mac OS", "Mac"], ["Linux", "Linux"]].find(([k]) => ua.includes(k));
    const browser = [["Edg/", "Edge"], ["MicroMessenger", "WeChat"], ["Firefox/", "Firefox"],
      ["Chrome/", "Chrome"], ["Safari/", "Safari"]].find(([k]) => ua.includes(k));
    return [system && system[1], browser && browser[1]].filter(Boolean).join(" · ") || "browser";
  }

  function keep(record, answer) {
    record.device_id = answer.device_id;
    record.renew_after = answer.renew_after;
    record.certificates = answer.certificates;
    return save(record).then(() => record);
  }

  // This phone's registration for `holder`: renewed when due or when `force` (a family
  // change); made (a new non-extractable key) only when `register` (signing in with the
  // pasted credential), never in the background: a tab must not register again a key another
  // tab signed out. `api(method, path, body)` is the page's authenticated fetch; it throws
  // {status, code} on an error answer. Null when there is no registration to renew.
  async function ensure(api, holder, maskedName, now, force, register) {
    const record = await load(holder);
    if (!record) {
      if (!register) return null;
      const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
      const body = { public_key: b64url(await compressed(keys.publicKey)), signed_at: now,
        proof: await proof(keys, holder, now), label: label() };
      const answer = await (await api("POST", "/v1/devices", body)).json();
      return keep({ holder, masked_name: maskedName, keys }, answer);
    }
    if (!force && now < record.renew_after) return record;
    try {
      const body = { signed_at: now, proof: await proof(record.keys, holder, now) };
      return keep(record, await (await api("POST", `/v1/devices/${record.device_id}/renew`, body)).json());
    } catch (e) {
      // Removed meanwhile (from another device list, or a lost-phone report): start over.
      if (e.status === 404) { await erase(holder); return ensure(api, holder, maskedName, now, false, register); }
      throw e;
    }
  }

  // The phone's login: the issuer's challenge signed with `holder`'s registered key gives a
  // session ({session, expires_at}). Throws {status} when the issuer refuses (the device was
  // removed: signed out elsewhere, a lost-phone report) and {code: "network"} when it does
  // not answer.
  async function session(holder) {
    const record = await load(holder);
    if (!record || !record.device_id) { const e = new Error("unauthorized"); e.status = 401; throw e; }
    const { challenge } = await post("/v1/device-sessions/challenge");
    const message = concat(encoder.encode("yibao.device-session.v1"), fromHex(holder),
      fromHex(record.device_id), fromB64url(challenge));
    return post("/v1/device-sessions", { voucher_id: holder, device_id: record.device_id,
      challenge, signature: b64url(await sign(record.keys.privateKey, message)) });
  }

  // Sign-out of `holder`: the key signs a statement that removes its registration (and
  // revokes its certificates), the key and certificates are deleted at once, and the
  // statement goes to the issuer now or, offline, at the next contact (`sendSignOuts`).
  // Other holders' records on this browser stay.
  const PENDING = "yibao.signouts";
  const pending = () => { try { return JSON.parse(localStorage.getItem(PENDING) || "[]"); } catch (e) { return []; } };
  async function signOut(holder) {
    const record = await load(holder);
    if (record && record.device_id) {
      const message = concat(encoder.encode("yibao.device-signout.v1"), fromHex(holder), fromHex(record.device_id));
      const statement = { device_id: record.device_id, voucher_id: holder,
        signature: b64url(await sign(record.keys.privateKey, message)) };
      localStorage.setItem(PENDING, JSON.stringify(pending().concat([statement])));
    }
    if (holder) await erase(holder);
    await sendSignOuts();
  }
  // Sends the sign-outs still waiting; each is kept until the issuer answers it.
  async function sendSignOuts() {
    for (const s of pending()) {
      try {
        await post(`/v1/devices/${s.device_id}/sign-out`, { voucher_id: s.voucher_id, signature: s.signature });
      } catch (e) {
        if (!e.status || e.status >= 500) continue;  // no answer: next time
      }
      localStorage.setItem(PENDING, JSON.stringify(pending().filter((p) => p.device_id !== s.device_id)));
    }
    return pending().length;
  }
  // Forgets `holder`'s record without telling the issuer (it removed the device already).
  const drop = (holder) => erase(holder);

  // An unauthenticated POST to the issuer with a timeout; throws like the page's `api`.
  async function post(path, body) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 4000);
    let res;
    try {
      res = await fetch(path, { method: "POST", signal: abort.signal, cache: "no-store",
        headers: body ? { "content-type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined });
    } catch (e) {
      const err = new Error("network"); err.code = "network"; throw err;
    } finally { clearTimeout(timer); }
    if (!res.ok) {
      let code = "";
      try { code = (await res.json()).code; } catch (e) { /* not JSON */ }
      const err = new Error(code); err.code = code; err.status = res.status; throw err;
    }
    return res.status === 204 ? null : res.json();
  }

  let nonce = crypto.getRandomValues(new Uint16Array(1))[0];
  // A device code for `voucher` at `now` (the issuer's time as last seen): {code, expires_at,
  // certificate}, {expired: certificate} when the certificate has run out, or null when this
  // phone holds none for `voucher`.
  async function present(record, voucher, now) {
    const certificate = record.certificates.find((c) => c.voucher_id === voucher);
    if (!certificate) return null;
    if (now >= certificate.expires_at) return { expired: certificate };
    // Never dated before the certificate, whatever this phone's clock says.
    const at = Math.max(now, certificate.issued_at);
    const fields = new Uint8Array(7);
    const view = new DataView(fields.buffer);
    view.setUint32(0, at);
    fields[4] = LIFETIME;
    nonce = (nonce + 1) & 0xffff;
    view.setUint16(5, nonce);
    const signed = fromB64url(certificate.certificate);
    const signature = await sign(record.keys.privateKey,
      concat(encoder.encode("yibao.present.v1"), signed, fields));
    return { code: toText(concat(signed, fields, signature)), expires_at: at + LIFETIME,
      lifetime: LIFETIME, certificate };
  }

  const signOutsWaiting = () => pending().length > 0;

  return { load, all, ensure, session, signOut, sendSignOuts, signOutsWaiting, drop, present, label };
})();
