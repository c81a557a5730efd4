// AWS Signature Version 4 for the console's requests when stepflow serve
// runs with --credentials: SHA-256 (FIPS 180-4) and HMAC (RFC 2104) in
// plain JavaScript, so signing works on any origin (the Web Crypto API
// exists only in secure contexts, and the server speaks plain HTTP).

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const rotr = (x, n) => (x >>> n) | (x << (32 - n));

/** SHA-256 of a byte array: 32 bytes. */
export function sha256(bytes) {
  const bitLength = bytes.length * 8;
  // the message, a 1 bit, zeros, and the length in 64 bits: whole blocks
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / 64) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const hash = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 64; t++) {
      const s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
      const s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, h] = hash;
    for (let t = 0; t < 64; t++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g; g = f; f = e; e = (d + t1) >>> 0;
      d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    hash[0] += a; hash[1] += b; hash[2] += c; hash[3] += d;
    hash[4] += e; hash[5] += f; hash[6] += g; hash[7] += h;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  hash.forEach((v, i) => outView.setUint32(i * 4, v));
  return out;
}

const utf8 = (s) => new TextEncoder().encode(s);
const bytesOf = (x) => (typeof x === 'string' ? utf8(x) : x);

/** Lower-case hexadecimal of a byte array. */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** HMAC-SHA256 of a message (string or bytes) under a key (string or bytes). */
export function hmac(key, message) {
  let k = bytesOf(key);
  if (k.length > 64) k = sha256(k);
  const inner = new Uint8Array(64 + 32);
  const block = new Uint8Array(64);
  block.set(k);
  const msg = bytesOf(message);
  const first = new Uint8Array(64 + msg.length);
  for (let i = 0; i < 64; i++) first[i] = block[i] ^ 0x36;
  first.set(msg, 64);
  for (let i = 0; i < 64; i++) inner[i] = block[i] ^ 0x5c;
  inner.set(sha256(first), 64);
  return sha256(inner);
}

/**
 * The headers that sign a request: x-amz-date and Authorization.
 * req: {method, host, path, headers (name -> value, the ones to sign
 * besides host and x-amz-date), body, region, service, accessKeyId,
 * secretAccessKey, now (a Date; default now)}.
 */
export function sign(req) {
  const now = req.now || new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const day = amzDate.slice(0, 8);
  const headers = { host: req.host, 'x-amz-date': amzDate };
  for (const [name, value] of Object.entries(req.headers || {})) headers[name.toLowerCase()] = String(value);
  const names = Object.keys(headers).sort();
  const canonical = [
    req.method, req.path, '',
    ...names.map((n) => `${n}:${headers[n].trim().replace(/\s+/g, ' ')}`), '',
    names.join(';'), hex(sha256(utf8(req.body || ''))),
  ].join('\n');
  const scope = `${day}/${req.region}/${req.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(sha256(utf8(canonical)))].join('\n');
  let key = hmac(`AWS4${req.secretAccessKey}`, day);
  for (const part of [req.region, req.service, 'aws4_request']) key = hmac(key, part);
  const signature = hex(hmac(key, toSign));
  return {
    'x-amz-date': amzDate,
    Authorization: `AWS4-HMAC-SHA256 Credential=${req.accessKeyId}/${scope}, `
      + `SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}
