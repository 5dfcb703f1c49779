// GovChain one-stop service, the citizen's side: signing in, applying, following a case, my services and
// checking a licence credential, all in this browser. The key is window.GovKeys's (govkeys.js):
// non-extractable, in IndexedDB; only public keys, signatures, signed events and document
// hashes leave the device. No build step, no dependency, no other host.

import { checkCheckpoint, checkWitnessedInclusion } from "/static/checkpoint.js";
import {
  CheckError, bytesToHex, canonicalBytes, checkProof, ed25519Verify, hexToBytes, orderersFromGenesis, remembered, sha256,
  short,
} from "/static/verify.js";

const K = window.GovKeys;
const data = JSON.parse(document.getElementById("service-data").textContent);
const messages = JSON.parse(document.getElementById("service-messages").textContent);
const PRINCIPAL = "govchain.service.principal";
const HANDED_OVER = "govchain.service.credential";
const FINAL_STATES = new Set(["issued", "rejected", "recorded", "expired", "refused", "granted"]);

const $ = (id) => document.getElementById(id);
const when = (iso) => {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso ?? "—") : date.toLocaleString(data.lang);
};

function t(key, params = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

const known = (key, fallback) => (key in messages ? t(key) : fallback);
const stateName = (state) => known(`service.state.${state}`, state);

function say(element, text, state = "") {
  if (!element) return;
  element.textContent = text;
  if (state) element.dataset.state = state; else delete element.dataset.state;
}

function failure(error) {
  if (error instanceof ApiError && error.status === 401) return t("service.js.session_expired");
  const code = error?.code ?? "error";
  return t("service.js.error", { message: error?.message ?? String(error), code });
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(url, { method = "GET", body, raw = false } = {}) {
  const headers = { Accept: raw ? "*/*" : "application/json", ...K.authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let error = {};
    try { error = (await response.json()).error ?? {}; } catch { /* not JSON */ }
    if (response.status === 401 && headers.Authorization) K.signOut(); // expired: sign in again
    throw new ApiError(response.status, error.code ?? `http_${response.status}`, error.message ?? `HTTP ${response.status}`);
  }
  return raw ? response.blob() : response.json();
}

function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "—";
  row.append(td);
  return td;
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

function button(text, onClick, secondary = true) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (secondary) b.className = "svc-secondary";
  b.addEventListener("click", onClick);
  return b;
}

// ---------------------------------------------------------------- signing in

async function setupSignin(onSignedIn) {
  const status = $("signin-status");
  if (!status) return;
  const form = $("signin-form"), out = $("signin-message"), signedIn = $("signed-in");
  const principalInput = $("signin-principal");
  let key = null;
  try {
    key = await K.current();
  } catch (error) {
    say(status, failure(error), "bad");
    return;
  }
  const showSignedIn = async (held) => {
    form.hidden = true;
    signedIn.hidden = false;
    say(status, t("service.js.signed_in", {
      principal: held.principal, until: new Date(held.expires * 1000).toLocaleTimeString(data.lang),
    }), "in");
    await onSignedIn(held);
  };
  const held = await K.checkSession(); // a session of a key another tab switched away from is dropped
  if (!key) { // keys kept but none in use (the one in use was deleted): choose one, not make one
    const kept = await K.list().then((all) => all.length, () => 0);
    say(status, t(kept ? "service.js.no_key_chosen" : "service.js.no_key"));
    return;
  }
  if (held && held.keyId === key.keyId) {
    await showSignedIn(held);
  } else {
    say(status, t("service.js.signed_out"));
    form.hidden = false;
    try { principalInput.value = window.localStorage.getItem(PRINCIPAL) || ""; } catch { /* no storage */ }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const principal = principalInput.value.trim(); // empty: the key's owner, asked by signing
    if (principal && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(principal)) {
      say(out, t("service.js.bad_principal"), "bad");
      principalInput.focus();
      return;
    }
    say(out, t("service.js.signing_in"));
    try {
      const session = await K.signIn(principal);
      try { window.localStorage.setItem(PRINCIPAL, session.principal); } catch { /* no storage */ }
      say(out, "");
      await showSignedIn(session);
    } catch (error) {
      say(out, failure(error), "bad");
    }
  });
  $("signout-button")?.addEventListener("click", () => {
    K.signOut();
    window.location.reload();
  });
}

// ---------------------------------------------------------------- keys and enrolment

async function keysPage() {
  const status = $("key-status"), card = $("key-card"), out = $("key-message");
  const others = $("key-others"), othersList = $("key-others-list");
  const named = (key) => key.label || t("service.js.key_unnamed");
  const focusOn = (element) => { element.tabIndex = -1; element.focus(); };
  // Another key on this device: its name, id and when it was added, to use it or delete it.
  const otherItem = (key, index) => {
    const item = document.createElement("li");
    item.dataset.keyId = key.keyId;
    const title = document.createElement("strong");
    title.id = `key-other-${index}`;
    title.className = "svc-key-label";
    title.textContent = named(key);
    const facts = document.createElement("dl");
    facts.className = "svc-kv";
    const keyId = document.createElement("code");
    keyId.className = "svc-key-id";
    keyId.textContent = key.keyId;
    for (const [term, value] of [[t("service.keys.key_id"), keyId], [t("service.keys.added"), when(key.created)]]) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = term;
      dd.append(value);
      facts.append(dt, dd);
    }
    const actions = document.createElement("div");
    actions.className = "svc-actions";
    const buttons = [
      button(t("service.js.key_use"), () => useKey(key), false),
      button(t("service.js.key_delete"), () => deleteKey(key)),
    ];
    for (const b of buttons) b.setAttribute("aria-describedby", title.id); // which key: "use this key" is said of each
    actions.append(...buttons);
    item.append(title, facts, actions);
    return item;
  };
  const render = async () => {
    const [key, all] = await Promise.all([K.current(), K.list()]);
    const rest = all.filter((other) => other.keyId !== key?.keyId);
    othersList.replaceChildren(...rest.map(otherItem));
    others.hidden = !rest.length;
    card.hidden = !key;
    if (!key) { say(status, t(rest.length ? "service.js.key_none_chosen" : "service.js.key_none")); return; }
    say(status, t("service.js.key_ready", { label: key.label || "—" }), "in");
    $("key-label").textContent = key.label || "—";
    $("key-public").textContent = key.publicKeyHex;
    $("key-id").textContent = key.keyId;
    $("key-multibase").textContent = key.publicKeyMultibase;
    $("key-qr").src = `/service/qr.svg?text=${encodeURIComponent(key.publicKeyHex)}`;
  };
  const attempt = async (work, done, params = {}) => {
    say(out, "");
    try {
      await work();
      await render();
      say(out, t(done, params), "ok");
    } catch (error) {
      say(out, failure(error), "bad");
    }
  };
  // GovKeys.use signs out a session held for the previous key (govkeys.js, dropSessionUnlessFor):
  // whoever switches does not go on as the previous key's owner, and signs in again.
  const useKey = async (key) => {
    await attempt(() => K.use(key.keyId), "service.js.key_switched", { label: named(key) });
    focusOn($("key-current-heading")); // the clicked button is gone with the list it was in
  };
  // Deletes exactly this key, and only while it is not the key in use (another tab may have
  // switched to it since this list was drawn): GovKeys checks and deletes in one transaction.
  const deleteKey = async (key) => {
    const label = named(key);
    if (!window.confirm(t("service.js.key_delete_confirm", { label }))) return;
    say(out, "");
    try {
      const deleted = await K.forget(key.keyId, { unlessInUse: true });
      await render();
      if (deleted) say(out, t("service.js.key_deleted", { label }), "ok");
      else say(out, t("service.js.key_now_in_use", { label }), "bad");
    } catch (error) {
      say(out, failure(error), "bad");
    }
    focusOn(others.hidden ? $("key-current-heading") : $("key-others-heading"));
  };
  if (!window.crypto?.subtle) { say(status, t("service.js.no_crypto"), "bad"); return; }
  $("key-generate").addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(() => K.generate($("key-name").value.trim()), "service.js.key_made");
  });
  $("key-pem-file").addEventListener("change", async () => {
    const file = $("key-pem-file").files?.[0];
    if (file && file.size < 16 * 1024) $("key-pem").value = await file.text();
  });
  $("key-import").addEventListener("submit", (event) => {
    event.preventDefault();
    const pem = $("key-pem").value;
    if (!pem.trim()) { say(out, t("service.js.pem_empty"), "bad"); return; }
    attempt(async () => {
      await K.importPem(pem, $("key-name").value.trim() || $("key-pem-file").files?.[0]?.name || "");
      $("key-pem").value = "";
      $("key-pem-file").value = "";
    }, "service.js.key_imported");
  });
  $("key-forget").addEventListener("click", () => {
    if (!window.confirm(t("service.js.key_forget_confirm"))) return;
    attempt(() => K.forget(), "service.js.key_forgotten");
  });
  // Drawn once the forms listen: a form sent before then would be submitted by the browser itself.
  await render().catch((error) => say(status, failure(error), "bad"));
}

// ---------------------------------------------------------------- applying

function newApplicationId() {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "");
  const random = bytesToHex(crypto.getRandomValues(new Uint8Array(3))).toUpperCase();
  return `APP-${day}-${random}`;
}

async function applyPage() {
  const out = $("apply-message"), select = $("apply-business"), hashesList = $("apply-hashes");
  const fields = $("apply-fields");
  let documents = [];
  $("apply-id").value = newApplicationId();
  $("apply-kind").value = t("service.apply.kind_default");
  await setupSignin(async () => {
    try {
      const answer = await api("/api/v1/me/businesses");
      for (const record of answer.records) {
        const option = document.createElement("option");
        option.value = record.business_id;
        option.textContent = t("service.js.business_option", { name: record.name, id: record.business_id });
        select.append(option);
      }
      if (answer.records.length === 1) select.value = answer.records[0].business_id;
      if (!answer.records.length) say(out, t("service.js.businesses_none"), "bad");
      fields.disabled = false;
    } catch (error) {
      say(out, failure(error), "bad");
    }
  });
  $("apply-documents").addEventListener("change", async () => {
    documents = [];
    hashesList.replaceChildren();
    for (const file of $("apply-documents").files) {
      const item = document.createElement("li");
      item.textContent = t("service.js.hashing", { name: file.name });
      hashesList.append(item);
      const sha = await K.sha256Hex(file); // the file is read here; only this hash is sent
      documents.push(sha);
      item.textContent = t("service.js.hash_item", { name: file.name, sha });
      item.dataset.sha256 = sha;
    }
  });
  $("apply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const held = K.session();
    const business = select.value, kind = $("apply-kind").value.trim(), id = $("apply-id").value.trim();
    const problem = !held ? "service.js.signed_out" : !business ? "service.js.need_business"
      : !kind ? "service.js.need_kind" : !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id) ? "service.js.bad_id" : null;
    if (problem) { say(out, t(problem), "bad"); return; }
    $("apply-submit").disabled = true;
    say(out, t("service.js.submitting"));
    try {
      const envelope = await K.signEvent({
        source: held.principal,
        type: "license.applied",
        data: { application_id: id, applicant: held.principal, business_id: business, kind, documents: [...new Set(documents)] },
      });
      const receipt = await K.submit(envelope);
      say(out, receipt.status === "committed" ? t("service.js.submitted", { id: envelope.id, height: receipt.height })
        : t("service.js.pending"), "ok");
      window.location.assign(`/service/cases/${data.licence_contract}/${encodeURIComponent(id)}`);
    } catch (error) {
      say(out, failure(error), "bad");
      $("apply-submit").disabled = false;
    }
  });
}

// ---------------------------------------------------------------- licences as credentials

async function credentialOf(applicationId) {
  return api(`/api/v1/me/licences/${encodeURIComponent(applicationId)}/credential`);
}

async function downloadCredential(applicationId, out) {
  try {
    const credential = await credentialOf(applicationId);
    const blob = new Blob([JSON.stringify(credential, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `licence-${applicationId}.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    say(out, t("service.js.downloaded", { file: a.download }), "ok");
  } catch (error) {
    say(out, failure(error), "bad");
  }
}

async function showQr(applicationId, img, figure, out) {
  try {
    const blob = await api(`/api/v1/me/licences/${encodeURIComponent(applicationId)}/qr.svg`, { raw: true });
    img.src = URL.createObjectURL(blob);
    let save = figure.querySelector("a.svc-qr-download");
    if (!save) {
      save = link("#", t("service.case.download_qr"));
      save.className = "svc-qr-download";
      figure.append(save);
    }
    save.href = img.src;
    save.download = `licence-${applicationId}.svg`;
    figure.hidden = false;
  } catch (error) {
    say(out, failure(error), "bad");
  }
}

async function verifyHere(applicationId, out) {
  try {
    const credential = await credentialOf(applicationId);
    window.sessionStorage.setItem(HANDED_OVER, JSON.stringify(credential));
    window.location.assign("/service/verify");
  } catch (error) {
    say(out, failure(error), "bad");
  }
}

// ---------------------------------------------------------------- following a case

function conditionText(failed) {
  return failed ? known(`service.guard.${failed}`, failed) : "";
}

async function casePage() {
  const section = $("case"), stateLine = $("case-state"), reason = $("case-reason");
  const body = document.querySelector("#case-history tbody");
  const url = `/api/v1/applications/${encodeURIComponent(data.contract_id)}/${encodeURIComponent(data.case_key)}`;
  let timer = null, signedIn = false, rounds = 0;
  const render = (found) => {
    section.dataset.state = found.state;
    say(stateLine, t("service.js.case_state", { state: stateName(found.state) }), FINAL_STATES.has(found.state) ? found.state : "");
    body.replaceChildren();
    let failed = null;
    for (const step of found.history || []) {
      const row = document.createElement("tr");
      cell(row, String(step.height));
      cell(row, known(`service.step.${step.step}`, step.step));
      cell(row, stateName(step.state));
      cell(row, step.failed ? t("service.js.failed", { condition: conditionText(step.failed) }) : "—");
      if (step.failed) failed = step.failed;
      body.append(row);
    }
    say(reason, failed ? t("service.js.failed", { condition: conditionText(failed) })
      : found.visibility === "public" ? t("service.js.case_public") : "", failed ? "bad" : "");
    $("case-issued").hidden = !(found.state === "issued" && data.contract_id === data.licence_contract && found.visibility !== "public");
  };
  const poll = async () => {
    clearTimeout(timer);
    let found = null;
    try {
      found = await api(url);
      render(found);
    } catch (error) {
      if (error.status === 404) say(stateLine, t("service.js.case_waiting"));
      else say(stateLine, failure(error), "bad");
    }
    const done = found && FINAL_STATES.has(found.state) && (found.visibility !== "public" || !signedIn);
    // Every second at first, then less often (at most every 15 s): a case can wait days on a department.
    if (!done) timer = setTimeout(poll, Math.min(15_000, 1000 * 1.25 ** rounds++));
  };
  await setupSignin(async () => { signedIn = true; await poll(); });
  if (!signedIn) await poll();
  const out = reason;
  $("case-download").addEventListener("click", () => downloadCredential(data.case_key, out));
  $("case-qr-button").addEventListener("click", () => showQr(data.case_key, $("case-qr"), $("case-qr-figure"), out));
  $("case-verify").addEventListener("click", (event) => { event.preventDefault(); verifyHere(data.case_key, out); });
}

// ---------------------------------------------------------------- my services

async function minePage() {
  const fillCases = async () => {
    const { cases } = await api("/api/v1/me/cases");
    const table = $("mine-cases"), body = table.querySelector("tbody"), list = $("mine-credentials");
    body.replaceChildren();
    list.replaceChildren();
    say($("mine-cases-empty"), cases.length ? "" : t("service.js.cases_none"));
    table.hidden = !cases.length;
    for (const found of cases) {
      const row = document.createElement("tr");
      cell(row, link(`/service/cases/${encodeURIComponent(found.contract_id)}/${encodeURIComponent(found.case_key)}`, found.case_key));
      cell(row, known(`service.contract.${found.contract_id}`, found.title || found.contract_id));
      cell(row, stateName(found.state));
      cell(row, when(found.entered_at));
      body.append(row);
    }
    const licences = cases.filter((c) => c.contract_id === data.licence_contract && c.state === "issued");
    say($("mine-credentials-empty"), licences.length ? "" : t("service.js.credentials_none"));
    for (const found of licences) {
      const item = document.createElement("li");
      const out = document.createElement("p");
      out.className = "svc-message";
      out.setAttribute("role", "status");
      const figure = document.createElement("figure");
      figure.className = "svc-qr";
      figure.hidden = true;
      const img = document.createElement("img");
      img.alt = t("service.case.qr_alt");
      figure.append(img);
      const actions = document.createElement("div");
      actions.className = "svc-actions";
      actions.append(
        button(t("service.case.download"), () => downloadCredential(found.case_key, out), false),
        button(t("service.case.show_qr"), () => showQr(found.case_key, img, figure, out)),
        button(t("service.case.verify"), () => verifyHere(found.case_key, out)),
      );
      const title = document.createElement("strong");
      title.textContent = t("service.js.credential_item", { licence: `L-${found.case_key}`, case: found.case_key });
      item.append(title, actions, figure, out);
      list.append(item);
    }
  };
  const fillLog = async () => {
    const { entries } = await api("/api/v1/me/access-log");
    const table = $("mine-log"), body = table.querySelector("tbody");
    body.replaceChildren();
    say($("mine-log-empty"), entries.length ? "" : t("service.js.log_none"));
    table.hidden = !entries.length;
    for (const entry of entries) {
      const row = document.createElement("tr");
      cell(row, when(entry.time));
      cell(row, entry.reader_department ? `${entry.reader} (${entry.reader_department})` : entry.reader);
      cell(row, entry.purpose);
      cell(row, `${entry.record}${Array.isArray(entry.fields) ? ": " + entry.fields.join(", ") : ""}`);
      cell(row, link(`/events/${encodeURIComponent(entry.event_id)}`, `#${entry.height}`));
      body.append(row);
    }
  };
  await setupSignin(async () => {
    for (const [work, empty] of [[fillCases, "mine-cases-empty"], [fillLog, "mine-log-empty"]]) {
      try { await work(); } catch (error) { say($(empty), failure(error), "bad"); }
    }
    $("erase-fields").disabled = false;
  });
  $("erase-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = $("erase-message"), held = K.session();
    if (!held) { say(out, t("service.js.signed_out"), "bad"); return; }
    if (!$("erase-confirm").checked) { say(out, t("service.js.erase_confirm_needed"), "bad"); return; }
    $("erase-submit").disabled = true;
    say(out, t("service.js.submitting"));
    try {
      const envelope = await K.signEvent({
        source: held.principal,
        type: "personal_data.erased",
        data: { subject: held.principal, reason: $("erase-reason").value.trim() || t("service.mine.erase_reason_default") },
      });
      const receipt = await K.submit(envelope);
      say(out, t("service.js.erased", { id: envelope.id, height: receipt.height ?? "…" }), "ok");
    } catch (error) {
      say(out, failure(error), "bad");
      $("erase-submit").disabled = false;
    }
  });
}

// ---------------------------------------------------------------- checking a licence credential

class Problem extends Error {
  constructor(key, params = {}) {
    super(key);
    this.key = key;
    this.params = params;
  }
}

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58btc(text) {
  let number = 0n;
  for (const char of text) {
    const value = B58.indexOf(char);
    if (value < 0) throw new Problem("vc_signature");
    number = number * 58n + BigInt(value);
  }
  const bytes = [];
  while (number > 0n) { bytes.unshift(Number(number & 255n)); number >>= 8n; }
  let zeros = 0;
  while (text[zeros] === "1") zeros++;
  return Uint8Array.from([...new Array(zeros).fill(0), ...bytes]);
}

const concat = (a, b) => { const out = new Uint8Array(a.length + b.length); out.set(a); out.set(b, a.length); return out; };

// eddsa-jcs-2022 (W3C Data Integrity EdDSA Cryptosuites §3.3.2): Ed25519 over
// SHA-256(JCS(proof options)) ‖ SHA-256(JCS(document without proof, with the proof's @context)).
async function dataIntegrityVerifies(credential, publicKey) {
  const { proofValue, ...options } = credential.proof;
  const { proof, ...unsecured } = credential;
  if (options.type !== "DataIntegrityProof" || options.cryptosuite !== "eddsa-jcs-2022") return false;
  if (typeof proofValue !== "string" || !proofValue.startsWith("z")) return false;
  if ("@context" in options) {
    const mine = [].concat(options["@context"]), theirs = [].concat(credential["@context"] ?? []);
    if (JSON.stringify(theirs.slice(0, mine.length)) !== JSON.stringify(mine)) return false;
    unsecured["@context"] = options["@context"];
  }
  const signature = base58btc(proofValue.slice(1));
  if (signature.length !== 64) return false;
  const hashed = concat(await sha256(canonicalBytes(options)), await sha256(canonicalBytes(unsecured)));
  return ed25519Verify(publicKey, signature, hashed);
}

async function fetchJson(url, failureKey) {
  const response = await fetch(url, { credentials: "omit", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Problem(failureKey, { detail: `HTTP ${response.status}` });
  return response.json();
}

// A platform service's key as genesis names it, with its key id in the chain's suite (SHA-256
// on an intl chain, SM3 on a gm chain).
async function serviceKey(services, principal, suite) {
  const hex = services?.[principal];
  if (typeof hex !== "string") return null;
  const raw = hexToBytes(hex);
  return { raw, keyId: await suite.keyId(raw) };
}

// An event's signature by a genesis service key, in the chain's suite.
async function signedBy(event, key, suite) {
  const { signature, ...unsigned } = event;
  return typeof signature === "string" && suite.verify(key.raw, hexToBytes(signature), canonicalBytes(unsigned));
}

// The issuer's Ed25519 credentials key on a chain whose own keys are not Ed25519 (gm): the
// credential names, after the licence event, the key.added event that registered the key for the
// issuer (purpose "credentials"). That event is fetched and checked like the licence's: signed by
// the issuer's genesis key in the chain's suite, included under an orderer-signed head. Whether
// the key was revoked since is the server's verdict (below), as it is for a genesis key.
async function credentialsKey(credential, issuer, principal, keyId, services, orderers, step) {
  const named = credential.evidence.find((item) => item?.eventType === "key.added");
  if (!named || typeof named.eventId !== "string" || named.source !== principal || named.chainId !== orderers.chainId) {
    throw new Problem("issuer_key_evidence", { issuer });
  }
  const found = await fetchJson(`/api/v1/events/${encodeURIComponent(named.source)}/${encodeURIComponent(named.eventId)}`, "issuer_key_fetch");
  // The public view hides a key's owner (it may be a citizen): the one owner this can be is the
  // issuer, put back here, and the event's signature and leaf hash below hold only if it is.
  let event = found.event;
  if (event?.data?.owner?.redacted === true) event = { ...event, data: { ...event.data, owner: principal } };
  const data = event?.data ?? {};
  if (!event || event.type !== "key.added" || event.source !== principal || data.owner !== principal
      || data.purpose !== "credentials" || typeof data.public_key !== "string" || !/^[0-9a-f]{64}$/.test(data.public_key)) {
    throw new Problem("issuer_key_evidence", { issuer });
  }
  const raw = hexToBytes(data.public_key);
  if (bytesToHex(await sha256(raw)) !== keyId) throw new Problem("issuer_key_mismatch", { issuer, key: short(keyId) });
  const owner = await serviceKey(services, principal, orderers.suite);
  if (!owner || event.signer !== owner.keyId) throw new Problem("issuer_key_signer", { issuer, key: short(event.signer) });
  if (!(await signedBy(event, owner, orderers.suite))) throw new Problem("issuer_key_signature", { issuer });
  if (found.proof?.leaf_hash !== named.leafHash) throw new Problem("issuer_key_proof", { detail: t("check.why.leaf", { got: short(found.proof?.leaf_hash), want: short(named.leafHash) }) });
  try {
    await checkProof({ proof: found.proof, event }, orderers, () => {});
  } catch (error) {
    if (!(error instanceof CheckError)) throw error;
    throw new Problem("issuer_key_proof", { detail: t(`check.why.${error.key}`, error.params) });
  }
  step("issuer_key_on_chain", { issuer, key: short(keyId), id: short(event.id), height: found.proof.head.header.height });
  return { raw, keyId };
}

function showClaims(credential) {
  const list = $("verify-claims");
  list.replaceChildren();
  const subject = credential.credentialSubject ?? {};
  for (const [key, value] of [
    ["licence_number", subject.licenseNumber], ["licence_kind", subject.licence], ["business", subject.businessId],
    ["holder", subject.id], ["valid_from", credential.validFrom], ["valid_until", credential.validUntil],
    ["issuer", typeof credential.issuer === "string" ? credential.issuer : credential.issuer?.id],
    ["credential_id", credential.id],
  ]) {
    const dt = document.createElement("dt");
    dt.textContent = t(`service.verify.claim.${key}`);
    const dd = document.createElement("dd");
    dd.textContent = value === undefined ? "—" : String(value);
    list.append(dt, dd);
  }
}

async function checkCredential(credential, section) {
  const steps = section.querySelector(".steps"), verdict = section.querySelector(".verdict");
  const anchor = section.querySelector(".anchor");
  steps.replaceChildren();
  anchor.textContent = "";
  section.dataset.state = "running";
  verdict.textContent = t("check.running");
  const step = (key, params = {}, state = "ok") => {
    const li = document.createElement("li");
    li.dataset.step = key;
    li.dataset.state = state;
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.textContent = t(state === "ok" ? "check.pass" : state === "skip" ? "check.skip" : "check.fail");
    const own = `service.check.step.${key}`;
    li.append(mark, " ", t(own in messages ? own : `check.step.${key}`, params));
    steps.append(li);
  };
  try {
    if (!window.crypto?.subtle) throw new CheckError("other", { detail: t("check.no_crypto") });
    const subject = credential?.credentialSubject;
    const evidence = Array.isArray(credential?.evidence) ? credential.evidence[0] : null;
    const proof = credential?.proof;
    if (!Array.isArray(credential?.type) || !credential.type.includes("BusinessLicenseCredential") || !subject
        || !proof || typeof proof !== "object" || Array.isArray(proof) || !evidence
        || typeof evidence.eventId !== "string" || typeof evidence.source !== "string") {
      throw new Problem("shape");
    }
    const pin = remembered(data.chain_id, data.genesis_hash);
    if (pin.changed) throw new CheckError("genesis_changed", { pinned: pin.before, got: data.genesis_hash });
    const genesis = await fetchJson(data.genesis_url, "genesis_fetch");
    const orderers = await orderersFromGenesis(genesis, data.genesis_hash);
    step("genesis", { key: [...orderers.keys()].map(short).join(", ") });
    anchor.textContent = t("check.anchor", { hash: data.genesis_hash, key: [...orderers.keys()].join(", ") });
    if (evidence.chainId !== orderers.chainId) throw new Problem("chain", { got: evidence.chainId, want: orderers.chainId });
    const services = genesis.events[0].data.services ?? {};

    const method = /^did:govchain:([a-z0-9][a-z0-9_-]{0,62})#([0-9a-f]{64})$/.exec(proof.verificationMethod ?? "");
    const issuer = typeof credential.issuer === "string" ? credential.issuer : credential.issuer?.id;
    if (!method || issuer !== `did:govchain:${method[1]}`) throw new Problem("issuer", { issuer: String(issuer) });
    let issuerKey;
    if (orderers.suite.name === "intl") { // the issuer's key is its genesis key: Ed25519 already
      issuerKey = await serviceKey(services, method[1], orderers.suite);
      if (!issuerKey || issuerKey.keyId !== method[2]) throw new Problem("issuer_key", { issuer, key: short(method[2]) });
      step("issuer_key", { issuer, key: short(issuerKey.keyId) });
    } else { // eddsa-jcs-2022 is Ed25519 on every chain: the issuer's credentials key, on chain
      issuerKey = await credentialsKey(credential, issuer, method[1], method[2], services, orderers, step);
    }
    if (!(await dataIntegrityVerifies(credential, issuerKey.raw))) throw new Problem("vc_signature");
    step("vc_signature");

    const found = await fetchJson(`/api/v1/events/${encodeURIComponent(evidence.source)}/${encodeURIComponent(evidence.eventId)}`, "event_fetch");
    const event = found.event;
    const engine = await serviceKey(services, "contract-engine", orderers.suite);
    if (!event || event.source !== "contract-engine" || event.type !== "license.issued" || evidence.source !== event.source) {
      throw new Problem("event_kind", { kind: `${event?.source}/${event?.type}` });
    }
    if (!engine || event.signer !== engine.keyId) throw new Problem("event_key", { key: short(event.signer) });
    if (!(await signedBy(event, engine, orderers.suite))) throw new Problem("event_signature");
    step("event_signature", { id: short(event.id), key: short(engine.keyId) });
    if (found.proof?.leaf_hash !== evidence.leafHash) throw new Problem("evidence_leaf");
    await checkProof({ proof: found.proof, event }, orderers, (key, params, state = "ok") => step(key, params, state));
    await checkWitnessed(evidence, found.proof, orderers, step);

    const licence = event.data;
    const pairs = [
      ["licenseNumber", subject.licenseNumber, licence.license_id],
      ["businessId", subject.businessId, licence.business_id],
      ["licence", subject.licence, licence.kind],
      ["applicationId", subject.applicationId ?? null, licence.application_id ?? null],
      ["validFrom", credential.validFrom, `${licence.valid_from}T00:00:00Z`],
      ["validUntil", credential.validUntil, `${licence.valid_until}T23:59:59Z`],
    ];
    const wrong = pairs.find(([, claimed, recorded]) => claimed !== recorded);
    if (wrong) throw new Problem("claims", { field: wrong[0], claimed: String(wrong[1]), recorded: String(wrong[2]) });
    step("claims", { licence: licence.license_id });
    section.dataset.state = "ok";
    verdict.textContent = t("service.check.passed");
  } catch (error) {
    const ours = error instanceof Problem, theirs = error instanceof CheckError;
    const key = ours ? `service.check.why.${error.key}` : theirs ? `check.why.${error.key}` : "check.why.other";
    const reason = t(key, ours || theirs ? error.params : { detail: String(error?.message ?? error) });
    const li = document.createElement("li");
    li.dataset.state = "fail";
    li.dataset.step = ours || theirs ? error.key : "other";
    li.textContent = `${t("check.fail")} ${reason}`;
    steps.append(li);
    section.dataset.state = "fail";
    verdict.textContent = t("check.failed", { reason });
  }
}

// The licence event in the log the witnesses cosigned: the newest witnessed checkpoint checked
// here (log signature, root-signed policy, quorum of cosignatures), then the event's inclusion
// proof at its size.
async function checkWitnessed(evidence, proof, orderers, step) {
  const path = `/api/v1/chain/checkpoint/evidence/${encodeURIComponent(evidence.source)}/${encodeURIComponent(evidence.eventId)}`;
  const found = await fetchJson(path, "checkpoint_fetch");
  if (!found.witnessed) { step("no_checkpoint", {}, "skip"); return; }
  const checkpoint = await checkCheckpoint(found.witnessed, orderers, (key, params) => step(key, params));
  if (!found.witnessed_proof) {
    step("not_witnessed_yet", { size: checkpoint.size }, "skip");
  } else if (await checkWitnessedInclusion(found.witnessed_proof, checkpoint, proof.leaf_hash)) {
    step("witnessed_inclusion", { size: checkpoint.size });
  } else {
    throw new CheckError("witnessed_inclusion", { size: checkpoint.size });
  }
}

// What the server says, apart from what the browser checked: the identity service's verdict
// (issuer key status, credential revocation, validity period) and the register's licence status.
async function serverVerdict(credential) {
  const line = $("verify-server"), register = $("verify-register");
  say(line, t("check.running"));
  say(register, "");
  try {
    const answer = await api("/api/v1/credentials/verify", { method: "POST", body: credential });
    say(line, answer.valid ? t("service.js.server_valid") : t("service.js.server_invalid", { reason: answer.reason }),
      answer.valid ? "ok" : "bad");
  } catch (error) {
    say(line, failure(error), "bad");
  }
  const subject = credential?.credentialSubject ?? {};
  if (typeof subject.businessId !== "string" || typeof subject.licenseNumber !== "string") return;
  try {
    const { licenses = [] } = await api(`/api/v1/registry/businesses/${encodeURIComponent(subject.businessId)}`);
    const held = licenses.find((l) => l.license_id === subject.licenseNumber);
    if (!held) say(register, t("service.js.register_unknown", { licence: subject.licenseNumber }), "bad");
    else if (held.status === "revoked") {
      say(register, t("service.js.register_revoked", { licence: held.license_id, reason: held.revocation_reason ?? "—" }), "bad");
    } else {
      say(register, t("service.js.register_valid", { licence: held.license_id, from: held.valid_from, until: held.valid_until }), "ok");
    }
  } catch (error) {
    say(register, failure(error), "bad");
  }
}

async function verifyPage() {
  const text = $("verify-text"), section = $("credential-check"), results = $("verify-results");
  const run = async (raw) => {
    let credential;
    try {
      credential = JSON.parse(raw);
    } catch (error) {
      results.hidden = false;
      section.dataset.state = "fail";
      section.querySelector(".steps").replaceChildren();
      section.querySelector(".verdict").textContent = t("service.js.verify_not_json", { detail: error.message });
      return;
    }
    results.hidden = false;
    showClaims(credential ?? {});
    await Promise.all([checkCredential(credential, section), serverVerdict(credential)]);
  };
  $("verify-file").addEventListener("change", async () => {
    const file = $("verify-file").files?.[0];
    if (file && file.size <= 256 * 1024) { text.value = await file.text(); await run(text.value); }
  });
  $("verify-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) { say($("verify-server"), t("service.js.verify_empty"), "bad"); results.hidden = false; return; }
    await run(text.value);
  });
  let handed = null;
  try { handed = window.sessionStorage.getItem(HANDED_OVER); window.sessionStorage.removeItem(HANDED_OVER); } catch { /* none */ }
  if (handed) { text.value = JSON.stringify(JSON.parse(handed), null, 2); await run(handed); }
}

const PAGES = { hub: () => setupSignin(async () => {}), keys: keysPage, apply: applyPage, case: casePage, mine: minePage, verify: verifyPage };
const name = document.querySelector(".svc")?.dataset.page;
if (!K) {
  document.querySelectorAll(".svc-status").forEach((el) => say(el, t("service.js.no_crypto"), "bad"));
} else if (name in PAGES) {
  PAGES[name]().catch((error) => console.error(error));
}
