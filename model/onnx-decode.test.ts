import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { loadModelArtifact } from './artifact.js';
import { ModelContractError } from './onnx-contract.js';
import { decodeOnnxModel } from './onnx-decode.js';
import { encodeTreeEnsembleModel } from './onnx.js';
import { decodeOnnxModelWithOnnxProto } from './testing/onnx-proto-reference-decoder.js';
import {
  createRandomEnsemble,
  createRng,
  encodeRandomEnsemble,
} from './testing/random-ensemble.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE_FILES = ['model.onnx', 'fixtures/credit-tree.onnx'];

/**
 * Which fields of each message hold embedded messages (to recurse into) or packed numbers (to
 * unpack): enough of onnx.proto to rewrite a file at the wire level with protobufjs's own Reader.
 */
type WireSchema = { readonly [field: number]: WireSchema | 'floats' | 'ints' };
const DIMENSION: WireSchema = {};
const VALUE_INFO: WireSchema = { 2: { 1: { 2: { 1: DIMENSION } } } };
const GRAPH: WireSchema = {
  1: { 5: { 7: 'floats', 8: 'ints' } },
  5: {},
  11: VALUE_INFO,
  12: VALUE_INFO,
};
const MODEL: WireSchema = { 7: GRAPH, 8: {}, 14: {} };

/** Unknown fields of every wire type, numbered past anything onnx.proto uses. */
function writeUnknownFields(writer: protobuf.Writer): void {
  writer.uint32((901 << 3) | 0).int64(-5); // a 10-byte varint
  writer.uint32((902 << 3) | 1).fixed64(0x1234_5678);
  writer.uint32((903 << 3) | 2).bytes(Uint8Array.from([8, 1, 0xff, 0x80]));
  writer.uint32((904 << 3) | 3); // a group holding a varint, a string and a nested group
  writer.uint32((1 << 3) | 0).uint32(300);
  writer.uint32((2 << 3) | 2).string('skipped');
  writer.uint32((3 << 3) | 3).uint32((3 << 3) | 4);
  writer.uint32((904 << 3) | 4);
  writer.uint32((905 << 3) | 5).float(1.5);
}

/** The same message with unknown fields before and after its own, and packed numbers unpacked. */
function rewrite(bytes: Uint8Array, schema: WireSchema): Uint8Array {
  const reader = protobuf.Reader.create(bytes);
  const writer = protobuf.Writer.create();
  writeUnknownFields(writer);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const rule = schema[field];
    if ((tag & 7) === 2 && rule === 'floats') {
      const end = reader.uint32() + reader.pos;
      while (reader.pos < end) writer.uint32((field << 3) | 5).float(reader.float());
    } else if ((tag & 7) === 2 && rule === 'ints') {
      const end = reader.uint32() + reader.pos;
      while (reader.pos < end) writer.uint32((field << 3) | 0).int64(reader.int64());
    } else if ((tag & 7) === 2 && rule !== undefined) {
      writer.uint32(tag).bytes(rewrite(reader.bytes(), rule));
    } else if ((tag & 7) === 0) {
      writer.uint32(tag).uint64(reader.uint64());
    } else if ((tag & 7) === 2) {
      writer.uint32(tag).bytes(reader.bytes());
    } else if ((tag & 7) === 5) {
      writer.uint32(tag).fixed32(reader.fixed32());
    } else {
      writer.uint32(tag).fixed64(reader.fixed64());
    }
  }
  writeUnknownFields(writer);
  return writer.finish();
}

describe('decodeOnnxModel (lean) against onnx-proto', () => {
  it.each(FIXTURE_FILES)('decodes %s exactly as onnx-proto does', async (file) => {
    const bytes = new Uint8Array(await readFile(join(here, file)));
    const decoded = decodeOnnxModel(bytes);
    expect(decoded).toStrictEqual(decodeOnnxModelWithOnnxProto(bytes));
    expect(decoded.treeEnsemble!.nodes_nodeids.length).toBeGreaterThan(0);
  });

  it('decodes 300 random ensembles (all node modes, odd ids, int64 edge values) as onnx-proto does', () => {
    const rng = createRng(99);
    for (let seed = 0; seed < 300; seed++) {
      const ensemble = createRandomEnsemble(seed, {
        style: seed % 3 === 0 ? 'sklearn' : 'mixed',
        featureCount: 1 + (seed % 9),
      });
      // Ids are int64 on the wire: negative ones are 10-byte varints, big ones use the high word.
      const edgeValues = [-1, -2, -(2 ** 31), 2 ** 31, 2 ** 32 + 7, -(2 ** 40) - 3, 2 ** 53 - 1];
      const spec = {
        ...ensemble.spec,
        nodes_featureids: ensemble.spec.nodes_featureids.map((id) =>
          rng.chance(0.1) ? rng.pick(edgeValues) : id,
        ),
      };
      const bytes = encodeTreeEnsembleModel(spec, {
        featureNames: ensemble.featureNames,
        categoricalEncodings: ensemble.categoricalEncodings,
        metadata: { version: `v${seed}`, note: 'ünïcødé ✓ 🌳' },
      });
      const decoded = decodeOnnxModel(bytes);
      expect(decoded, `seed ${seed}`).toStrictEqual(decodeOnnxModelWithOnnxProto(bytes));
      expect(decoded.treeEnsemble!.nodes_featureids).toEqual(spec.nodes_featureids);
    }
  });

  it.each(FIXTURE_FILES)(
    'skips unknown fields of every wire type and reads unpacked repeated numbers in %s',
    async (file) => {
      const bytes = new Uint8Array(await readFile(join(here, file)));
      const rewritten = rewrite(bytes, MODEL);
      expect(rewritten.length).toBeGreaterThan(bytes.length);
      const decoded = decodeOnnxModel(rewritten);
      expect(decoded).toStrictEqual(decodeOnnxModelWithOnnxProto(rewritten));
      expect(decoded).toStrictEqual(decodeOnnxModel(bytes));
      const [fromRewritten, fromOriginal] = await Promise.all([
        loadModelArtifact(rewritten),
        loadModelArtifact(bytes),
      ]);
      expect(fromRewritten.ensemble).toStrictEqual(fromOriginal.ensemble);
    },
  );
});

describe('decodeOnnxModel on broken bytes', () => {
  const bytes = encodeRandomEnsemble(createRandomEnsemble(3, { treeCount: 2 }), { version: 'v' });

  it.each([
    ['a length past the end', Uint8Array.from([0x3a, 0x10, 0x01]), /needs 16 bytes but 1 remain/],
    ['wire type 7', Uint8Array.from([0x0f]), /invalid wire type 7 at offset 1/],
    ['a stray end-group', Uint8Array.from([0x0c]), /invalid wire type 4/],
    ['an 11-byte varint', Uint8Array.from([0x08, ...Array(10).fill(0xff), 0x01]), /longer than 10/],
    ['a truncated varint', Uint8Array.from([0x08, 0xff]), /runs past the end/],
    [
      'packed floats of 5 bytes',
      Uint8Array.from([0x3a, 0x09, 0x0a, 0x07, 0x2a, 0x05, 0x3a, 0x03, 0, 0, 0]),
      /packed floats are 3 bytes, not a multiple of 4/,
    ],
    [
      'a graph whose fields overrun it',
      Uint8Array.from([0x3a, 0x02, 0x12, 0x05, 0, 0, 0, 0, 0]),
      /GraphProto ending at offset 4/,
    ],
  ])('rejects %s with ModelContractError naming the offset', (_, broken, message) => {
    expect(() => decodeOnnxModel(broken)).toThrow(ModelContractError);
    expect(() => decodeOnnxModel(broken)).toThrow(message);
  });

  it('rejects every truncation that cuts a field, and never throws anything but ModelContractError', () => {
    let rejected = 0;
    for (let length = 0; length < bytes.length; length++) {
      try {
        decodeOnnxModel(bytes.subarray(0, length));
      } catch (error) {
        expect(error, `length ${length}`).toBeInstanceOf(ModelContractError);
        rejected++;
      }
    }
    // Cutting after the graph between two top-level fields (2 opsets, 3 metadata entries) leaves a
    // valid shorter ModelProto; every other cut is caught.
    expect(bytes.length - rejected).toBeLessThanOrEqual(5);
  });

  it('answers 2,000 corrupted files with a model or ModelContractError', () => {
    const rng = createRng(17);
    for (let trial = 0; trial < 2000; trial++) {
      const corrupted = bytes.slice();
      for (let flips = 1 + rng.int(4); flips > 0; flips--) {
        corrupted[rng.int(corrupted.length)] = rng.int(256);
      }
      try {
        decodeOnnxModel(corrupted);
      } catch (error) {
        expect(error, `trial ${trial}`).toBeInstanceOf(ModelContractError);
      }
    }
  });
});
