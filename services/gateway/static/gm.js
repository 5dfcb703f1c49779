// GovChain: SM3 and SM2 signature verification for checking a 国密 (gm) chain in the browser.
//
// WebCrypto has neither, so this page carries its own, written from the standards (no
// dependency, no build step, served by the gateway like the rest of the portal):
//   SM3   GB/T 32905-2016 (GM/T 0004-2012)
//   SM2   GB/T 32918.2-2016 §7 (verification), on the recommended curve sm2p256v1 of
//         GB/T 32918.5-2017, with GB/T 35276's default distinguishing ID "1234567812345678"
// Verification only: nothing here signs or holds a secret, so nothing needs to run in constant
// time. Keys are the 65-byte uncompressed point 04 || x || y, signatures r || s (64 bytes,
// big-endian), exactly as on chain (docs/crypto-profiles.md). Bytes in and out are Uint8Array.

// -- SM3 (GB/T 32905 §5) ---------------------------------------------------------------------

const IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
const rotl = (x, n) => ((x << n) | (x >>> (32 - n))) >>> 0; // n in 0..31; n = 0 gives x
const P0 = (x) => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0;
const P1 = (x) => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;
// T_j rotated left by j mod 32, as the compression function uses it (§5.3.3).
const T = Array.from({ length: 64 }, (_, j) => rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32));

function compress(v, block, at) {
  const w = new Uint32Array(68);
  const w1 = new Uint32Array(64);
  for (let j = 0; j < 16; j++) {
    const i = at + 4 * j;
    w[j] = (block[i] << 24) | (block[i + 1] << 16) | (block[i + 2] << 8) | block[i + 3];
  }
  for (let j = 16; j < 68; j++) {
    w[j] = P1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6];
  }
  for (let j = 0; j < 64; j++) w1[j] = w[j] ^ w[j + 4];
  let [a, b, c, d, e, f, g, h] = v;
  for (let j = 0; j < 64; j++) {
    const a12 = rotl(a, 12);
    const ss1 = rotl((a12 + e + T[j]) >>> 0, 7);
    const ss2 = (ss1 ^ a12) >>> 0;
    const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
    const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
    const tt1 = (ff + d + ss2 + w1[j]) >>> 0;
    const tt2 = (gg + h + ss1 + w[j]) >>> 0;
    d = c;
    c = rotl(b, 9);
    b = a;
    a = tt1;
    h = g;
    g = rotl(f, 19);
    f = e;
    e = P0(tt2);
  }
  for (const [i, x] of [a, b, c, d, e, f, g, h].entries()) v[i] = (v[i] ^ x) >>> 0;
}

function bytesOnly(value, name) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}

export function sm3(message) {
  bytesOnly(message, "message");
  // Padding (§5.2): 0x80, zeros to 56 mod 64, the length in bits as 64 bits big-endian.
  const blocks = Math.ceil((message.length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const bits = new DataView(padded.buffer);
  bits.setUint32(padded.length - 8, Math.floor(message.length / 0x20000000)); // (length * 8) >> 32
  bits.setUint32(padded.length - 4, (message.length * 8) >>> 0);
  const v = IV.slice();
  for (let at = 0; at < padded.length; at += 64) compress(v, padded, at);
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  v.forEach((x, i) => view.setUint32(4 * i, x));
  return out;
}

// -- the curve (GB/T 32918.5 §3) -------------------------------------------------------------

export const CURVE = Object.freeze({
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
});
const { p, a: A, b: B, n: N } = CURVE;

export const DEFAULT_ID = new TextEncoder().encode("1234567812345678");

const mod = (x, m = p) => {
  const r = x % m;
  return r < 0n ? r + m : r;
};

function inverse(x, m = p) { // extended Euclid; x is nonzero mod the prime m
  let [r0, r1, t0, t1] = [m, mod(x, m), 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0, m);
}

const toBig = (bytes) => bytes.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);

function toBytes(x) {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

// Points in Jacobian coordinates (X, Y, Z) for x = X/Z², y = Y/Z³: one inversion per scalar
// multiplication instead of one per addition. Z = 0 is the point at infinity.
const INFINITY = Object.freeze({ x: 1n, y: 1n, z: 0n });

function double(P) {
  if (P.z === 0n || P.y === 0n) return INFINITY;
  const yy = mod(P.y * P.y);
  const zz = mod(P.z * P.z);
  const s = mod(4n * P.x * yy);
  const m = mod(3n * P.x * P.x + A * zz * zz);
  const x = mod(m * m - 2n * s);
  return { x, y: mod(m * (s - x) - 8n * yy * yy), z: mod(2n * P.y * P.z) };
}

function add(P, Q) {
  if (P.z === 0n) return Q;
  if (Q.z === 0n) return P;
  const pz2 = mod(P.z * P.z), qz2 = mod(Q.z * Q.z);
  const u1 = mod(P.x * qz2), u2 = mod(Q.x * pz2);
  const s1 = mod(P.y * Q.z * qz2), s2 = mod(Q.y * P.z * pz2);
  const h = mod(u2 - u1), r = mod(s2 - s1);
  if (h === 0n) return r === 0n ? double(P) : INFINITY;
  const hh = mod(h * h), hhh = mod(h * hh), v = mod(u1 * hh);
  const x = mod(r * r - hhh - 2n * v);
  return { x, y: mod(r * (v - x) - s1 * hhh), z: mod(P.z * Q.z * h) };
}

// [k]P + [l]Q, both scalars in one pass over their bits (Shamir's trick).
function twoMultiples(k, P, l, Q) {
  const both = add(P, Q);
  let R = INFINITY;
  for (let bit = 255n; bit >= 0n; bit--) {
    R = double(R);
    const pick = (((k >> bit) & 1n) << 1n) | ((l >> bit) & 1n);
    if (pick === 3n) R = add(R, both);
    else if (pick === 2n) R = add(R, P);
    else if (pick === 1n) R = add(R, Q);
  }
  return R;
}

function affineX(P) {
  const zInv = inverse(P.z);
  return mod(P.x * zInv * zInv);
}

const G = Object.freeze({ x: CURVE.gx, y: CURVE.gy, z: 1n });

// The point a public key encodes, or null: 65 bytes, 04 || x || y, x and y below p, y² = x³ + ax + b.
// The curve's cofactor is 1, so every point on it is in the group of order n.
export function publicKeyPoint(publicKey) {
  bytesOnly(publicKey, "publicKey");
  if (publicKey.length !== 65 || publicKey[0] !== 0x04) return null;
  const x = toBig(publicKey.subarray(1, 33)), y = toBig(publicKey.subarray(33));
  if (x >= p || y >= p || mod(y * y - (x * x * x + A * x + B)) !== 0n) return null;
  return { x, y, z: 1n };
}

// Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2 §5.5), ENTL_A the
// ID's length in bits as two bytes.
export function userHash(publicKey, id = DEFAULT_ID) {
  bytesOnly(id, "id");
  const point = publicKeyPoint(publicKey);
  if (point === null) throw new RangeError("not a public key on sm2p256v1");
  if (id.length >= 0x2000) throw new RangeError("the ID is longer than 8191 bytes");
  const entl = Uint8Array.of((id.length * 8) >> 8, (id.length * 8) & 0xff);
  return sm3(concat(entl, id, ...[A, B, CURVE.gx, CURVE.gy, point.x, point.y].map(toBytes)));
}

// GB/T 32918.2 §7.1: true only when every step holds; false for any malformed input, never throws
// on bad bytes (a wrong-typed argument is a caller's bug and throws TypeError).
export function sm2Verify(publicKey, signature, message, id = DEFAULT_ID) {
  bytesOnly(publicKey, "publicKey");
  bytesOnly(signature, "signature");
  bytesOnly(message, "message");
  bytesOnly(id, "id");
  const point = publicKeyPoint(publicKey);
  if (point === null || signature.length !== 64 || id.length >= 0x2000) return false;
  const r = toBig(signature.subarray(0, 32)), s = toBig(signature.subarray(32));
  if (r < 1n || r >= N || s < 1n || s >= N) return false; // B1, B2
  const e = toBig(sm3(concat(userHash(publicKey, id), message))); // B3, B4: e = SM3(Z_A || M)
  const t = mod(r + s, N); // B5
  if (t === 0n) return false;
  const sum = twoMultiples(s, G, t, point); // B6: (x1, y1) = [s]G + [t]P_A
  if (sum.z === 0n) return false;
  return mod(e + affineX(sum), N) === r; // B7: R = (e + x1) mod n
}
