/**
 * ONNX ModelProto bytes <-> a typed TreeEnsembleClassifier. The protobuf work is done by the
 * `onnx-proto` package (protobufjs static classes); this file only maps ONNX attributes to
 * `TreeEnsembleSpec` and writes graphs in the layout skl2onnx gives a scikit-learn
 * DecisionTreeClassifier exported with zipmap off.
 */
// onnx-proto is CommonJS: a default import is the one form Node ESM, tsx, vitest and esbuild
// (Workers bundles) all resolve to the same `module.exports` object.
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
// The same protobufjs copy onnx-proto's generated code uses (its `instanceof Reader` must hold).
import protobuf from 'protobufjs/minimal.js';

const { onnx } = onnxProto;
type AttributeProto = InstanceType<typeof onnx.AttributeProto>;

/** The model file breaks the serving contract; the message names the attribute or key. */
export class ModelContractError extends Error {
  override readonly name = 'ModelContractError';
}

export type NodeMode =
  'BRANCH_LEQ' | 'BRANCH_LT' | 'BRANCH_GTE' | 'BRANCH_GT' | 'BRANCH_EQ' | 'BRANCH_NEQ' | 'LEAF';

export const NODE_MODES: readonly NodeMode[] = [
  'BRANCH_LEQ',
  'BRANCH_LT',
  'BRANCH_GTE',
  'BRANCH_GT',
  'BRANCH_EQ',
  'BRANCH_NEQ',
  'LEAF',
];

/**
 * The node and leaf attributes of one ai.onnx.ml TreeEnsembleClassifier, named as in ONNX.
 * Node arrays are parallel (index i describes one node); class arrays are parallel (one leaf
 * weight each). Thresholds and weights are float32 in the file.
 */
export interface TreeEnsembleSpec {
  readonly nodes_treeids: readonly number[];
  readonly nodes_nodeids: readonly number[];
  readonly nodes_featureids: readonly number[];
  readonly nodes_values: readonly number[];
  readonly nodes_modes: readonly NodeMode[];
  readonly nodes_truenodeids: readonly number[];
  readonly nodes_falsenodeids: readonly number[];
  /** 1 = a NaN input takes the true branch; absent or 0 = the comparison decides (NaN fails it). */
  readonly nodes_missing_value_tracks_true?: readonly number[];
  readonly class_treeids: readonly number[];
  readonly class_nodeids: readonly number[];
  readonly class_ids: readonly number[];
  readonly class_weights: readonly number[];
  readonly classlabels_int64s: readonly number[];
  readonly post_transform?: string;
  readonly base_values?: readonly number[];
}

/** One attribute as stored, for contract checks on attributes TreeEnsembleSpec does not model. */
export interface DecodedAttribute {
  readonly name: string;
  /** onnx AttributeProto.AttributeType name, e.g. "INTS", "FLOATS", "STRING", "TENSOR". */
  readonly type: string;
}

export interface DecodedValueInfo {
  readonly name: string;
  /** onnx TensorProto.DataType name (e.g. "FLOAT", "INT64"), or undefined when not a tensor. */
  readonly elementType: string | undefined;
  /** Each dimension: a number, a symbolic name, or null when unknown. Undefined without a shape. */
  readonly shape: readonly (number | string | null)[] | undefined;
}

export interface DecodedNode {
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: readonly DecodedAttribute[];
}

/** The parts of a ModelProto the contract looks at. */
export interface DecodedOnnxModel {
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly opsetImports: readonly { readonly domain: string; readonly version: number }[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly inputs: readonly DecodedValueInfo[];
  readonly outputs: readonly DecodedValueInfo[];
  readonly initializerNames: readonly string[];
  readonly nodes: readonly DecodedNode[];
  /** The TreeEnsembleClassifier node's attributes as a spec; undefined when there is no such node. */
  readonly treeEnsemble: TreeEnsembleSpec | undefined;
}

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

export const ML_DOMAIN = 'ai.onnx.ml';
const IR_VERSION = 8;
const DEFAULT_OPSET = 15;
/** ai.onnx.ml 3 is the last opset holding TreeEnsembleClassifier unchanged (5 replaces it). */
const ML_OPSET = 3;
const UTF8 = new TextEncoder();
const UTF8_DECODER = new TextDecoder();

/**
 * protobufjs decodes strings byte by byte in JS; metadata holds long JSON (thousands of city
 * names), which made a cold load several times slower than the native TextDecoder does it.
 */
class NativeStringReader extends protobuf.Reader {
  override string(): string {
    return UTF8_DECODER.decode(this.bytes());
  }
}

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

/** Decodes ModelProto bytes; throws ModelContractError when they are not a ModelProto. */
export function decodeOnnxModel(bytes: Uint8Array): DecodedOnnxModel {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(new NativeStringReader(bytes));
  } catch (error) {
    throw new ModelContractError(
      `model file is not an ONNX ModelProto (${(error as Error).message})`,
      { cause: error },
    );
  }
  const graph = model.graph;
  if (!graph) throw new ModelContractError('ONNX model has no graph');
  const nodes = graph.node ?? [];
  const ensembleNode = nodes.find((node) => node.opType === 'TreeEnsembleClassifier');
  return {
    irVersion: toNumber(model.irVersion),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    opsetImports: model.opsetImport.map((opset) => ({
      domain: opset.domain ?? '',
      version: toNumber(opset.version ?? 0),
    })),
    metadata: Object.fromEntries(
      model.metadataProps.map((entry) => [entry.key ?? '', entry.value ?? '']),
    ),
    inputs: (graph.input ?? []).map(decodeValueInfo),
    outputs: (graph.output ?? []).map(decodeValueInfo),
    initializerNames: (graph.initializer ?? []).map((tensor) => tensor.name ?? ''),
    nodes: nodes.map((node) => ({
      opType: node.opType ?? '',
      domain: node.domain ?? '',
      inputs: node.input ?? [],
      outputs: node.output ?? [],
      attributes: (node.attribute ?? []).map((attribute) => ({
        name: attribute.name ?? '',
        type: attributeTypeName(attribute.type),
      })),
    })),
    treeEnsemble: ensembleNode ? readTreeEnsembleSpec(ensembleNode.attribute ?? []) : undefined,
  };
}

function attributeTypeName(type: number | null | undefined): string {
  const names = onnx.AttributeProto.AttributeType as unknown as Record<number, string | undefined>;
  return names[type ?? 0] ?? String(type);
}

function readTreeEnsembleSpec(attributes: readonly OnnxTypes.IAttributeProto[]): TreeEnsembleSpec {
  const byName = new Map(attributes.map((attribute) => [attribute.name, attribute]));
  const readInts = (name: string) => (byName.get(name)?.ints ?? []).map(toNumber);
  const readFloats = (name: string) => [...(byName.get(name)?.floats ?? [])];
  const readStrings = (name: string) =>
    (byName.get(name)?.strings ?? []).map((value) => UTF8_DECODER.decode(value));
  const postTransform = byName.get('post_transform');
  return {
    nodes_treeids: readInts('nodes_treeids'),
    nodes_nodeids: readInts('nodes_nodeids'),
    nodes_featureids: readInts('nodes_featureids'),
    nodes_values: readFloats('nodes_values'),
    nodes_modes: readStrings('nodes_modes') as NodeMode[],
    nodes_truenodeids: readInts('nodes_truenodeids'),
    nodes_falsenodeids: readInts('nodes_falsenodeids'),
    nodes_missing_value_tracks_true: byName.has('nodes_missing_value_tracks_true')
      ? readInts('nodes_missing_value_tracks_true')
      : undefined,
    class_treeids: readInts('class_treeids'),
    class_nodeids: readInts('class_nodeids'),
    class_ids: readInts('class_ids'),
    class_weights: readFloats('class_weights'),
    classlabels_int64s: readInts('classlabels_int64s'),
    post_transform: postTransform?.s ? UTF8_DECODER.decode(postTransform.s) : undefined,
    base_values: byName.has('base_values') ? readFloats('base_values') : undefined,
  };
}

function decodeValueInfo(info: OnnxTypes.IValueInfoProto): DecodedValueInfo {
  const tensor = info.type?.tensorType;
  const elementTypes = onnx.TensorProto.DataType as unknown as Record<number, string | undefined>;
  return {
    name: info.name ?? '',
    elementType: tensor ? elementTypes[tensor.elemType ?? 0] : undefined,
    shape: tensor?.shape?.dim?.map((dim) => {
      // Decoded messages expose the oneof case; a default 0 dimValue is not a set dimension.
      const setField = (dim as { value?: string }).value;
      if (setField === 'dimValue' && dim.dimValue != null) return toNumber(dim.dimValue);
      return dim.dimParam ? dim.dimParam : null;
    }),
  };
}

/** protobufjs yields int64 as Long where the `long` package resolves (Node) and as numbers elsewhere. */
function toNumber(value: number | { toNumber(): number }): number {
  return typeof value === 'number' ? value : value.toNumber();
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
