import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import {
  decodeOnnxModel,
  encodeTreeEnsembleModel,
  float32AtOrBelow,
  ModelContractError,
  nextFloat32Down,
  nextFloat32Up,
} from './onnx.js';
import { createRandomEnsemble, encodeRandomEnsemble } from './testing/random-ensemble.js';

const { onnx } = onnxProto;

describe('encodeTreeEnsembleModel', () => {
  const ensemble = createRandomEnsemble(11, { style: 'mixed', treeCount: 3 });
  const bytes = encodeRandomEnsemble(ensemble, { version: 'v1', trained_at: '2021-08-25' });

  it('writes the skl2onnx layout: X float [N, F] → TreeEnsembleClassifier → label int64 [N], probabilities float [N, 2]', () => {
    const model = onnx.ModelProto.decode(bytes);
    const graph = model.graph!;
    expect(graph.node).toHaveLength(1);
    expect(graph.node![0]).toMatchObject({
      opType: 'TreeEnsembleClassifier',
      domain: 'ai.onnx.ml',
      input: ['X'],
      output: ['label', 'probabilities'],
    });
    const names = graph.node![0].attribute!.map((attribute) => attribute.name);
    expect(names).toEqual([...names].sort()); // onnx.helper.make_node sorts attributes by name
    const decoded = decodeOnnxModel(bytes);
    expect(decoded.inputs).toEqual([
      { name: 'X', elementType: 'FLOAT', shape: ['N', ensemble.featureNames.length] },
    ]);
    expect(decoded.outputs).toEqual([
      { name: 'label', elementType: 'INT64', shape: ['N'] },
      { name: 'probabilities', elementType: 'FLOAT', shape: ['N', 2] },
    ]);
    expect(decoded.opsetImports).toEqual(
      expect.arrayContaining([
        { domain: '', version: expect.any(Number) },
        { domain: 'ai.onnx.ml', version: 3 },
      ]),
    );
    expect(decoded.producerName).toBe('loan-decision-api');
  });

  it('carries feature_names, categorical_encodings and extra metadata in metadata_props', () => {
    const { metadata } = decodeOnnxModel(bytes);
    expect(JSON.parse(metadata.feature_names)).toEqual(ensemble.featureNames);
    expect(JSON.parse(metadata.categorical_encodings)).toEqual(ensemble.categoricalEncodings);
    expect(metadata.version).toBe('v1');
    expect(metadata.trained_at).toBe('2021-08-25');
  });

  it('round-trips the spec (weights become float32)', () => {
    const { treeEnsemble } = decodeOnnxModel(bytes);
    expect(treeEnsemble).toEqual({
      ...ensemble.spec,
      class_weights: ensemble.spec.class_weights.map(Math.fround),
      base_values: undefined,
    });
  });

  it('refuses a threshold that is not a float32 value, naming the node', () => {
    const spec = {
      ...ensemble.spec,
      nodes_values: ensemble.spec.nodes_values.map((v, i) => (i === 0 ? 15.55 : v)),
    };
    expect(() =>
      encodeTreeEnsembleModel(spec, {
        featureNames: ensemble.featureNames,
        categoricalEncodings: {},
      }),
    ).toThrow(/nodes_values\[0\] = 15.55 \(tree 0, node \d+\) is not a float32 value/);
  });

  it('refuses metadata that would overwrite the contract keys', () => {
    expect(() =>
      encodeTreeEnsembleModel(ensemble.spec, {
        featureNames: ensemble.featureNames,
        categoricalEncodings: ensemble.categoricalEncodings,
        metadata: { feature_names: '[]' },
      }),
    ).toThrow(ModelContractError);
  });
});

describe('float32 helpers', () => {
  it.each([15.5, 16.02, 0.1, 1e-40, -3.3, 0, 123456789.123])(
    'float32AtOrBelow(%d) is the largest float32 not above it',
    (value) => {
      const threshold = float32AtOrBelow(value);
      expect(Math.fround(threshold)).toBe(threshold);
      expect(threshold).toBeLessThanOrEqual(value);
      expect(nextFloat32Up(threshold)).toBeGreaterThan(value);
    },
  );

  it('steps one float32 up and down, across zero and to infinity', () => {
    expect(nextFloat32Up(1)).toBe(1 + 2 ** -23);
    expect(nextFloat32Down(1)).toBe(1 - 2 ** -24);
    expect(nextFloat32Up(0)).toBe(2 ** -149);
    expect(nextFloat32Down(0)).toBe(-(2 ** -149));
    expect(nextFloat32Up(3.4028234663852886e38)).toBe(Infinity);
  });
});
