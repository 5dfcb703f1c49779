// GovChain officials' workbench (工作台): sign in, the department's queue, counter enrolment.
//
// Every decision is an event signed here, in the browser, by window.GovKeys (govkeys.js: the
// private key is a non-extractable WebCrypto key in IndexedDB) and submitted to
// POST /api/v1/events; the chain judges it like any other. The gateway only answers
// /api/v1/workbench/{me,queue,pseudonym}. Nothing here writes HTML from data: every text is
// set with textContent, so a field on chain can never become markup. Messages come from the
// page (#wb-messages: the catalogue's workbench.js.* entries in the page's language).
(function () {
  "use strict";

  const MESSAGES = JSON.parse(document.getElementById("wb-messages")?.textContent || "{}");
  const root = document.getElementById("workbench");
  const PRINCIPAL_KEY = "govchain.workbench.principal";
  const CITIZEN_ID = /^c-[0-9a-f]{32}$/;
  const PRINCIPAL = /^[a-z0-9][a-z0-9_-]{0,62}$/;

  function t(key, params = {}) {
    const text = MESSAGES["workbench.js." + key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
  }

  // el("p", {class: "x"}, "text", child, ...): an element whose strings are text, never markup.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const $ = (id) => document.getElementById(id);

  function say(text, state = "info") {
    const box = $("wb-message");
    if (!box) return;
    box.textContent = text;
    box.dataset.state = state;
  }

  function failure(error) {
    const code = error?.code ?? "error";
    const message = error?.message ?? String(error);
    const key = error?.status === 422 || error?.status === 409 ? "refused" : "failed";
    return t(key, { code, message });
  }

  async function api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json", ...window.GovKeys.authHeaders() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let answer = null;
    try { answer = await response.json(); } catch { answer = null; }
    if (!response.ok) {
      const error = answer?.error ?? {};
      const thrown = new Error(error.message ?? `HTTP ${response.status}`);
      thrown.code = error.code ?? `http_${response.status}`;
      thrown.status = response.status;
      throw thrown;
    }
    return answer;
  }

  // -------------------------------------------------------------- who is signed in

  let official = null;

  async function loadOfficial() {
    const status = $("wb-status");
    official = null;
    if (!(await window.GovKeys.checkSession())) { // a session of a key no longer in use is dropped
      status.dataset.state = "out";
      status.replaceChildren(t("not_signed_in"), " ", root.dataset.section === "signin" ? "" : el("a", { href: "/workbench" }, t("sign_in_link")));
      return null;
    }
    try {
      official = await api("/api/v1/workbench/me");
    } catch (error) {
      if (error.status === 401 || error.status === 403) window.GovKeys.signOut();
      status.dataset.state = "out";
      status.replaceChildren(failure(error), " ", el("a", { href: "/workbench" }, t("sign_in_link")));
      return null;
    }
    status.dataset.state = "in";
    const roles = official.roles.length ? official.roles.join(", ") : t("no_roles");
    status.replaceChildren(
      el("strong", {}, t("signed_in", { name: official.name, principal: official.principal, department: official.department })),
      el("br"),
      el("span", {}, t("roles", { roles })),
      official.may_enrol ? el("span", {}, " · ", t("may_enrol")) : "",
      el("br"),
      el("small", {}, t("key", { key: official.key_id })),
    );
    return official;
  }

  // -------------------------------------------------------------- sign in

  function setupSignIn() {
    const form = $("wb-signin");
    const principal = $("wb-principal");
    const signOut = $("wb-signout");
    const forget = $("wb-forget");
    try { principal.value = localStorage.getItem(PRINCIPAL_KEY) || ""; } catch { /* storage refused */ }

    async function showButtons() {
      signOut.hidden = !window.GovKeys.session();
      forget.hidden = !(await window.GovKeys.current());
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const who = principal.value.trim();
      if (!PRINCIPAL.test(who)) {
        say(t("failed", { code: "bad_request", message: principal.getAttribute("pattern") }), "bad");
        principal.focus();
        return;
      }
      const file = $("wb-pem").files[0];
      const button = $("wb-signin-button");
      button.disabled = true;
      try {
        if (file) {
          say(t("importing"));
          let pem = await file.text();
          try {
            await window.GovKeys.importPem(pem, who);
          } finally {
            pem = ""; // the PEM's text is dropped at once; only the non-extractable key is kept
            $("wb-pem").value = "";
          }
        } else if (!(await window.GovKeys.current())) {
          say(t("pick_key"), "bad");
          $("wb-pem").focus();
          return;
        }
        say(t("signing_in"));
        await window.GovKeys.signIn(who);
        try { localStorage.setItem(PRINCIPAL_KEY, who); } catch { /* storage refused */ }
        const found = await loadOfficial();
        if (found) {
          say(t("signed_in", { name: found.name, principal: found.principal, department: found.department }), "ok");
          $("wb-message").append(" ", el("a", { href: "/workbench/queue", id: "wb-go-queue" }, t("go_queue")));
        } else {
          say(t("not_signed_in"), "bad");
        }
      } catch (error) {
        say(failure(error), "bad");
      } finally {
        button.disabled = false;
        await showButtons();
      }
    });

    signOut.addEventListener("click", async () => {
      window.GovKeys.signOut();
      await loadOfficial();
      say(t("signed_out"), "ok");
      await showButtons();
    });

    forget.addEventListener("click", async () => {
      await window.GovKeys.forget();
      await loadOfficial();
      say(t("forgotten"), "ok");
      await showButtons();
    });

    showButtons();
  }

  // -------------------------------------------------------------- the queue

  const date = (iso) => {
    if (!iso) return "—";
    const when = new Date(iso);
    return Number.isNaN(when.getTime()) ? iso : `${when.toLocaleString(document.documentElement.lang)} (${iso})`;
  };

  function row(label, ...value) {
    return [el("dt", {}, label), el("dd", {}, ...value)];
  }

  function parcelText(parcel) {
    if (!parcel) return t("parcel_missing");
    return t("parcel_detail", { location: parcel.location ?? "—", area: parcel.area_m2 ?? "—", use: parcel.land_use ?? "—" });
  }

  function caseView(item) {
    const f = item.fields || {};
    const id = `wb-case-${item.contract_id}-${item.case_key}`.replace(/[^A-Za-z0-9_-]/g, "_");
    const heading = item.contract_id === "land-transfer" ? t("case_land", { key: item.case_key })
      : item.contract_id === "data-sharing" ? t("case_sharing", { key: item.case_key })
        : t("case_other", { contract: item.contract_id, key: item.case_key });
    const rows = [];
    if (item.contract_id === "land-transfer") {
      rows.push(
        ...row(t("parcel"), el("code", {}, f.parcel_id ?? "—"), " · ", parcelText(item.parcel)),
        ...row(t("seller"), el("code", {}, f.from_owner ?? "—")),
        ...row(t("buyer"), el("code", {}, f.to_owner ?? "—")),
        ...row(t("consideration"), f.consideration ?? "—"),
      );
    } else if (item.contract_id === "data-sharing") {
      const set = item.dataset;
      rows.push(
        ...row(t("dataset"), el("code", {}, f.dataset_id ?? "—"), set ? ` · ${set.title}` : ""),
        ...row(t("holder"), f.holder ?? "—"),
        ...row(t("requester"), f.grantee ?? "—"),
        ...row(t("purpose"), f.purpose ?? "—"),
        ...row(t("fields"), (f.fields || []).join(", ")),
        ...row(t("duration"), t("days", { days: f.duration_days ?? "—" })),
      );
    }
    rows.push(
      ...row(t("approvers"), t("required_of", { required: item.required ?? "—", approvers: (item.approvers || []).join(", ") })),
      ...row(t("approvals"), item.approvals?.length ? item.approvals.join(", ") : t("none_yet")),
      ...row(t("deadline"), date(item.deadline)),
    );
    if (item.request) {
      rows.push(...row(t("request"), el("a", { href: item.request.href },
        t("request_link", { source: item.request.source ?? "—", id: item.request.event_id }))));
    }
    const checks = [];
    if (item.contract_id === "land-transfer" && item.seller_owns_parcel !== undefined && item.seller_owns_parcel !== null) {
      checks.push(el("p", { class: item.seller_owns_parcel ? "wb-check-ok" : "wb-check-bad" },
        item.seller_owns_parcel ? t("seller_owns") : t("seller_not_owner")));
    }
    const actions = el("div", { class: "wb-actions" });
    if (item.decision?.approve) {
      const approve = el("button", { type: "button", class: "wb-approve", "aria-describedby": `${id}-h` }, t("approve"));
      approve.addEventListener("click", () => decide(item, item.decision.approve, { request_id: item.case_key }, article));
      actions.append(approve);
    }
    let refusal = null;
    if (item.decision?.refuse) {
      const reasonId = `${id}-reason`;
      const reason = el("textarea", { id: reasonId, class: "wb-reason", rows: 2, maxlength: 300, required: true });
      const refuse = el("button", { type: "button", class: "wb-refuse wb-secondary", "aria-describedby": `${id}-h` }, t("refuse"));
      refuse.addEventListener("click", () => {
        const text = reason.value.trim();
        if (!text) {
          say(t("reason_required"), "bad");
          reason.focus();
          return;
        }
        decide(item, item.decision.refuse, { request_id: item.case_key, reason: text }, article);
      });
      refusal = el("div", { class: "wb-field" }, el("label", { for: reasonId }, t("reason")), reason);
      actions.append(refuse);
    } else if (item.contract_id === "land-transfer") {
      refusal = el("p", { class: "wb-hint" }, t("land_no_refusal"));
    }
    const article = el("article", { class: "wb-case", id, "aria-labelledby": `${id}-h`, dataset: { contract: item.contract_id, caseKey: item.case_key } },
      el("h2", { id: `${id}-h` }, heading),
      el("dl", { class: "wb-evidence" }, ...rows),
      ...checks,
      refusal,
      actions,
      el("p", { class: "wb-case-message", role: "status", "aria-live": "polite" }),
    );
    return article;
  }

  let loading = null;

  async function loadQueue() {
    const box = $("wb-queue");
    const summary = $("wb-summary");
    if (!official) {
      box.replaceChildren(el("p", {}, t("sign_in_first"), " ", el("a", { href: "/workbench" }, t("sign_in_link"))));
      summary.textContent = "";
      return;
    }
    box.setAttribute("aria-busy", "true");
    summary.textContent = t("loading");
    try {
      const answer = await api("/api/v1/workbench/queue");
      summary.textContent = t("as_of", { height: answer.as_of_height, count: answer.cases.length });
      box.replaceChildren(...(answer.cases.length ? answer.cases.map(caseView) : [el("p", { class: "empty" }, t("empty"))]));
    } catch (error) {
      summary.textContent = "";
      say(failure(error), "bad");
    } finally {
      box.setAttribute("aria-busy", "false");
    }
  }

  function refreshQueue() {
    loading = loading ?? loadQueue().finally(() => { loading = null; });
    return loading;
  }

  function eventHref(envelope) {
    return `/events/${encodeURIComponent(envelope.source)}/${encodeURIComponent(envelope.id)}`;
  }

  async function sign(type, data) {
    const envelope = await window.GovKeys.signEvent({ source: official.department, type, data });
    const answer = await window.GovKeys.submit(envelope);
    return { envelope, answer };
  }

  async function decide(item, type, data, article) {
    const note = article.querySelector(".wb-case-message");
    const buttons = article.querySelectorAll("button, textarea");
    buttons.forEach((b) => { b.disabled = true; });
    note.textContent = t("signing");
    try {
      const { envelope, answer } = await sign(type, data);
      const done = answer.status === "committed"
        ? t("committed", { height: answer.height, id: envelope.id })
        : t("pending", { id: envelope.id });
      const verb = data.reason === undefined ? "decided_approve" : "decided_refuse";
      $("wb-decided").append(el("li", { dataset: { caseKey: item.case_key, type } },
        t(verb, { key: item.case_key }), " · ", done, " ", el("a", { href: eventHref(envelope) }, t("event_link"))));
      $("wb-decided-section").hidden = false;
      say(done, "ok");
      await refreshQueue();
      $("wb-refresh").focus();
    } catch (error) {
      note.textContent = failure(error);
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  // The queue follows the chain: read again every AUTO_REFRESH_MS while the page is shown,
  // unless the official is at work in it (a reason half typed, focus on a case).
  const AUTO_REFRESH_MS = 20_000;

  function busyInQueue() {
    const box = $("wb-queue");
    return box.contains(document.activeElement) || [...box.querySelectorAll("textarea")].some((a) => a.value.trim());
  }

  function setupQueue() {
    $("wb-refresh").addEventListener("click", () => refreshQueue());
    refreshQueue();
    setInterval(() => {
      if (document.visibilityState === "visible" && official && !busyInQueue()) refreshQueue();
    }, AUTO_REFRESH_MS);
  }

  // -------------------------------------------------------------- enrolment at the counter

  const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

  function base58btcDecode(text) {
    let number = 0n;
    for (const char of text) {
      const value = B58.indexOf(char);
      if (value < 0) throw new Error(`'${char}' is not base58btc`);
      number = number * 58n + BigInt(value);
    }
    const bytes = [];
    while (number > 0n) {
      bytes.unshift(Number(number & 0xffn));
      number >>= 8n;
    }
    let zeros = 0;
    while (zeros < text.length && text[zeros] === "1") zeros++;
    return new Uint8Array([...new Array(zeros).fill(0), ...bytes]);
  }

  // The raw Ed25519 public key (hex) a citizen shows: publicKeyMultibase ("z" + base58btc of
  // 0xed 0x01 + 32 bytes), or the 64-digit hex public key itself.
  function publicKeyHex(text) {
    const value = text.trim();
    if (/^[0-9a-fA-F]{64}$/.test(value)) return value.toLowerCase();
    if (!value.startsWith("z")) throw new Error("neither a multibase key (z…) nor 64 hex digits");
    const bytes = base58btcDecode(value.slice(1));
    if (bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) throw new Error("not an Ed25519 multikey");
    return window.GovKeys.bytesToHex(bytes.slice(2));
  }

  async function checkKey() {
    const line = $("wb-key-check");
    const input = $("wb-public-key");
    try {
      const hex = publicKeyHex(input.value);
      const keyId = await window.GovKeys.sha256Hex(window.GovKeys.hexToBytes(hex));
      line.textContent = t("key_check", { key: keyId });
      line.dataset.state = "ok";
      input.removeAttribute("aria-invalid");
      return hex;
    } catch (error) {
      line.textContent = t("bad_key", { message: error.message });
      line.dataset.state = "bad";
      input.setAttribute("aria-invalid", "true");
      return null;
    }
  }

  async function citizenId() {
    const typed = $("wb-citizen-id").value.trim();
    const nationalInput = $("wb-national-id");
    const national = nationalInput.value.trim();
    if (national) {
      try {
        const answer = await api("/api/v1/workbench/pseudonym", { method: "POST", body: { national_id: national } });
        $("wb-citizen-id").value = answer.citizen_id;
        return answer;
      } finally {
        nationalInput.value = ""; // not kept on the page once its pseudonym is known
      }
    }
    if (!typed) throw Object.assign(new Error(t("need_citizen")), { code: "bad_request" });
    if (!CITIZEN_ID.test(typed)) throw Object.assign(new Error(t("bad_citizen_id")), { code: "bad_request" });
    return { citizen_id: typed, enrolled: false };
  }

  function setupEnrol() {
    $("wb-check").addEventListener("click", () => checkKey());
    $("wb-public-key").addEventListener("change", () => checkKey());
    $("wb-enrol").addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = $("wb-result");
      result.textContent = "";
      if (!official) {
        say(t("sign_in_first"), "bad");
        return;
      }
      if (!official.may_enrol) {
        say(t("may_not_enrol"), "bad");
        return;
      }
      const hex = await checkKey();
      if (!hex) {
        $("wb-public-key").focus();
        return;
      }
      const button = $("wb-enrol-button");
      button.disabled = true;
      try {
        const found = await citizenId();
        if (found.enrolled) {
          say(t("already_enrolled", { id: found.citizen_id }), "bad");
          return;
        }
        say(t("signing"));
        const { envelope, answer } = await sign("citizen.enrolled", { citizen_id: found.citizen_id, public_key: hex });
        const done = answer.status === "committed"
          ? t("enrolled", { id: found.citizen_id, height: answer.height })
          : t("pending", { id: envelope.id });
        result.replaceChildren(done, " ", el("a", { href: eventHref(envelope) }, t("event_link")));
        result.dataset.citizen = found.citizen_id;
        say(done, "ok");
      } catch (error) {
        say(failure(error), "bad");
      } finally {
        button.disabled = false;
      }
    });
  }

  // -------------------------------------------------------------- start

  async function start() {
    if (!root || !window.GovKeys) return;
    await loadOfficial();
    const section = root.dataset.section;
    if (section === "signin") setupSignIn();
    if (section === "queue") setupQueue();
    if (section === "enrol") setupEnrol();
    root.dataset.ready = "true";
  }

  start();
})();
