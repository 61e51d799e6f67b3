/**
 * The rows argument of the newer-wins write script (redis-commands.ts): feature rows as one
 * JSON array of rows `[eventTs, createdTs, value1, …, valueN]`, every value a decimal string as
 * the key layout stores it (`String(value)`), null for an absent value. Encoded straight into
 * UTF-8 bytes.
 *
 * Hand-written rather than `JSON.stringify(rows.map(…String(v)…))` because this runs once per
 * materialized row on the thread that also decodes the Parquet: measured on 10,000 credit_history
 * records, String() + concatenation cost ~1.5 µs a row and left ~13 string objects a row for the
 * GC; writing the digits of safe integers into a reused buffer costs ~1 µs and leaves one
 * Buffer per script call. JSON.stringify of the numbers themselves is as fast, but Lua would then
 * receive doubles, and redis-server formatting them back to strings (%.17g) costs ~4 µs a row
 * of the server's time, which is the other bottleneck.
 */
import { createdTimestampAt, featureValueAt } from './feature-rows.js';
import type { FeatureRows } from './types.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const ZERO = 0x30;
const MINUS = 0x2d;

/** Longest text of a number: String() of a double is at most 24 characters, plus quotes. */
const MAX_NUMBER_BYTES = 26;

// Reused between calls. The write position lives in locals, passed and returned, and digits use
// int32 arithmetic: with the position in module state and a float division per digit, 10,000
// credit_history records took 1.4 µs a row; then 0.9–1.0 µs, most of it looking the 9 values up
// by name in each record; from columns (FeatureRows), 0.75–0.8 µs.
let scratch = Buffer.allocUnsafe(64 * 1024);
const digits = new Uint8Array(20);

/** `out`, or a larger copy of its first `used` bytes when `bytes` more would not fit. */
function ensureRoom(out: Buffer, used: number, bytes: number): Buffer {
  if (used + bytes <= out.length) return out;
  const grown = Buffer.allocUnsafe(Math.max(out.length * 2, used + bytes));
  out.copy(grown, 0, 0, used);
  scratch = grown;
  return grown;
}

/** Digits of an integer in [0, 2^31): int32 arithmetic, which V8 turns into multiplies. */
function writeUint31(out: Buffer, at: number, n: number): number {
  let count = 0;
  do {
    const quotient = (n / 10) | 0;
    digits[count++] = ZERO + (n - quotient * 10);
    n = quotient;
  } while (n > 0);
  while (count > 0) out[at++] = digits[--count];
  return at;
}

/** `"<String(value)>"`: the digits of a safe integer directly, anything else through String(). */
function writeQuotedNumber(out: Buffer, at: number, value: number): number {
  out[at++] = QUOTE;
  if (Number.isSafeInteger(value)) {
    // String(-0) is "0", so a negative sign only for values below zero.
    let n = value;
    if (n < 0) {
      out[at++] = MINUS;
      n = -n;
    }
    if (n < 2147483648) {
      at = writeUint31(out, at, n);
    } else {
      // Timestamps in ms and other large integers: two int32-sized halves. Exact: n < 2^53, so
      // high < 2^24 and n - high * 1e9 is computed without rounding.
      const high = Math.floor(n / 1e9);
      let low = n - high * 1e9;
      at = writeUint31(out, at, high);
      for (let i = 8; i >= 0; i--) {
        const quotient = (low / 10) | 0;
        digits[i] = ZERO + (low - quotient * 10);
        low = quotient;
      }
      for (let i = 0; i < 9; i++) out[at++] = digits[i];
    }
  } else {
    // 1.5, 1e+21, NaN, Infinity: ASCII only, as String() writes them.
    at += out.write(String(value), at, 'latin1');
  }
  out[at++] = QUOTE;
  return at;
}

/**
 * Rows `rows.rows[start..end)` as the JSON rows of one script call (one view: the script receives
 * the view's field names once). Reads the columns directly: a value absent in its column (null,
 * or NaN in a Float64Array) is written as null.
 */
export function encodeFeatureRowsJson(rows: FeatureRows, start: number, end: number): Buffer {
  const { rows: positions, eventTimestamps, values } = rows;
  const columns = values.length;
  let out = ensureRoom(scratch, 0, 2);
  let at = 0;
  out[at++] = OPEN;
  for (let i = start; i < end; i++) {
    const row = positions[i];
    // Room for every number of the row; a string value asks for its own below.
    out = ensureRoom(out, at, 4 + (MAX_NUMBER_BYTES + 1) * (columns + 2));
    if (i > start) out[at++] = COMMA;
    out[at++] = OPEN;
    at = writeQuotedNumber(out, at, eventTimestamps[row]);
    out[at++] = COMMA;
    at = writeQuotedNumber(out, at, createdTimestampAt(rows, row));
    for (let f = 0; f < columns; f++) {
      const value = featureValueAt(values[f], row);
      out[at++] = COMMA;
      if (typeof value === 'number') {
        at = writeQuotedNumber(out, at, value);
      } else if (value === null) {
        out[at++] = 0x6e; // n
        out[at++] = 0x75; // u
        out[at++] = 0x6c; // l
        out[at++] = 0x6c; // l
      } else {
        const json = JSON.stringify(value);
        // This string's bytes, plus room for the rest of the row's numbers again.
        out = ensureRoom(out, at, json.length * 3 + (MAX_NUMBER_BYTES + 1) * columns + 2);
        at += out.write(json, at, 'utf8');
      }
    }
    out[at++] = CLOSE;
  }
  out = ensureRoom(out, at, 1);
  out[at++] = CLOSE;
  // A copy: the scratch buffer is reused by the next call while this one is still being sent.
  return Buffer.from(out.subarray(0, at));
}
