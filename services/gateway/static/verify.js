// GovChain: the browser checks a proof itself (no build step, no dependency, no other host).
//
// From the trust anchor to the event:
//   1. genesis (block 0), fetched from this gateway and checked against the hash the page pins
//      (and against the hash this browser remembered the first time it saw this chain): its
//      header hashes to that hash, its one event is its log root, and it names the orderer key;
//   2. the signed head: its header, in RFC 8785 canonical JSON, hashes (SHA-256) to the block
//      hash, and the orderer's Ed25519 signature of those 32 bytes verifies (WebCrypto);
//   3. the RFC 9162 inclusion proof from the leaf hash to the head's log root;
//   4. when the page has the whole event: its leaf hash, from its RFC 8785 bytes;
//   5. when the chain has a witnessed checkpoint: the log's signature on it, the root-signed
//      witness policy in its log, the quorum of cosignatures, and each event's inclusion at its
//      size (static/checkpoint.js): so one operator's key alone cannot show this browser a fork.
// Hashes, signatures and key ids are those of the chain's crypto profile, named in genesis
// (docs/crypto-profiles.md): SHA-256 and Ed25519 through WebCrypto on an intl chain, SM3 and SM2
// (static/gm.js, loaded only then) on a gm chain; one suite object (SUITES below) carries them.
// Messages come from the page (the gateway's catalogue, in the page's language).

import { checkCheckpoint, checkWitnessedInclusion } from "./checkpoint.js";

const encoder = new TextEncoder();

export function hexToBytes(hex) {
  if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/.test(hex)) throw new CheckError("other", { detail: "not hex" });
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class CheckError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.key = key;
    this.params = params;
  }
}

// RFC 8785 (JCS) for the JSON values blocks and events hold: strings, numbers (integers within
// ±(2^53 − 1); other finite numbers in ECMAScript form, which is what RFC 8785 prescribes),
// booleans, null, arrays and objects. Keys are sorted by UTF-16 code units: JavaScript's default
// string order. JSON.stringify writes strings exactly as RFC 8785 §3.2.2.2 does.
export function canonicalize(value) {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new CheckError("canonical", { detail: String(value) });
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) throw new CheckError("canonical", { detail: String(value) });
    return JSON.stringify(value);
  }
  if (typeof value === "string") {
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) {
      throw new CheckError("canonical", { detail: "lone surrogate" });
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalize).join(",") + "]";
  if (typeof value === "object") {
    const keys = Object.keys(value).sort(); // UTF-16 code unit order
    return "{" + keys.map((k) => canonicalize(k) + ":" + canonicalize(value[k])).join(",") + "}";
  }
  throw new CheckError("canonical", { detail: typeof value });
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export async function ed25519Verify(publicKey, signature, message) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// A crypto profile as the browser needs it: the chain's hash, RFC 9162 leaf and node hashes
// (the same 0x00 / 0x01 prefixes under either hash), signature verification and key ids (the hex
// hash of the raw public key). Every function is async and takes and gives Uint8Array.
function makeSuite(name, hash, verify) {
  return Object.freeze({
    name,
    hash,
    leafHash: (bytes) => hash(concat(Uint8Array.of(0), bytes)),
    nodeHash: (left, right) => hash(concat(Uint8Array.of(1), left, right)),
    verify, // (publicKey, signature, message) -> boolean
    keyId: async (publicKey) => bytesToHex(await hash(publicKey)),
  });
}

export const INTL = makeSuite("intl", sha256, ed25519Verify);

// The profiles this script checks, by genesis's crypto_profile. gm.js is fetched only for a gm
// chain, so an intl page makes the requests it always made.
const SUITES = Object.freeze({
  intl: async () => INTL,
  gm: async () => {
    const gm = await import("./gm.js");
    const verify = async (publicKey, signature, message) => gm.sm2Verify(publicKey, signature, message);
    return makeSuite("gm", async (bytes) => gm.sm3(bytes), verify);
  },
});
export const PROFILES = Object.keys(SUITES);

export async function suiteFor(profile) {
  if (typeof profile !== "string" || !Object.hasOwn(SUITES, profile)) {
    throw new CheckError("crypto_profile", { profile: String(profile) });
  }
  return SUITES[profile]();
}

export const leafHash = INTL.leafHash;
export const nodeHash = INTL.nodeHash;

export const canonicalBytes = (value) => encoder.encode(canonicalize(value));

// RFC 9162 §2.1.3.2, with the node hash of the tree's suite. Plain numbers, halved by division:
// sizes go beyond 2^31 (where >> breaks).
export async function rootFromInclusionProof(leaf, index, size, path, { nodeHash } = INTL) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  let fn = index, sn = size - 1, r = leaf;
  const half = (n) => Math.floor(n / 2);
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = half(fn); sn = half(sn); }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn); sn = half(sn);
  }
  return sn === 0 ? r : null;
}

const equalBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export async function blockHash(header, suite = INTL) {
  return bytesToHex(await suite.hash(canonicalBytes(header)));
}

// The trust anchor: the crypto profile and the orderer keys genesis names (key id = the hex
// hash of the raw key, in the profile's hash). The profile is read before the genesis hash is
// checked, but that check then holds it: another profile hashes the header to another value.
export async function orderersFromGenesis(genesis, pinnedHash) {
  const [event] = genesis.events || [];
  const named = event?.data ?? {};
  const suite = await suiteFor(Object.hasOwn(named, "crypto_profile") ? named.crypto_profile : "intl");
  const got = await blockHash(genesis.header, suite);
  if (got !== pinnedHash || genesis.hash !== pinnedHash) throw new CheckError("genesis_hash", { got, want: pinnedHash });
  const header = genesis.header;
  if (header.height !== 0 || header.log_size !== 1 || genesis.events.length !== 1 || event.type !== "chain.genesis") {
    throw new CheckError("genesis_shape");
  }
  const leaf = bytesToHex(await suite.leafHash(canonicalBytes(event)));
  if (leaf !== header.log_root || leaf !== header.events_root) throw new CheckError("genesis_shape");
  const keys = new Map();
  keys.suite = suite;
  for (const hex of event.data.orderer_keys || []) {
    const raw = hexToBytes(hex);
    keys.set(await suite.keyId(raw), raw);
  }
  await checkSignedHead(genesis, keys); // block 0 is signed by the orderer key it names
  keys.chainId = header.chain_id;
  keys.rootKeys = new Map(); // the root authority: it alone names the checkpoint witnesses
  for (const hex of event.data.root_keys || []) {
    const raw = hexToBytes(hex);
    keys.rootKeys.set(await suite.keyId(raw), raw);
  }
  // C2SP checkpoints are Ed25519 on every chain: signed with the orderer keys on an intl chain,
  // with the Ed25519 checkpoint key genesis names where the orderer keys are not Ed25519 (gm).
  const checkpointKey = event.data.checkpoint_key;
  keys.checkpointKeys = checkpointKey == null ? [...keys.values()] : [hexToBytes(checkpointKey)];
  return keys;
}

export async function checkSignedHead(head, orderers, report = () => {}) {
  const { suite } = orderers;
  const got = await blockHash(head.header, suite);
  if (got !== head.hash) throw new CheckError("head_hash", { got, want: head.hash });
  report("head_hash", { height: head.header.height, hash: short(head.hash) });
  const key = orderers.get(head.header.orderer);
  if (!key) throw new CheckError("unknown_key", { key: head.header.orderer });
  if (!(await suite.verify(key, hexToBytes(head.signature), hexToBytes(head.hash)))) {
    throw new CheckError("signature", { height: head.header.height });
  }
  report("signature", { key: short(head.header.orderer) });
}

// One proof, step by step: each step is reported as it passes; the first failure throws.
export async function checkProof(item, orderers, report) {
  const { proof, event } = item;
  const head = proof.head;
  if (head.header.chain_id !== orderers.chainId) {
    throw new CheckError("chain", { got: head.header.chain_id, want: orderers.chainId });
  }
  await checkSignedHead(head, orderers, report);
  if (proof.root !== head.header.log_root || proof.tree_size !== head.header.log_size) throw new CheckError("root");
  report("root", { size: head.header.log_size });
  const root = await rootFromInclusionProof(hexToBytes(proof.leaf_hash), proof.leaf_index, proof.tree_size,
    proof.path.map(hexToBytes), orderers.suite);
  if (root === null || !equalBytes(root, hexToBytes(head.header.log_root))) throw new CheckError("inclusion");
  report("inclusion", { index: proof.leaf_index, steps: proof.path.length });
  let whole = event, redacted = item.redacted;
  if (!whole && item.event_url) { // a document check: the registration event, from the API
    const answer = await fetchJson(item.event_url, "event_fetch");
    redacted = (answer.redacted_fields || []).length > 0;
    whole = redacted ? null : answer.event;
  }
  if (whole) {
    const leaf = bytesToHex(await orderers.suite.leafHash(canonicalBytes(whole)));
    if (leaf !== proof.leaf_hash) throw new CheckError("leaf", { got: short(leaf), want: short(proof.leaf_hash) });
    report("leaf", {});
    if (item.document_sha256) {
      const named = whole.data?.sha256;
      if (named !== item.document_sha256) throw new CheckError("document", { got: String(named), want: item.document_sha256 });
      report("document", { sha: short(named) });
    }
  } else {
    report(redacted ? "leaf_redacted" : "leaf_absent", {}, "skip");
  }
}

// The document check: the file's SHA-256, computed here when the form is sent, kept for the
// answer page (sessionStorage: this tab only), so the browser knows which fingerprint it asked about.
const FINGERPRINT = "govchain.document.sha256";
const MAX_HASHED_BYTES = 256 * 1024 * 1024;

function hashBeforeSending(form) {
  form.addEventListener("submit", async (event) => {
    const file = form.querySelector("input[type=file]")?.files?.[0];
    if (form.dataset.hashed || !file || !window.crypto?.subtle || file.size > MAX_HASHED_BYTES) return;
    event.preventDefault();
    try {
      window.sessionStorage.setItem(FINGERPRINT, bytesToHex(await sha256(new Uint8Array(await file.arrayBuffer()))));
    } catch {
      window.sessionStorage.removeItem(FINGERPRINT);
    }
    form.dataset.hashed = "1";
    form.submit();
  });
}

function fingerprintComputedHere() {
  try {
    const value = window.sessionStorage.getItem(FINGERPRINT);
    window.sessionStorage.removeItem(FINGERPRINT);
    return value;
  } catch {
    return null;
  }
}

export const short = (hex) => (typeof hex === "string" && hex.length > 16 ? hex.slice(0, 16) + "…" : String(hex));

// A message may have its own wording for a crypto profile: "check.step.head_hash.gm" names SM3
// where "check.step.head_hash" names SHA-256. The page's catalogue says which messages have one.
function format(messages, key, params = {}, profile = undefined) {
  const text = (profile ? messages[`${key}.${profile}`] : undefined) ?? messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

async function fetchJson(url, failure) {
  const response = await fetch(url, { credentials: "omit", headers: { Accept: "application/json" } });
  if (!response.ok) throw new CheckError(failure, { detail: `HTTP ${response.status}` });
  return response.json();
}

export function remembered(chainId, hash) {
  // Trust on first use, per browser: the genesis this browser first saw for this chain id.
  try {
    const name = `govchain.genesis.${chainId}`;
    const before = window.localStorage.getItem(name);
    if (before === null) { window.localStorage.setItem(name, hash); return { first: true }; }
    return { first: false, changed: before !== hash, before };
  } catch {
    return { first: true };
  }
}

export async function run(section, data, messages) {
  const steps = section.querySelector(".steps");
  const verdict = section.querySelector(".verdict");
  const anchor = section.querySelector(".anchor");
  let profile; // the chain's, once genesis has named it: the wording of its steps follows it
  const say = (key, params, state = "ok", prefix = "") => {
    const li = document.createElement("li");
    li.dataset.step = key;
    li.dataset.state = state;
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.textContent = format(messages, state === "ok" ? "check.pass" : state === "skip" ? "check.skip" : "check.fail");
    li.append(mark, " ", prefix + format(messages, `check.step.${key}`, params, profile));
    steps.append(li);
  };
  try {
    if (!window.crypto?.subtle) throw new CheckError("other", { detail: format(messages, "check.no_crypto") });
    const pin = remembered(data.chain_id, data.genesis_hash);
    if (pin.changed) throw new CheckError("genesis_changed", { pinned: pin.before, got: data.genesis_hash });
    const genesis = await fetchJson(data.genesis_url, "genesis_fetch");
    let orderers;
    try {
      orderers = await orderersFromGenesis(genesis, data.genesis_hash);
    } catch (error) {
      if (error instanceof CheckError || error?.name !== "NotSupportedError") throw error;
      throw new CheckError("other", { detail: format(messages, "check.no_crypto") });
    }
    profile = orderers.suite.name;
    const keyIds = [...orderers.keys()];
    say("genesis", { key: keyIds.map(short).join(", ") });
    anchor.textContent = format(messages, "check.anchor", { hash: data.genesis_hash, key: keyIds.join(", ") }) +
      (pin.first ? "" : " " + format(messages, "check.anchor_pinned"));
    const documents = new Set(data.proofs.map((item) => item.document_sha256).filter(Boolean));
    const mine = documents.size ? fingerprintComputedHere() : null;
    if (mine) {
      if (!documents.has(mine)) throw new CheckError("file", { got: short(mine), want: short([...documents][0]) });
      say("file", { sha: short(mine) });
    }
    for (const [n, item] of data.proofs.entries()) {
      const prefix = data.proofs.length > 1 ? format(messages, "check.proof", { n: n + 1 }) + ": " : "";
      await checkProof(item, orderers, (key, params, state = "ok") => say(key, params, state, prefix));
    }
    if (data.witnessed) await checkWitnessed(data, orderers, say, section);
    else if ("witnessed" in data) say("no_checkpoint", {}, "skip");
    section.dataset.state = "ok";
    verdict.textContent = format(messages, "check.passed");
  } catch (error) {
    const known = error instanceof CheckError;
    const reason = format(messages, `check.why.${known ? error.key : "other"}`,
      known ? error.params : { detail: String(error?.message ?? error) }, profile);
    const li = document.createElement("li");
    li.dataset.state = "fail";
    li.dataset.step = known ? error.key : "other";
    li.textContent = `${format(messages, "check.fail")} ${reason}`;
    steps.append(li);
    section.dataset.state = "fail";
    verdict.textContent = format(messages, "check.failed", { reason });
  }
}

// The witnessed checkpoint, then each event's inclusion in the log it describes.
async function checkWitnessed(data, orderers, say, section) {
  const checkpoint = await checkCheckpoint(data.witnessed, orderers, (key, params) => say(key, params));
  for (const [n, item] of data.proofs.entries()) {
    const prefix = data.proofs.length > 1 ? `#${n + 1}: ` : "";
    if (!item.witnessed_proof) {
      say("not_witnessed_yet", { size: checkpoint.size }, "skip", prefix);
    } else if (await checkWitnessedInclusion(item.witnessed_proof, checkpoint, item.proof.leaf_hash)) {
      say("witnessed_inclusion", { size: checkpoint.size }, "ok", prefix);
    } else {
      throw new CheckError("witnessed_inclusion", { size: checkpoint.size });
    }
  }
  section.dataset.cosigners = checkpoint.cosigners.join(",");
}

function start() {
  const form = document.querySelector("form[data-fingerprint]");
  if (form) hashBeforeSending(form);
  const section = document.getElementById("browser-check");
  const data = document.getElementById("check-data");
  const messages = document.getElementById("check-messages");
  if (!section || !data || !messages) return;
  let parsed;
  try {
    parsed = [JSON.parse(data.textContent), JSON.parse(messages.textContent)];
  } catch (error) {
    section.dataset.state = "fail";
    section.querySelector(".verdict").textContent = String(error);
    return;
  }
  section.dataset.state = "running";
  run(section, ...parsed);
}

if (typeof document !== "undefined") start();
