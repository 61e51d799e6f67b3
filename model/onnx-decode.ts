/**
 * ONNX ModelProto bytes → the parts the serving contract checks, decoding only the messages and
 * fields serving reads; every other field is skipped by wire type, so files from newer ONNX
 * versions load as long as the parts we read keep their field numbers (protobuf guarantees that).
 *
 * Hand-written rather than onnx-proto's generated decoder, which serving used before: onnx-proto is
 * generic code for every ONNX message (encode, decode, verify, fromObject, toObject) and made up
 * ~101 KiB of the ~219 KiB minified serving bundle, for the ~10 messages read here. V8 compiled
 * it at every cold start and its decoder ran in the interpreter. Field numbers are from onnx.proto
 * (onnx-proto 8 / ONNX IR 8); a test decodes the same files with onnx-proto and compares.
 * A known field with an unexpected wire type is skipped as unknown, as protobuf's C++ parser (the
 * one onnxruntime uses) does, where onnx-proto's generated code would misread it.
 */
import { ModelContractError } from './onnx-contract.js';
import type { NodeMode, TreeEnsembleSpec } from './onnx-contract.js';
import {
  ProtobufWireError,
  ProtobufWireReader,
  WIRE_FIXED32 as FIXED32,
  WIRE_LENGTH_DELIMITED as LEN,
  WIRE_VARINT as VARINT,
} from './protobuf-wire-reader.js';

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

/** AttributeProto.AttributeType and TensorProto.DataType names, indexed by their numbers. */
const ATTRIBUTE_TYPES = (
  'UNDEFINED FLOAT INT STRING TENSOR GRAPH FLOATS INTS STRINGS TENSORS GRAPHS ' +
  'SPARSE_TENSOR SPARSE_TENSORS TYPE_PROTO TYPE_PROTOS'
).split(' ');
const DATA_TYPES = (
  'UNDEFINED FLOAT UINT8 INT8 UINT16 INT16 INT32 INT64 STRING BOOL FLOAT16 DOUBLE ' +
  'UINT32 UINT64 COMPLEX64 COMPLEX128 BFLOAT16'
).split(' ');

const UTF8 = new TextDecoder();
const NO_BYTES = new Uint8Array(0);

/** AttributeProto with the payload fields a TreeEnsembleClassifier uses. */
interface RawAttribute {
  name: string;
  type: number;
  s: Uint8Array;
  ints: number[];
  floats: number[];
  strings: Uint8Array[];
}

interface RawNode extends DecodedNode {
  readonly rawAttributes: readonly RawAttribute[];
}

/**
 * Decodes ModelProto bytes; throws ModelContractError when they are not a ModelProto.
 *
 * @example
 * const decoded = decodeOnnxModel(new Uint8Array(await readFile('model/model.onnx')));
 * decoded.treeEnsemble?.nodes_values; // float32 thresholds
 */
export function decodeOnnxModel(bytes: Uint8Array): DecodedOnnxModel {
  const reader = new ProtobufWireReader(bytes);
  let model: ReturnType<typeof readModel>;
  try {
    model = readModel(reader, bytes.length);
  } catch (error) {
    throw new ModelContractError(
      `model file is not an ONNX ModelProto (${(error as Error).message})`,
      { cause: error },
    );
  }
  const { graph } = model;
  if (!graph) throw new ModelContractError('ONNX model has no graph');
  const ensembleNode = graph.nodes.find((node) => node.opType === 'TreeEnsembleClassifier');
  return {
    irVersion: model.irVersion,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    opsetImports: model.opsetImports,
    metadata: Object.fromEntries(model.metadata),
    inputs: graph.inputs,
    outputs: graph.outputs,
    initializerNames: graph.initializerNames,
    nodes: graph.nodes.map(({ opType, domain, inputs, outputs, attributes }) => ({
      opType,
      domain,
      inputs,
      outputs,
      attributes,
    })),
    treeEnsemble: ensembleNode ? treeEnsembleSpec(ensembleNode.rawAttributes) : undefined,
  };
}

function readModel(reader: ProtobufWireReader, end: number) {
  const model = {
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    opsetImports: [] as { domain: string; version: number }[],
    metadata: [] as [string, string][],
    graph: undefined as ReturnType<typeof readGraph> | undefined,
  };
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === VARINT) model.irVersion = reader.int64();
    else if (field === 2 && wire === LEN) model.producerName = reader.string();
    else if (field === 3 && wire === LEN) model.producerVersion = reader.string();
    else if (field === 7 && wire === LEN) model.graph = readGraph(reader, reader.messageEnd());
    else if (field === 8 && wire === LEN) {
      model.opsetImports.push(readOpset(reader, reader.messageEnd()));
    } else if (field === 14 && wire === LEN) {
      model.metadata.push(readStringEntry(reader, reader.messageEnd()));
    } else reader.skip(wire);
  }
  reader.expectEnd(end, 'ModelProto');
  return model;
}

function readOpset(reader: ProtobufWireReader, end: number) {
  const opset = { domain: '', version: 0 };
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | LEN)) opset.domain = reader.string();
    else if (tag === ((2 << 3) | VARINT)) opset.version = reader.int64();
    else reader.skip(tag & 7);
  }
  reader.expectEnd(end, 'OperatorSetIdProto');
  return opset;
}

function readStringEntry(reader: ProtobufWireReader, end: number): [string, string] {
  let key = '';
  let value = '';
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | LEN)) key = reader.string();
    else if (tag === ((2 << 3) | LEN)) value = reader.string();
    else reader.skip(tag & 7);
  }
  reader.expectEnd(end, 'StringStringEntryProto');
  return [key, value];
}

function readGraph(reader: ProtobufWireReader, end: number) {
  const nodes: RawNode[] = [];
  const inputs: DecodedValueInfo[] = [];
  const outputs: DecodedValueInfo[] = [];
  const initializerNames: string[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if ((tag & 7) !== LEN) reader.skip(tag & 7);
    else if (field === 1) nodes.push(readNode(reader, reader.messageEnd()));
    else if (field === 5) initializerNames.push(readTensorName(reader, reader.messageEnd()));
    else if (field === 11) inputs.push(readValueInfo(reader, reader.messageEnd()));
    else if (field === 12) outputs.push(readValueInfo(reader, reader.messageEnd()));
    else reader.skip(LEN);
  }
  reader.expectEnd(end, 'GraphProto');
  return { nodes, inputs, outputs, initializerNames };
}

/** TensorProto: only its name (field 8) matters, to tell initializers from real inputs. */
function readTensorName(reader: ProtobufWireReader, end: number): string {
  let name = '';
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((8 << 3) | LEN)) name = reader.string();
    else reader.skip(tag & 7);
  }
  reader.expectEnd(end, 'TensorProto');
  return name;
}

function readNode(reader: ProtobufWireReader, end: number): RawNode {
  let opType = '';
  let domain = '';
  const inputs: string[] = [];
  const outputs: string[] = [];
  const rawAttributes: RawAttribute[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if ((tag & 7) !== LEN) reader.skip(tag & 7);
    else if (field === 1) inputs.push(reader.string());
    else if (field === 2) outputs.push(reader.string());
    else if (field === 4) opType = reader.string();
    else if (field === 5) rawAttributes.push(readAttribute(reader, reader.messageEnd()));
    else if (field === 7) domain = reader.string();
    else reader.skip(LEN);
  }
  reader.expectEnd(end, 'NodeProto');
  const attributes = rawAttributes.map(({ name, type }) => ({
    name,
    type: ATTRIBUTE_TYPES[type] ?? String(type),
  }));
  return { opType, domain, inputs, outputs, attributes, rawAttributes };
}

/**
 * AttributeProto. Repeated numbers may come packed (what writers emit) or one field per value;
 * both are read. Tensor-valued attributes (`t`, the *_as_tensor variants) are skipped: the
 * contract refuses them by name and type, so their payload is never needed.
 */
function readAttribute(reader: ProtobufWireReader, end: number): RawAttribute {
  const attribute: RawAttribute = {
    name: '',
    type: 0,
    s: NO_BYTES,
    ints: [],
    floats: [],
    strings: [],
  };
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === LEN) attribute.name = reader.string();
    else if (field === 20 && wire === VARINT) attribute.type = reader.int32();
    else if (field === 4 && wire === LEN) attribute.s = reader.bytesField();
    else if (field === 7 && wire === FIXED32) attribute.floats.push(reader.float());
    else if (field === 7 && wire === LEN) readPackedFloats(reader, attribute);
    else if (field === 8 && wire === VARINT) attribute.ints.push(reader.int64());
    else if (field === 8 && wire === LEN) {
      const packedEnd = reader.messageEnd();
      while (reader.pos < packedEnd) attribute.ints.push(reader.int64());
      reader.expectEnd(packedEnd, `attribute ${attribute.name || '(unnamed)'} packed ints`);
    } else if (field === 9 && wire === LEN) attribute.strings.push(reader.bytesField());
    else reader.skip(wire);
  }
  reader.expectEnd(end, 'AttributeProto');
  return attribute;
}

function readPackedFloats(reader: ProtobufWireReader, attribute: RawAttribute): void {
  const packedEnd = reader.messageEnd();
  if ((packedEnd - reader.pos) % 4 !== 0) {
    throw new ProtobufWireError(
      `attribute ${attribute.name || '(unnamed)'}: packed floats are ${packedEnd - reader.pos} bytes, not a multiple of 4`,
    );
  }
  while (reader.pos < packedEnd) attribute.floats.push(reader.float());
}

type TensorInfo = Pick<DecodedValueInfo, 'elementType' | 'shape'>;
const NOT_A_TENSOR: TensorInfo = { elementType: undefined, shape: undefined };

/** ValueInfoProto → TypeProto → TypeProto.Tensor → TensorShapeProto, flattened. */
function readValueInfo(reader: ProtobufWireReader, end: number): DecodedValueInfo {
  let name = '';
  let tensor = NOT_A_TENSOR;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | LEN)) name = reader.string();
    else if (tag === ((2 << 3) | LEN)) tensor = readTypeProto(reader, reader.messageEnd());
    else reader.skip(tag & 7);
  }
  reader.expectEnd(end, 'ValueInfoProto');
  return { name, elementType: tensor.elementType, shape: tensor.shape };
}

/** TypeProto: only the tensor_type case (field 1); sequences, maps, optionals are not tensors. */
function readTypeProto(reader: ProtobufWireReader, end: number): TensorInfo {
  let tensor = NOT_A_TENSOR;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | LEN)) tensor = readTensorType(reader, reader.messageEnd());
    else reader.skip(tag & 7);
  }
  reader.expectEnd(end, 'TypeProto');
  return tensor;
}

function readTensorType(reader: ProtobufWireReader, end: number): TensorInfo {
  let elemType = 0;
  let shape: (number | string | null)[] | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | VARINT)) elemType = reader.int32();
    else if (tag === ((2 << 3) | LEN)) shape = readShape(reader, reader.messageEnd());
    else reader.skip(tag & 7);
  }
  reader.expectEnd(end, 'TypeProto.Tensor');
  return { elementType: DATA_TYPES[elemType], shape };
}

function readShape(reader: ProtobufWireReader, end: number): (number | string | null)[] {
  const dims: (number | string | null)[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | LEN)) dims.push(readDimension(reader, reader.messageEnd()));
    else reader.skip(tag & 7);
  }
  reader.expectEnd(end, 'TensorShapeProto');
  return dims;
}

/** Dimension is a oneof (dim_value | dim_param): the last one on the wire is the one set. */
function readDimension(reader: ProtobufWireReader, end: number): number | string | null {
  let value: number | string | null = null;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | VARINT)) value = reader.int64();
    else if (tag === ((2 << 3) | LEN)) value = reader.string() || null;
    else reader.skip(tag & 7);
  }
  reader.expectEnd(end, 'TensorShapeProto.Dimension');
  return value;
}

function treeEnsembleSpec(attributes: readonly RawAttribute[]): TreeEnsembleSpec {
  // A repeated attribute name: the last one wins, as a Map built from the list would have it.
  const byName = new Map(attributes.map((attribute) => [attribute.name, attribute]));
  const ints = (name: string) => byName.get(name)?.ints ?? [];
  const floats = (name: string) => byName.get(name)?.floats ?? [];
  const strings = (name: string) =>
    (byName.get(name)?.strings ?? []).map((value) => UTF8.decode(value));
  const postTransform = byName.get('post_transform');
  return {
    nodes_treeids: ints('nodes_treeids'),
    nodes_nodeids: ints('nodes_nodeids'),
    nodes_featureids: ints('nodes_featureids'),
    nodes_values: floats('nodes_values'),
    nodes_modes: strings('nodes_modes') as NodeMode[],
    nodes_truenodeids: ints('nodes_truenodeids'),
    nodes_falsenodeids: ints('nodes_falsenodeids'),
    nodes_missing_value_tracks_true: byName.has('nodes_missing_value_tracks_true')
      ? ints('nodes_missing_value_tracks_true')
      : undefined,
    class_treeids: ints('class_treeids'),
    class_nodeids: ints('class_nodeids'),
    class_ids: ints('class_ids'),
    class_weights: floats('class_weights'),
    classlabels_int64s: ints('classlabels_int64s'),
    // Present without `s` reads as '' (not NONE), so the contract names the empty value.
    post_transform: postTransform ? UTF8.decode(postTransform.s) : undefined,
    base_values: byName.has('base_values') ? floats('base_values') : undefined,
  };
}
