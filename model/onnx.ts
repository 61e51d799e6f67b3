/**
 * Typed TreeEnsembleClassifier → ONNX ModelProto bytes, in the layout skl2onnx gives a scikit-learn
 * DecisionTreeClassifier exported with zipmap off. The protobuf work is done by the `onnx-proto`
 * package (protobufjs static classes). Offline only (training, tests): serving decodes with the
 * lean ./onnx-decode.js and must not import this module, which would bundle all of onnx-proto.
 */
// onnx-proto is CommonJS: a default import is the one form Node ESM, tsx, vitest and esbuild
// all resolve to the same `module.exports` object.
import onnxProto from 'onnx-proto';
import { ML_DOMAIN, ModelContractError } from './onnx-contract.js';
import type { TreeEnsembleSpec } from './onnx-contract.js';

export { ML_DOMAIN, ModelContractError, NODE_MODES } from './onnx-contract.js';
export type { NodeMode, TreeEnsembleSpec } from './onnx-contract.js';
export { decodeOnnxModel } from './onnx-decode.js';
export type {
  DecodedAttribute,
  DecodedNode,
  DecodedOnnxModel,
  DecodedValueInfo,
} from './onnx-decode.js';

const { onnx } = onnxProto;
type AttributeProto = InstanceType<typeof onnx.AttributeProto>;

export interface EncodeTreeEnsembleOptions {
  /** Tensor order of the float input; its length is F in `X [N, F]`. */
  readonly featureNames: readonly string[];
  /** Column → categories (index = code), as scikit-learn OrdinalEncoder `categories_`. */
  readonly categoricalEncodings: Readonly<Record<string, readonly string[]>>;
  /** Extra metadata_props (e.g. version, metrics). Must not reuse the two keys above. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly producerName?: string;
  readonly producerVersion?: string;
}

const IR_VERSION = 8;
const DEFAULT_OPSET = 15;
/** ai.onnx.ml 3 is the last opset holding TreeEnsembleClassifier unchanged (5 replaces it). */
const ML_OPSET = 3;
const UTF8 = new TextEncoder();

/**
 * Writes ONE TreeEnsembleClassifier as a complete ONNX model, laid out as skl2onnx writes a binary
 * scikit-learn DecisionTreeClassifier with zipmap off: input `X` float [N, F], outputs `label`
 * int64 [N] and `probabilities` float [N, 2]. Binary convention: each leaf holds ONE weight,
 * P(class 1), under class id 0; onnxruntime then returns [1 - p, p] and label 1 iff p > 0.5.
 *
 * Thresholds must already be float32 values (`Math.fround(t) === t`): the runtime compares the
 * float32 input with the float32 threshold, so a double threshold would be rounded silently and
 * could send inputs next to it the other way. Use `float32AtOrBelow` for `x <= t` splits.
 *
 * @example
 * const bytes = encodeTreeEnsembleModel(
 *   {
 *     nodes_treeids: [0, 0, 0], nodes_nodeids: [0, 1, 2], nodes_featureids: [0, 0, 0],
 *     nodes_values: [float32AtOrBelow(15.5), 0, 0], nodes_modes: ['BRANCH_LEQ', 'LEAF', 'LEAF'],
 *     nodes_truenodeids: [1, 0, 0], nodes_falsenodeids: [2, 0, 0],
 *     class_treeids: [0, 0], class_nodeids: [1, 2], class_ids: [0, 0], class_weights: [0.1, 0.8],
 *     classlabels_int64s: [0, 1],
 *   },
 *   { featureNames: ['loan_int_rate'], categoricalEncodings: {}, metadata: { version: 'v1' } },
 * );
 */
export function encodeTreeEnsembleModel(
  spec: TreeEnsembleSpec,
  options: EncodeTreeEnsembleOptions,
): Uint8Array {
  spec.nodes_values.forEach((value, i) => {
    if (Math.fround(value) !== value && !Number.isNaN(value)) {
      throw new ModelContractError(
        `nodes_values[${i}] = ${value} (tree ${spec.nodes_treeids[i]}, node ${spec.nodes_nodeids[i]}) is not a float32 value; round it deliberately (float32AtOrBelow for x <= t splits)`,
      );
    }
  });
  const reserved = ['feature_names', 'categorical_encodings'];
  for (const key of Object.keys(options.metadata ?? {})) {
    if (reserved.includes(key)) {
      throw new ModelContractError(
        `metadata key ${key} is written from options.${key === 'feature_names' ? 'featureNames' : 'categoricalEncodings'}; do not pass it in options.metadata`,
      );
    }
  }
  const featureCount = options.featureNames.length;
  const attributes: AttributeProto[] = [
    ints('class_ids', spec.class_ids),
    ints('class_nodeids', spec.class_nodeids),
    ints('class_treeids', spec.class_treeids),
    floats('class_weights', spec.class_weights),
    ints('classlabels_int64s', spec.classlabels_int64s),
    ints('nodes_falsenodeids', spec.nodes_falsenodeids),
    ints('nodes_featureids', spec.nodes_featureids),
    ints(
      'nodes_missing_value_tracks_true',
      spec.nodes_missing_value_tracks_true ?? spec.nodes_modes.map(() => 0),
    ),
    strings('nodes_modes', spec.nodes_modes),
    ints('nodes_nodeids', spec.nodes_nodeids),
    ints('nodes_treeids', spec.nodes_treeids),
    ints('nodes_truenodeids', spec.nodes_truenodeids),
    floats('nodes_values', spec.nodes_values),
    onnx.AttributeProto.create({
      name: 'post_transform',
      type: onnx.AttributeProto.AttributeType.STRING,
      s: UTF8.encode(spec.post_transform ?? 'NONE'),
    }),
  ];
  if (spec.base_values !== undefined) attributes.unshift(floats('base_values', spec.base_values));

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: options.producerName ?? 'loan-decision-api',
    producerVersion: options.producerVersion ?? '0.1.0',
    domain: 'ai.onnx',
    modelVersion: 0,
    opsetImport: [
      { domain: '', version: DEFAULT_OPSET },
      { domain: ML_DOMAIN, version: ML_OPSET },
    ],
    graph: onnx.GraphProto.create({
      name: 'tree_ensemble_classifier',
      node: [
        onnx.NodeProto.create({
          name: 'TreeEnsembleClassifier',
          opType: 'TreeEnsembleClassifier',
          domain: ML_DOMAIN,
          input: ['X'],
          output: ['label', 'probabilities'],
          attribute: attributes,
        }),
      ],
      input: [tensorInfo('X', onnx.TensorProto.DataType.FLOAT, ['N', featureCount])],
      output: [
        tensorInfo('label', onnx.TensorProto.DataType.INT64, ['N']),
        tensorInfo('probabilities', onnx.TensorProto.DataType.FLOAT, ['N', 2]),
      ],
    }),
    metadataProps: [
      { key: 'feature_names', value: JSON.stringify(options.featureNames) },
      { key: 'categorical_encodings', value: JSON.stringify(options.categoricalEncodings) },
      ...Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The largest float32 ≤ value: the float32 threshold that keeps `x <= value` for float32 x. */
export function float32AtOrBelow(value: number): number {
  const rounded = Math.fround(value);
  return rounded <= value ? rounded : nextFloat32Down(rounded);
}

/** The float32 just below a float32 value (used for thresholds and by the parity tests). */
export function nextFloat32Down(value: number): number {
  return -nextFloat32Up(-value);
}

/** The float32 just above a float32 value. */
export function nextFloat32Up(value: number): number {
  if (Number.isNaN(value) || value === Infinity) return value;
  const buffer = new Float32Array([value]);
  const bits = new Int32Array(buffer.buffer);
  if (value === 0)
    bits[0] = 1; // both zeros step to the smallest subnormal
  else if (value > 0) bits[0] += 1;
  else bits[0] -= 1;
  return buffer[0];
}

function ints(name: string, values: readonly number[]): AttributeProto {
  return onnx.AttributeProto.create({
    name,
    type: onnx.AttributeProto.AttributeType.INTS,
    ints: [...values],
  });
}

function floats(name: string, values: readonly number[]): AttributeProto {
  return onnx.AttributeProto.create({
    name,
    type: onnx.AttributeProto.AttributeType.FLOATS,
    floats: [...values],
  });
}

function strings(name: string, values: readonly string[]): AttributeProto {
  return onnx.AttributeProto.create({
    name,
    type: onnx.AttributeProto.AttributeType.STRINGS,
    strings: values.map((value) => UTF8.encode(value)),
  });
}

function tensorInfo(name: string, elemType: number, dims: readonly (string | number)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })),
        },
      },
    },
  });
}
