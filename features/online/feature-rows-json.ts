/**
 * The rows argument of the newer-wins write script (redis-commands.ts): feature records as one
 * JSON array of rows `[eventTs, createdTs, value1, …, valueN]`, every value a decimal string as
 * the key layout stores it (`String(value)`), null for an absent value. Encoded straight into
 * UTF-8 bytes.
 *
 * Hand-written rather than `JSON.stringify(rows.map(…String(v)…))` because this runs once per
 * materialized row on the thread that also decodes the Parquet: measured on 10,000 credit_history
 * records, String() + concatenation cost ~1.5 µs a row and left ~13 string objects a row for the
 * GC; writing the digits of safe integers into a reused buffer costs ~0.8 µs and leaves one
 * Buffer per script call. JSON.stringify of the numbers themselves is as fast, but Lua would then
 * receive doubles, and redis-server formatting them back to strings (%.17g) costs ~4 µs a row
 * of the server's time, which is the other bottleneck.
 */
import type { FeatureRecord, FeatureValue } from './types.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const ZERO = 0x30;
const MINUS = 0x2d;

/** Longest text of a number: String() of a double is at most 24 characters, plus quotes. */
const MAX_NUMBER_BYTES = 26;

let scratch = Buffer.allocUnsafe(64 * 1024);
let position = 0;
const digits = new Uint8Array(20);

function ensureRoom(bytes: number): void {
  if (position + bytes <= scratch.length) return;
  const grown = Buffer.allocUnsafe(Math.max(scratch.length * 2, position + bytes));
  scratch.copy(grown, 0, 0, position);
  scratch = grown;
}

/** `"<String(value)>"`: the digits of a safe integer directly, anything else through String(). */
function writeQuotedNumber(value: number): void {
  scratch[position++] = QUOTE;
  if (Number.isSafeInteger(value)) {
    // String(-0) is "0", so a negative sign only for values below zero.
    let n = value;
    if (n < 0) {
      scratch[position++] = MINUS;
      n = -n;
    }
    let count = 0;
    // Exact: n < 2^53, so n / 10 is within 1/16 of its true value and floor() cannot be off.
    do {
      const quotient = Math.floor(n / 10);
      digits[count++] = ZERO + (n - quotient * 10);
      n = quotient;
    } while (n > 0);
    while (count > 0) scratch[position++] = digits[--count];
  } else {
    // 1.5, 1e+21, NaN, Infinity: ASCII only, as String() writes them.
    position += scratch.write(String(value), position, 'latin1');
  }
  scratch[position++] = QUOTE;
}

function writeValue(value: FeatureValue | undefined): void {
  if (value === null || value === undefined) {
    scratch[position++] = 0x6e; // n
    scratch[position++] = 0x75; // u
    scratch[position++] = 0x6c; // l
    scratch[position++] = 0x6c; // l
  } else if (typeof value === 'number') {
    writeQuotedNumber(value);
  } else {
    const json = JSON.stringify(value);
    ensureRoom(json.length * 3);
    position += scratch.write(json, position, 'utf8');
  }
}

/**
 * `records[start..end)` as the JSON rows of one script call. Every record must be of the same view
 * (the script receives the view's field names once).
 */
export function encodeFeatureRowsJson(
  records: readonly FeatureRecord[],
  start: number,
  end: number,
): Buffer {
  position = 0;
  ensureRoom(2);
  scratch[position++] = OPEN;
  for (let i = start; i < end; i++) {
    const record = records[i];
    const features = record.view.features;
    ensureRoom(4 + MAX_NUMBER_BYTES * 2);
    if (i > start) scratch[position++] = COMMA;
    scratch[position++] = OPEN;
    writeQuotedNumber(record.eventTimestamp);
    scratch[position++] = COMMA;
    writeQuotedNumber(record.createdTimestamp);
    const values = record.values;
    for (const feature of features) {
      ensureRoom(1 + MAX_NUMBER_BYTES);
      scratch[position++] = COMMA;
      writeValue(values[feature.name]);
    }
    ensureRoom(2);
    scratch[position++] = CLOSE;
  }
  scratch[position++] = CLOSE;
  // A copy: the scratch buffer is reused by the next call while this one is still being sent.
  return Buffer.from(scratch.subarray(0, position));
}
