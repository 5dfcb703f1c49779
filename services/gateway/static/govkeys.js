// GovChain: keys stay on the device.
//
// window.GovKeys makes or imports an Ed25519 key with WebCrypto, keeps the private key as a
// NON-extractable CryptoKey in IndexedDB (the browser itself refuses to hand its bytes to any
// script, this one included) and signs with it. What leaves the device: the public key, key id,
// signatures and the signed events. The gateway never receives a private key.
//
// A classic script (no build step, no dependency, no other host): load it with
//   <script src="/static/govkeys.js"></script>
// and use window.GovKeys:
//   generate(label)            → {keyId, publicKeyHex, publicKeyMultibase, label, created}
//   importPem(pemText, label)  → the same, from a PKCS#8 Ed25519 PEM (`govchain keygen`)
//   current() / list()         → the key in use (or null) / every key kept here, oldest first
//   use(keyId)                 → make another kept key the one in use (a session of another key
//                                is signed out, as it is when generate/importPem keep a new key)
//   forget(keyId?, {unlessInUse?}) → delete a key (default: the one in use) and its session;
//                                the key in use stays in use when another one is deleted
//   canonical(value)           → RFC 8785 (JCS) string
//   signEvent({source, type, data, subject?, id?, time?, schemaversion?})
//                              → the signed envelope, exactly as Python's make_event builds it
//   submit(envelope, {wait?})  → the JSON answer of POST /api/v1/events (201 receipt, or 202
//                                pending); a refusal throws GovKeysError {status, code, message}
//   signIn(principal?)         → signs a challenge, keeps the bearer token in sessionStorage
//                                (no principal: the key's owner, asked with whoAmI())
//   whoAmI()                   → {principal, kind}: whose key this is (signed challenge, holder only)
//   session() / signOut()      → {token, principal, keyId, expires} or null / drop it
//   checkSession()             → session(), after dropping one whose key is no longer in use
//   authHeaders()              → {Authorization: "Bearer …"} or {}
//   sha256Hex(bytes|Blob)      → hex SHA-256 (documents are hashed here; only the hash is sent)
(function () {
  "use strict";

  const DB_NAME = "govchain-keys";
  const STORE = "keys";
  const META = "meta";
  const SESSION = "govchain.session";
  const ED25519 = { name: "Ed25519" };
  const encoder = new TextEncoder();

  class GovKeysError extends Error {
    constructor(code, message, extra = {}) {
      super(message);
      this.name = "GovKeysError";
      this.code = code;
      Object.assign(this, extra);
    }
  }

  // ------------------------------------------------------------------ bytes and encodings

  function bytesToHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function hexToBytes(hex) {
    if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/.test(hex)) throw new GovKeysError("bad_hex", "not lower-case hex");
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function b64urlToBytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }

  const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

  function base58btc(bytes) {
    let zeros = 0;
    while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
    let number = 0n;
    for (const b of bytes) number = (number << 8n) | BigInt(b);
    let digits = "";
    while (number > 0n) {
      digits = B58[Number(number % 58n)] + digits;
      number /= 58n;
    }
    return "1".repeat(zeros) + digits;
  }

  // publicKeyMultibase: multicodec ed25519-pub (0xed 0x01) + raw key, base58btc, prefix "z".
  function multibase(raw) {
    const prefixed = new Uint8Array(2 + raw.length);
    prefixed.set([0xed, 0x01]);
    prefixed.set(raw, 2);
    return "z" + base58btc(prefixed);
  }

  async function sha256Hex(input) {
    const bytes = input instanceof Blob ? new Uint8Array(await input.arrayBuffer())
      : typeof input === "string" ? encoder.encode(input) : input;
    return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  }

  // ------------------------------------------------------------------ RFC 8785 (JCS)

  // Strings are written as JSON.stringify writes them, which is RFC 8785 §3.2.2.2 (the
  // shortest escapes, \u00XX for other controls, everything else as is); numbers in ECMAScript
  // form (§3.2.2.3), integers within ±(2^53 − 1); object keys sorted by UTF-16 code units,
  // which is JavaScript's default string order (§3.2.3). A lone surrogate has no UTF-8 form.
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

  function canonical(value) {
    if (value === null || typeof value === "boolean") return JSON.stringify(value);
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new GovKeysError("canonical", `${value} has no JSON form`);
      // Written without an exponent (below 1e21), an integer beyond ±(2^53 − 1) reads back as
      // an integer no JSON reader holds exactly, and the kernel refuses it: refuse it here.
      if (Number.isInteger(value) && !Number.isSafeInteger(value) && Math.abs(value) < 1e21) {
        throw new GovKeysError("canonical", `${value} is beyond ±(2^53 − 1)`);
      }
      return JSON.stringify(value);
    }
    if (typeof value === "string") {
      if (LONE_SURROGATE.test(value)) throw new GovKeysError("canonical", "a string holds a lone surrogate");
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (typeof value === "object") {
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
        throw new GovKeysError("canonical", "only plain objects are JSON objects");
      }
      const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
      return "{" + keys.map((k) => canonical(k) + ":" + canonical(value[k])).join(",") + "}";
    }
    throw new GovKeysError("canonical", `a ${typeof value} has no JSON form`);
  }

  // ------------------------------------------------------------------ IndexedDB

  let dbPromise = null;

  function db() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        if (!window.indexedDB) { reject(new GovKeysError("no_storage", "this browser has no IndexedDB")); return; }
        const open = indexedDB.open(DB_NAME, 1);
        open.onupgradeneeded = () => {
          open.result.createObjectStore(STORE, { keyPath: "keyId" });
          open.result.createObjectStore(META);
        };
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(new GovKeysError("no_storage", String(open.error)));
      });
      dbPromise.catch(() => { dbPromise = null; });
    }
    return dbPromise;
  }

  async function tx(stores, mode, work) {
    const database = await db();
    return new Promise((resolve, reject) => {
      const t = database.transaction(stores, mode);
      let result;
      t.oncomplete = () => resolve(result);
      t.onerror = () => reject(new GovKeysError("storage", String(t.error)));
      t.onabort = () => reject(new GovKeysError("storage", String(t.error)));
      const request = work(t);
      if (request) request.onsuccess = () => { result = request.result; };
    });
  }

  const publicView = (record) => record && ({
    keyId: record.keyId,
    publicKeyHex: record.publicKeyHex,
    publicKeyMultibase: record.publicKeyMultibase,
    label: record.label,
    created: record.created,
  });

  // Keeps a key and makes it the one in use. The same key kept again (a PEM imported twice)
  // keeps its place in list(): its first "created" and "seq" (a counter, as two keys made within
  // one millisecond share a "created"); a new label replaces the old one, an empty one does not.
  async function keep(privateKey, rawPublic, label) {
    if (privateKey.extractable) throw new GovKeysError("extractable", "refusing to keep an extractable private key");
    const record = {
      keyId: await sha256Hex(rawPublic),
      publicKeyHex: bytesToHex(rawPublic),
      publicKeyMultibase: multibase(rawPublic),
      label: String(label ?? "").slice(0, 200),
      created: new Date().toISOString(),
      privateKey, // a CryptoKey: structured-cloned into IndexedDB, still non-extractable
    };
    await tx([STORE, META], "readwrite", (t) => {
      const keys = t.objectStore(STORE), meta = t.objectStore(META);
      const before = keys.get(record.keyId), counter = meta.get("seq");
      counter.onsuccess = () => {
        if (before.result) {
          record.created = before.result.created;
          record.seq = before.result.seq;
          if (!record.label) record.label = before.result.label ?? "";
        }
        if (typeof record.seq !== "number") {
          record.seq = (Number.isSafeInteger(counter.result) ? counter.result : 0) + 1;
          meta.put(record.seq, "seq");
        }
        keys.put(record);
      };
      return meta.put(record.keyId, "current");
    });
    inUseNow(record.keyId);
    return publicView(record);
  }

  async function record(keyId) {
    if (!keyId) return null;
    return (await tx([STORE], "readonly", (t) => t.objectStore(STORE).get(keyId))) ?? null;
  }

  async function currentRecord() {
    const keyId = await tx([META], "readonly", (t) => t.objectStore(META).get("current"));
    return record(keyId);
  }

  function needCrypto() {
    if (!window.crypto?.subtle) throw new GovKeysError("no_crypto", "this browser has no WebCrypto (use https or localhost)");
  }

  // ------------------------------------------------------------------ keys

  async function generate(label) {
    needCrypto();
    let pair;
    try {
      pair = await crypto.subtle.generateKey(ED25519, false, ["sign", "verify"]);
    } catch (error) {
      throw new GovKeysError("no_ed25519", `this browser cannot make Ed25519 keys: ${error?.message ?? error}`);
    }
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return keep(pair.privateKey, raw, label);
  }

  function pemBody(pemText) {
    const match = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(String(pemText ?? ""));
    if (!match) {
      throw new GovKeysError("bad_pem", "not a PKCS#8 private key PEM (-----BEGIN PRIVATE KEY-----)");
    }
    try {
      return Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    } catch {
      throw new GovKeysError("bad_pem", "the PEM's body is not base64");
    }
  }

  // A PKCS#8 Ed25519 key holds the 32-byte seed, not the public key. WebCrypto derives it only
  // for a key it may export, so the seed is imported extractable once, read back as a JWK
  // (which carries the public "x"), and imported again non-extractable; only that one is kept.
  async function importPem(pemText, label) {
    needCrypto();
    const der = pemBody(pemText);
    let jwk;
    try {
      const transient = await crypto.subtle.importKey("pkcs8", der, ED25519, true, ["sign"]);
      jwk = await crypto.subtle.exportKey("jwk", transient);
    } catch (error) {
      throw new GovKeysError("bad_pem", `not an Ed25519 private key: ${error?.message ?? error}`);
    } finally {
      der.fill(0);
    }
    try {
      const privateKey = await crypto.subtle.importKey(
        "jwk", { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x }, ED25519, false, ["sign"]);
      return await keep(privateKey, b64urlToBytes(jwk.x), label);
    } finally {
      jwk.d = "";
    }
  }

  async function current() {
    return publicView(await currentRecord());
  }

  // Oldest first, so a list on screen does not reorder as keys come and go (IndexedDB itself
  // returns them by key id, a hash).
  async function list() {
    const all = await tx([STORE], "readonly", (t) => t.objectStore(STORE).getAll());
    const compare = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
    const order = (a, b) => compare(String(a.created), String(b.created))
      || compare(a.seq ?? 0, b.seq ?? 0) || compare(a.keyId, b.keyId);
    return (all || []).sort(order).map(publicView);
  }

  // The check and the switch in one transaction: a key another tab has just deleted is refused,
  // never made current. A session held for another key is dropped (see dropSessionUnlessFor).
  async function use(keyId) {
    let found = null;
    await tx([STORE, META], "readwrite", (t) => {
      const ask = t.objectStore(STORE).get(String(keyId ?? ""));
      ask.onsuccess = () => {
        found = ask.result ?? null;
        if (found) t.objectStore(META).put(found.keyId, "current");
      };
    });
    if (!found) throw new GovKeysError("no_key", "no such key on this device");
    inUseNow(found.keyId);
    return current();
  }

  // Deletes exactly one key (default: the one in use). The "current" pointer moves only when it
  // named that key: then no key is in use until one is chosen (none is picked for the person).
  // With {unlessInUse: true} a key that is (by now) the one in use is kept, and false returned:
  // the check and the deletion are one transaction, so another tab cannot switch in between.
  async function forget(keyId, { unlessInUse = false } = {}) {
    const target = keyId ?? (await tx([META], "readonly", (t) => t.objectStore(META).get("current")));
    if (!target) return false;
    let deleted = false, inUse = null;
    await tx([STORE, META], "readwrite", (t) => {
      const meta = t.objectStore(META);
      const ask = meta.get("current");
      ask.onsuccess = () => {
        inUse = ask.result ?? null;
        if (unlessInUse && inUse === target) return;
        t.objectStore(STORE).delete(target);
        deleted = true;
        if (inUse === target) {
          meta.delete("current");
          inUse = null;
        }
      };
    });
    if (deleted) inUseNow(inUse);
    return deleted;
  }

  async function signingRecord() {
    needCrypto();
    const held = await currentRecord();
    if (!held) throw new GovKeysError("no_key", "no key on this device: make or import one first");
    return held;
  }

  async function signBytes(held, bytes) {
    return bytesToHex(new Uint8Array(await crypto.subtle.sign(ED25519, held.privateKey, bytes)));
  }

  // ------------------------------------------------------------------ events

  // RFC 3339 UTC with microseconds, as Python's utc_now writes it (the browser knows milliseconds).
  const utcNow = () => new Date().toISOString().replace(/\.(\d{3})Z$/, (_, ms) => `.${ms}000Z`);
  const newEventId = () => crypto.randomUUID().replace(/-/g, "");

  // The envelope of Python's make_event: CloudEvents attributes plus signer; the signature is
  // Ed25519 over the RFC 8785 bytes of the envelope without "signature" (a missing subject is
  // omitted, never null).
  async function signEvent({ source, type, data, subject, id, time, schemaversion = 1 }) {
    if (typeof source !== "string" || typeof type !== "string") throw new GovKeysError("bad_event", "source and type are strings");
    if (data === null || typeof data !== "object" || Array.isArray(data)) throw new GovKeysError("bad_event", "data is a JSON object");
    const held = await signingRecord();
    const envelope = {
      specversion: "1.0",
      id: id ?? newEventId(),
      source,
      type,
      schemaversion,
      time: time ?? utcNow(),
      datacontenttype: "application/json",
      data,
      signer: held.keyId,
    };
    if (subject !== undefined && subject !== null) envelope.subject = subject;
    const signing = encoder.encode(canonical(envelope));
    envelope.signature = await signBytes(held, signing);
    return envelope;
  }

  async function answer(response) {
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    if (!response.ok) {
      const error = body?.error ?? {};
      throw new GovKeysError(error.code ?? `http_${response.status}`, error.message ?? `HTTP ${response.status}`,
        { status: response.status, answer: body });
    }
    return body;
  }

  async function submit(envelope, { wait } = {}) {
    const url = "/api/v1/events" + (wait === undefined ? "" : `?wait=${encodeURIComponent(wait)}`);
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: canonical(envelope),
    });
    const body = await answer(response);
    return body && typeof body === "object" ? Object.assign(body, { httpStatus: response.status }) : body;
  }

  // ------------------------------------------------------------------ signing in

  function session() {
    try {
      const held = JSON.parse(window.sessionStorage.getItem(SESSION) || "null");
      if (!held || typeof held.token !== "string" || held.expires * 1000 <= Date.now()) return null;
      return held;
    } catch {
      return null;
    }
  }

  function signOut() {
    try { window.sessionStorage.removeItem(SESSION); } catch { /* storage refused: nothing kept */ }
  }

  // A session is its key's: once another key is in use (chosen, made or imported), a session
  // signed with the previous one is dropped, not merely hidden. Kept, authHeaders() would still
  // send its token, and whoever switched (a family sharing a tablet) would read the previous
  // person's cases; switching back asks for a new sign-in, which the key in hand can always do.
  function dropSessionUnlessFor(keyId) {
    const held = session(); // null for none or an expired one: nothing worth keeping either way
    if (!held || held.keyId !== keyId) signOut();
  }

  // Sessions live per tab (sessionStorage) but the key in use is the device's (IndexedDB): when
  // one tab changes it, every other open tab of the portal drops a session of another key too.
  const tabs = typeof BroadcastChannel === "function" ? new BroadcastChannel("govkeys") : null;
  if (tabs) {
    tabs.onmessage = (event) => {
      const inUse = event.data?.inUse;
      if (inUse === null || typeof inUse === "string") dropSessionUnlessFor(inUse);
    };
  }

  // The key in use is now ``keyId`` (null: none): here and in the other tabs, a session of any
  // other key is dropped.
  function inUseNow(keyId) {
    dropSessionUnlessFor(keyId);
    tabs?.postMessage({ inUse: keyId });
  }

  // Whether the session this tab holds is the key in use's (another tab may have switched
  // while this one was closed or asleep); a session that is not is dropped.
  async function checkSession() {
    dropSessionUnlessFor((await current())?.keyId ?? null);
    return session();
  }

  const post = (url, body) => fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: body === undefined ? "{}" : JSON.stringify(body),
  }).then(answer);

  async function signedChallenge(held) {
    const { challenge } = await post("/api/v1/auth/challenge");
    return { key_id: held.keyId, challenge, signature: await signBytes(held, encoder.encode(challenge)) };
  }

  // Whose key this is, as the chain knows it: {principal, kind}. Told only to the key's holder
  // (it signs a challenge), since a citizen's pseudonym is not shown to the public.
  async function whoAmI() {
    return post("/api/v1/me/principal", await signedChallenge(await signingRecord()));
  }

  async function signIn(principal) {
    const held = await signingRecord();
    if (!principal) principal = (await whoAmI()).principal;
    const issued = await post("/api/v1/auth/session", { principal, ...(await signedChallenge(held)) });
    const kept = { token: issued.token, principal: issued.principal, expires: issued.expires, keyId: held.keyId };
    window.sessionStorage.setItem(SESSION, JSON.stringify(kept));
    return kept;
  }

  function authHeaders() {
    const held = session();
    return held ? { Authorization: `Bearer ${held.token}` } : {};
  }

  window.GovKeys = Object.freeze({
    generate, importPem, current, list, use, forget,
    canonical, signEvent, submit,
    signIn, whoAmI, session, checkSession, signOut, authHeaders,
    sha256Hex, bytesToHex, hexToBytes, multibase,
    GovKeysError,
  });
})();
