// Offline codes (离线码) on the app page: the device key, its certificates, presentations.
// The format is docs/token-format.md §8; the registration API is docs/issuer.md.
//
// The key is a non-extractable WebCrypto ECDSA P-256 key kept in IndexedDB (the page can
// sign with it, nobody can read it out). The certificates are kept beside it. The holder
// credential is never stored here: it stays in the tab's sessionStorage.
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

  function keep(record, answer) {
    record.device_id = answer.device_id;
    record.renew_after = answer.renew_after;
    record.certificates = answer.certificates;
    return save(record).then(() => record);
  }

  // This phone's registration for `holder`: made if missing (a new non-extractable key),
  // renewed when due or when `force` (a family change). `api(method, path, body)` is the
  // page's authenticated fetch; it throws {status, code} on an error answer.
  async function ensure(api, holder, maskedName, now, force) {
    const record = await load(holder);
    if (!record) {
      const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
      const body = { public_key: b64url(await compressed(keys.publicKey)), signed_at: now,
        proof: await proof(keys, holder, now), label: "app page" };
      const answer = await (await api("POST", "/v1/devices", body)).json();
      return keep({ holder, masked_name: maskedName, keys }, answer);
    }
    if (!force && now < record.renew_after) return record;
    try {
      const body = { signed_at: now, proof: await proof(record.keys, holder, now) };
      return keep(record, await (await api("POST", `/v1/devices/${record.device_id}/renew`, body)).json());
    } catch (e) {
      // Removed meanwhile (from another device list, or a lost-phone report): start over.
      if (e.status === 404) { await erase(holder); return ensure(api, holder, maskedName, now, false); }
      throw e;
    }
  }

  // Sign-out of `holder`: the registration is removed (its certificates are revoked) and the
  // key and certificates deleted. Offline, the local copy is deleted all the same. Other
  // holders' records on this browser stay.
  async function forget(api, holder) {
    const record = await load(holder);
    if (record && api) {
      try { await api("DELETE", `/v1/devices/${record.device_id}`); } catch (e) { /* offline */ }
    }
    if (holder) await erase(holder);
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

  return { load, all, ensure, forget, present };
})();
