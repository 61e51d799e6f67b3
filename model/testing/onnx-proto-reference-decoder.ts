/**
 * The decoder serving used before ./onnx-decode.js: onnx-proto's generated protobufjs code, mapped
 * to the same DecodedOnnxModel. Tests decode every file with both and compare, so a wrong field
 * number or wire-type mistake in the hand-written decoder shows up as a difference.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { ModelContractError } from '../onnx-contract.js';
import type { NodeMode, TreeEnsembleSpec } from '../onnx-contract.js';
import type { DecodedOnnxModel, DecodedValueInfo } from '../onnx-decode.js';

const { onnx } = onnxProto;
const UTF8 = new TextDecoder();

export function decodeOnnxModelWithOnnxProto(bytes: Uint8Array): DecodedOnnxModel {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
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
      inputs: [...(node.input ?? [])],
      outputs: [...(node.output ?? [])],
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
    (byName.get(name)?.strings ?? []).map((value) => UTF8.decode(value));
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
    post_transform: postTransform?.s ? UTF8.decode(postTransform.s) : undefined,
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
