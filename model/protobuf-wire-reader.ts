/**
 * Protocol Buffers wire format, read side only: varints, fixed32 floats, length-delimited fields,
 * and skipping of anything unknown (groups included).
 *
 * Hand-written instead of protobufjs's `Reader` (protobufjs/minimal) because serving reads one
 * small file once per cold start and uses five reader methods: protobufjs/minimal alone bundles to
 * 21.8 KiB minified (7.2 KiB gzip, with an `eval`-based optional `require` of `long`), while this
 * is about 1.6 KiB, has no eval, and turns int64 straight into numbers instead of Long objects.
 */
export class ProtobufWireError extends Error {
  override readonly name = 'ProtobufWireError';
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

const TWO_POW_32 = 4294967296;
const UTF8 = new TextDecoder();

export class ProtobufWireReader {
  pos = 0;
  /** High 32 bits of the last varint read (the return value holds the low 32). */
  private high = 0;
  private view: DataView | undefined;

  constructor(readonly bytes: Uint8Array) {}

  /** Low 32 bits of a varint, unsigned (as protobufjs `uint32`: longer varints are consumed). */
  uint32(): number {
    // Tags, lengths and most ids are one byte: answer those without the general loop, which
    // matters because this runs in V8's interpreter (once per cold start, never warmed up).
    // At the end of the input `byte` is undefined, fails the test, and varint() reports it.
    const byte = this.bytes[this.pos];
    if (byte < 0x80) {
      this.pos++;
      return byte;
    }
    return this.varint() >>> 0;
  }

  /** An int32 / enum field: the low 32 bits, signed (negative values are 10-byte varints). */
  int32(): number {
    return this.varint() | 0;
  }

  /** An int64 field as a number (exact up to 2^53, like Long#toNumber beyond). */
  int64(): number {
    const byte = this.bytes[this.pos];
    if (byte < 0x80) {
      this.pos++;
      return byte;
    }
    const low = this.varint() >>> 0;
    return (this.high | 0) * TWO_POW_32 + low;
  }

  float(): number {
    const at = this.take(4);
    this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.view.getFloat32(at, true);
  }

  /** A length-delimited field's bytes, as a view into the input (no copy). */
  bytesField(): Uint8Array {
    const length = this.uint32();
    const start = this.take(length);
    return this.bytes.subarray(start, start + length);
  }

  string(): string {
    return UTF8.decode(this.bytesField());
  }

  /** Reads a length prefix and returns where that embedded message ends. */
  messageEnd(): number {
    const length = this.uint32();
    const start = this.take(length);
    this.pos = start; // the caller reads the fields up to the returned end
    return start + length;
  }

  /** Skips one field's value of the given wire type (an unknown or unread field). */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.take(8);
        return;
      case WIRE_LENGTH_DELIMITED:
        this.take(this.uint32());
        return;
      case WIRE_START_GROUP:
        for (let tag = this.uint32(); (tag & 7) !== WIRE_END_GROUP; tag = this.uint32()) {
          this.skip(tag & 7);
        }
        return;
      case WIRE_FIXED32:
        this.take(4);
        return;
      default:
        throw new ProtobufWireError(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  /** Fails when the fields of a message ending at `end` ran past it. */
  expectEnd(end: number, message: string): void {
    if (this.pos !== end) {
      throw new ProtobufWireError(
        `${message} ending at offset ${end} has a field that runs to offset ${this.pos}`,
      );
    }
  }

  /** Advances past `count` bytes and returns where they start. */
  private take(count: number): number {
    const start = this.pos;
    if (count > this.bytes.length - start) {
      throw new ProtobufWireError(
        `field at offset ${start} needs ${count} bytes but ${this.bytes.length - start} remain`,
      );
    }
    this.pos = start + count;
    return start;
  }

  /** Returns the low 32 bits (as int32 bit pattern) and leaves the high 32 in `this.high`. */
  private varint(): number {
    const { bytes } = this;
    const start = this.pos;
    const last = Math.min(start + 10, bytes.length);
    let low = 0;
    let high = 0;
    let pos = start;
    while (pos < last) {
      const byte = bytes[pos];
      const shift = (pos - start) * 7;
      if (shift < 28) low |= (byte & 0x7f) << shift;
      else if (shift === 28) {
        low |= (byte & 0x0f) << 28;
        high = (byte & 0x7f) >> 4;
      } else high |= (byte & 0x7f) << (shift - 32);
      pos++;
      if (byte < 0x80) {
        this.pos = pos;
        this.high = high;
        return low;
      }
    }
    if (pos === start + 10) {
      throw new ProtobufWireError(`varint at offset ${start} is longer than 10 bytes`);
    }
    throw new ProtobufWireError(`varint at offset ${start} runs past the end of the input`);
  }
}
