// GovChain: the browser checks a witnessed checkpoint itself, from the standards' own formats.
//
//   c2sp.org/signed-note        a note is a text, a blank line, and "— <name> <base64>" lines;
//                               a key id is the first 4 bytes of SHA-256(name || 0x0A || type || key)
//   c2sp.org/tlog-checkpoint    the text is: origin, tree size in decimal, base64 root hash
//   c2sp.org/tlog-cosignature   a witness signs "cosignature/v1\ntime <t>\n" || text, with Ed25519,
//                               and its line's bytes are key id || u64 big-endian t || signature
//
// What is trusted comes from genesis alone: the log's checkpoint keys (it signs checkpoints under
// the origin's name with them: the orderer keys, or on a gm chain the Ed25519 checkpoint key
// genesis names) and the root authority's keys (it names the witnesses and the quorum in a
// witness.policy_set event, which must be in the checkpoint's own log).
//
// The note formats are C2SP's on every chain: SHA-256 key ids, Ed25519 log signatures and
// cosignatures. The root a checkpoint carries is the chain's own log root, so that root, the
// inclusion proofs against it and the root's policy event are checked with the chain's suite
// (SM3 and SM2 on a gm chain), which genesis named (orderers.suite, from verify.js).

import {
  CheckError, INTL, bytesToHex, canonicalBytes, ed25519Verify, hexToBytes, rootFromInclusionProof, sha256,
} from "./verify.js";

const encoder = new TextEncoder();
const ALG_ED25519 = 0x01;
const ALG_COSIGNATURE_V1 = 0x04;
const MAX_TIMESTAMP = 2n ** 63n - 1n;

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const equalBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

function base64ToBytes(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new CheckError("checkpoint_form", { detail: "not base64" });
  }
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export async function noteKeyId(name, alg, publicKey) {
  return (await sha256(concat(encoder.encode(name + "\n"), Uint8Array.of(alg), publicKey))).slice(0, 4);
}

// A note: its signed text (through the newline before the blank line) and its signature lines.
export function parseNote(note) {
  const split = note.indexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new CheckError("checkpoint_form", { detail: "no blank line" });
  const text = note.slice(0, split + 1);
  const signatures = note.slice(split + 2, -1).split("\n").map((line) => {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) throw new CheckError("checkpoint_form", { detail: "a signature line" });
    const bytes = base64ToBytes(match[2]);
    if (bytes.length < 5) throw new CheckError("checkpoint_form", { detail: "a short signature" });
    return { name: match[1], keyId: bytes.slice(0, 4), signature: bytes.slice(4) };
  });
  const [origin, size, root] = text.split("\n");
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size ?? "")) throw new CheckError("checkpoint_form", { detail: "size" });
  const rootBytes = base64ToBytes(root ?? "");
  if (!origin || rootBytes.length !== 32) throw new CheckError("checkpoint_form", { detail: "origin or root" });
  return { text, textBytes: encoder.encode(text), origin, size: Number(size), root: rootBytes, signatures };
}

// A c2sp.org/tlog-cosignature vkey: name+hex(key id)+base64(0x04 || Ed25519 key), its id checked.
export async function parseCosignatureVkey(vkey) {
  const match = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(String(vkey)); // base64 may hold "+" itself
  if (!match) throw new CheckError("policy", { detail: "vkey" });
  const [, name, hexId, encoded] = match;
  const material = base64ToBytes(encoded);
  if (material.length !== 33 || material[0] !== ALG_COSIGNATURE_V1) throw new CheckError("policy", { detail: "vkey type" });
  const publicKey = material.slice(1);
  if (bytesToHex(await noteKeyId(name, ALG_COSIGNATURE_V1, publicKey)) !== hexId) {
    throw new CheckError("policy", { detail: `vkey ${name}: key id` });
  }
  return { name, keyId: hexToBytes(hexId), publicKey };
}

async function signedByLog(note, orderers) {
  for (const publicKey of orderers.checkpointKeys) {
    if (publicKey.length !== 32) continue; // not an Ed25519 key: it signs no note
    const id = await noteKeyId(note.origin, ALG_ED25519, publicKey);
    for (const line of note.signatures) {
      if (line.name === note.origin && equalBytes(line.keyId, id) && line.signature.length === 64 &&
          (await ed25519Verify(publicKey, line.signature, note.textBytes))) {
        return true;
      }
    }
  }
  return false;
}

async function cosignedBy(note, witness) {
  const prefix = encoder.encode("cosignature/v1\ntime ");
  for (const line of note.signatures) {
    if (line.name !== witness.name || !equalBytes(line.keyId, witness.keyId) || line.signature.length !== 72) continue;
    const stamp = new DataView(line.signature.buffer, line.signature.byteOffset, 8).getBigUint64(0);
    if (stamp > MAX_TIMESTAMP) continue;
    const message = concat(prefix, encoder.encode(`${stamp}\n`), note.textBytes);
    if (await ed25519Verify(witness.publicKey, line.signature.slice(8), message)) return true;
  }
  return false;
}

// The witness policy: a root-signed witness.policy_set event, included in the checkpoint's log.
export async function policyFromChain(policy, note, rootKeys, chainId, suite = INTL) {
  const { event, proof } = policy;
  if (event?.type !== "witness.policy_set" || event.source !== "root" || typeof event.signature !== "string") {
    throw new CheckError("policy", { detail: "not a root-signed witness.policy_set" });
  }
  const key = rootKeys.get(event.signer);
  if (!key) throw new CheckError("policy", { detail: `signer ${event.signer} is not a root key of genesis` });
  const { signature, ...unsigned } = event;
  if (!(await suite.verify(key, hexToBytes(signature), canonicalBytes(unsigned)))) {
    throw new CheckError("policy", { detail: "the root's signature does not verify" });
  }
  const leaf = await suite.leafHash(canonicalBytes(event));
  if (bytesToHex(leaf) !== proof.leaf_hash || proof.tree_size !== note.size) {
    throw new CheckError("policy", { detail: "its proof is not for this event at the checkpoint's size" });
  }
  const root = await rootFromInclusionProof(leaf, proof.leaf_index, proof.tree_size, proof.path.map(hexToBytes), suite);
  if (root === null || !equalBytes(root, note.root)) throw new CheckError("policy", { detail: "not in the checkpoint's log" });
  const data = event.data ?? {};
  const origin = data.origin ?? `govchain.example/${chainId}`;
  if (origin !== note.origin) throw new CheckError("policy", { detail: `origin ${origin} is not ${note.origin}` });
  const witnesses = [];
  for (const named of data.witnesses ?? []) witnesses.push(await parseCosignatureVkey(named.vkey));
  const quorum = data.quorum;
  if (!Number.isSafeInteger(quorum) || quorum < 1 || quorum > witnesses.length) {
    throw new CheckError("policy", { detail: `quorum ${quorum} of ${witnesses.length}` });
  }
  return { witnesses, quorum, setAt: proof.leaf_index };
}

// The whole check: log signature, policy, quorum of cosignatures. Returns the checkpoint, the
// witnesses that cosigned it and the suite of its tree; throws a CheckError naming the first
// thing that failed.
export async function checkCheckpoint(witnessed, orderers, report) {
  const note = parseNote(witnessed.note);
  if (note.size !== witnessed.size) throw new CheckError("checkpoint_form", { detail: "size" });
  if (!(await signedByLog(note, orderers))) throw new CheckError("checkpoint_log", { origin: note.origin });
  report("checkpoint_log", { size: note.size, origin: note.origin });
  if (!witnessed.policy) throw new CheckError("policy", { detail: "the chain names no witnesses" });
  const policy = await policyFromChain(witnessed.policy, note, orderers.rootKeys, orderers.chainId, orderers.suite);
  report("policy", { count: policy.witnesses.length, quorum: policy.quorum });
  const cosigners = [];
  for (const witness of policy.witnesses) {
    if (await cosignedBy(note, witness)) cosigners.push(witness.name);
  }
  if (cosigners.length < policy.quorum) {
    throw new CheckError("quorum", { count: cosigners.length, quorum: policy.quorum });
  }
  report("cosigned", { names: cosigners.join(", "), count: cosigners.length, quorum: policy.quorum });
  return { ...note, cosigners, suite: orderers.suite };
}

// An event's proof at the checkpoint's size, against the checkpoint's root (in its tree's hash).
export async function checkWitnessedInclusion(proof, checkpoint, leafHex) {
  if (proof.tree_size !== checkpoint.size || proof.leaf_hash !== leafHex) return false;
  const root = await rootFromInclusionProof(hexToBytes(proof.leaf_hash), proof.leaf_index, proof.tree_size,
    proof.path.map(hexToBytes), checkpoint.suite);
  return root !== null && equalBytes(root, checkpoint.root);
}
