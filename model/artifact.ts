/**
 * Loads ONE ONNX file into the serving contract (model/types.ts) and rejects, at load, anything the
 * compiled evaluator could not reproduce bit for bit. Bytes in, artifact out: no `fs`, so the same
 * code runs in Node, Lambda and Workers.
 */
// Not ./onnx.js: that module writes models with onnx-proto, which serving bundles must not carry.
import { categoryCodes } from './encoding.js';
import { ML_DOMAIN, ModelContractError, NODE_MODES } from './onnx-contract.js';
import type { TreeEnsembleSpec } from './onnx-contract.js';
import { decodeOnnxModel } from './onnx-decode.js';
import type { DecodedOnnxModel } from './onnx-decode.js';
import type { ModelArtifact } from './types.js';

export { ModelContractError } from './onnx-contract.js';

export interface LoadedModelArtifact {
  readonly artifact: ModelArtifact;
  readonly ensemble: TreeEnsembleSpec;
}

const VERSION_HASH_LENGTH = 12;

/** Attributes read by the evaluator (plus nodes_hitrates, which inference ignores). */
const SUPPORTED_ATTRIBUTES: Readonly<Record<string, string>> = {
  nodes_treeids: 'INTS',
  nodes_nodeids: 'INTS',
  nodes_featureids: 'INTS',
  nodes_values: 'FLOATS',
  nodes_modes: 'STRINGS',
  nodes_truenodeids: 'INTS',
  nodes_falsenodeids: 'INTS',
  nodes_missing_value_tracks_true: 'INTS',
  nodes_hitrates: 'FLOATS',
  class_treeids: 'INTS',
  class_nodeids: 'INTS',
  class_ids: 'INTS',
  class_weights: 'FLOATS',
  classlabels_int64s: 'INTS',
  post_transform: 'STRING',
};

/** Why an attribute is refused, where a plain "unsupported" would leave the user guessing. */
const REFUSAL_REASONS: Readonly<Record<string, string>> = {
  base_values:
    'onnxruntime folds base_values into binary scores in ways the compiled evaluator does not mirror; leave it out',
  classlabels_strings: 'labels must be classlabels_int64s [0, 1] (1 = default)',
};

/**
 * Validates model bytes against the serving contract and returns the artifact and its ensemble.
 *
 * @example
 * const { artifact, ensemble } = await loadModelArtifact(new Uint8Array(await readFile('model/model.onnx')));
 * artifact.featureNames; // tensor order of the float input
 */
export async function loadModelArtifact(bytes: Uint8Array): Promise<LoadedModelArtifact> {
  const decoded = decodeOnnxModel(bytes);
  const ensemble = checkGraph(decoded);
  const featureNames = readFeatureNames(decoded.metadata);
  const categoricalEncodings = readCategoricalEncodings(decoded.metadata, featureNames);
  checkInputWidth(decoded, featureNames.length);
  checkEnsemble(ensemble, featureNames.length);
  const version = decoded.metadata.version || (await contentHash(bytes));
  return {
    artifact: { version, featureNames, categoricalEncodings, metadata: decoded.metadata },
    ensemble,
  };
}

function checkGraph(model: DecodedOnnxModel): TreeEnsembleSpec {
  const mlOpset = model.opsetImports.find((opset) => opset.domain === ML_DOMAIN);
  if (!mlOpset) throw new ModelContractError(`opset_import has no ${ML_DOMAIN} entry`);
  if (mlOpset.version < 1 || mlOpset.version > 4) {
    throw new ModelContractError(
      `opset_import ${ML_DOMAIN} version ${mlOpset.version} is not supported: TreeEnsembleClassifier needs ${ML_DOMAIN} 1-4 (with skl2onnx, pass target_opset={'${ML_DOMAIN}': 3})`,
    );
  }
  if (model.nodes.length !== 1) {
    const ops = model.nodes.map((node) => node.opType).join(', ') || 'none';
    throw new ModelContractError(
      `graph must hold exactly one node, a ${ML_DOMAIN} TreeEnsembleClassifier; found ${model.nodes.length} (${ops})`,
    );
  }
  const [node] = model.nodes;
  if (node.opType !== 'TreeEnsembleClassifier' || node.domain !== ML_DOMAIN) {
    throw new ModelContractError(
      `graph node is ${node.domain || 'ai.onnx'}.${node.opType}; the contract needs ${ML_DOMAIN}.TreeEnsembleClassifier`,
    );
  }
  for (const attribute of node.attributes) {
    const expected = SUPPORTED_ATTRIBUTES[attribute.name];
    if (expected === undefined) {
      const reason =
        REFUSAL_REASONS[attribute.name] ??
        (attribute.name.endsWith('_as_tensor')
          ? 'double-precision trees are not supported; export float thresholds and weights'
          : 'not part of the supported TreeEnsembleClassifier subset');
      throw new ModelContractError(
        `TreeEnsembleClassifier attribute ${attribute.name} is not supported: ${reason}`,
      );
    }
    if (attribute.type !== expected) {
      throw new ModelContractError(
        `TreeEnsembleClassifier attribute ${attribute.name} has type ${attribute.type}; expected ${expected}`,
      );
    }
  }

  const inputs = model.inputs.filter((input) => !model.initializerNames.includes(input.name));
  if (inputs.length !== 1) {
    throw new ModelContractError(
      `graph must have exactly one input tensor; found ${inputs.length}`,
    );
  }
  const [input] = inputs;
  if (node.inputs.length !== 1 || node.inputs[0] !== input.name) {
    throw new ModelContractError(
      `TreeEnsembleClassifier input must be the graph input ${input.name}`,
    );
  }
  if (model.outputs.length !== 2 || node.outputs.length !== 2) {
    throw new ModelContractError(
      'graph outputs must be the TreeEnsembleClassifier outputs (label, probabilities); zipmap must be off',
    );
  }
  const [label, probabilities] = model.outputs;
  if (label.name !== node.outputs[0] || probabilities.name !== node.outputs[1]) {
    throw new ModelContractError(
      `graph outputs (${label.name}, ${probabilities.name}) must be the TreeEnsembleClassifier outputs (${node.outputs.join(', ')})`,
    );
  }
  if (label.elementType !== 'INT64') {
    throw new ModelContractError(
      `output ${label.name} (label) must be int64; found ${label.elementType ?? 'non-tensor'}`,
    );
  }
  if (probabilities.elementType !== 'FLOAT') {
    throw new ModelContractError(
      `output ${probabilities.name} (probabilities) must be a float tensor; found ${probabilities.elementType ?? 'non-tensor (is zipmap on?)'}`,
    );
  }
  return model.treeEnsemble as TreeEnsembleSpec;
}

function checkInputWidth(model: DecodedOnnxModel, featureCount: number): void {
  const input = model.inputs.find((candidate) => !model.initializerNames.includes(candidate.name))!;
  if (input.elementType !== 'FLOAT') {
    throw new ModelContractError(
      `input ${input.name} must be a float tensor; found ${input.elementType ?? 'non-tensor'}`,
    );
  }
  if (!input.shape || input.shape.length !== 2) {
    throw new ModelContractError(
      `input ${input.name} must have shape [N, F]; found ${JSON.stringify(input.shape ?? null)}`,
    );
  }
  if (input.shape[1] !== featureCount) {
    throw new ModelContractError(
      `input ${input.name} has ${String(input.shape[1])} columns but metadata feature_names lists ${featureCount}`,
    );
  }
}

function readFeatureNames(metadata: Readonly<Record<string, string>>): string[] {
  const names = parseMetadataJson(metadata, 'feature_names', 'a JSON array of feature names');
  if (
    !Array.isArray(names) ||
    names.length === 0 ||
    !names.every((name) => typeof name === 'string' && name)
  ) {
    throw new ModelContractError(
      'metadata feature_names must be a non-empty JSON array of non-empty strings',
    );
  }
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined)
    throw new ModelContractError(`metadata feature_names lists ${duplicate} twice`);
  return names as string[];
}

function readCategoricalEncodings(
  metadata: Readonly<Record<string, string>>,
  featureNames: readonly string[],
): Record<string, string[]> {
  const encodings = parseMetadataJson(
    metadata,
    'categorical_encodings',
    'a JSON object column → categories ({} when none)',
  );
  if (typeof encodings !== 'object' || encodings === null || Array.isArray(encodings)) {
    throw new ModelContractError(
      'metadata categorical_encodings must be a JSON object: column → list of categories',
    );
  }
  for (const [column, categories] of Object.entries(encodings)) {
    if (!featureNames.includes(column)) {
      throw new ModelContractError(
        `metadata categorical_encodings names column ${column}, which is not in feature_names`,
      );
    }
    if (
      !Array.isArray(categories) ||
      !categories.every((category) => typeof category === 'string')
    ) {
      throw new ModelContractError(
        `metadata categorical_encodings.${column} must be a JSON array of strings`,
      );
    }
    // The encoder reuses this lookup (categoryCodes caches it per list): it is built only once.
    if (categoryCodes(categories).hasDuplicates) {
      throw new ModelContractError(`metadata categorical_encodings.${column} repeats a category`);
    }
  }
  return encodings as Record<string, string[]>;
}

function parseMetadataJson(
  metadata: Readonly<Record<string, string>>,
  key: string,
  what: string,
): unknown {
  const text = metadata[key];
  if (text === undefined)
    throw new ModelContractError(`metadata_props key ${key} is missing; it must hold ${what}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelContractError(
      `metadata_props key ${key} is not valid JSON; it must hold ${what}`,
      { cause: error },
    );
  }
}

function checkEnsemble(spec: TreeEnsembleSpec, featureCount: number): void {
  const nodeCount = spec.nodes_nodeids.length;
  if (nodeCount === 0)
    throw new ModelContractError('TreeEnsembleClassifier has no nodes (nodes_nodeids is empty)');
  const nodeArrays = {
    nodes_treeids: spec.nodes_treeids,
    nodes_featureids: spec.nodes_featureids,
    nodes_values: spec.nodes_values,
    nodes_modes: spec.nodes_modes,
    nodes_truenodeids: spec.nodes_truenodeids,
    nodes_falsenodeids: spec.nodes_falsenodeids,
    ...(spec.nodes_missing_value_tracks_true && spec.nodes_missing_value_tracks_true.length > 0
      ? { nodes_missing_value_tracks_true: spec.nodes_missing_value_tracks_true }
      : {}),
  };
  for (const [name, values] of Object.entries(nodeArrays)) {
    if (values.length !== nodeCount) {
      throw new ModelContractError(
        `${name} has ${values.length} entries but nodes_nodeids has ${nodeCount}`,
      );
    }
  }
  const leafCount = spec.class_nodeids.length;
  for (const [name, values] of Object.entries({
    class_treeids: spec.class_treeids,
    class_ids: spec.class_ids,
    class_weights: spec.class_weights,
  })) {
    if (values.length !== leafCount) {
      throw new ModelContractError(
        `${name} has ${values.length} entries but class_nodeids has ${leafCount}`,
      );
    }
  }
  if (
    spec.classlabels_int64s.length !== 2 ||
    spec.classlabels_int64s[0] !== 0 ||
    spec.classlabels_int64s[1] !== 1
  ) {
    throw new ModelContractError(
      `classlabels_int64s must be [0, 1] (binary; 1 = default); found ${JSON.stringify(spec.classlabels_int64s)}`,
    );
  }
  if ((spec.post_transform ?? 'NONE') !== 'NONE') {
    throw new ModelContractError(
      `post_transform ${spec.post_transform} is not supported; leaf weights must be probabilities (NONE)`,
    );
  }
  checkLeafWeights(spec, checkNodes(spec, featureCount));
}

/**
 * Where each node sits in the node arrays: tree id → node id → index. Maps of numbers rather than
 * one map of `${tree}:${node}` strings, which built two strings a node at every cold start.
 */
type NodePositions = Map<number, Map<number, number>>;

function checkNodes(spec: TreeEnsembleSpec, featureCount: number): NodePositions {
  const where = (i: number) => `tree ${spec.nodes_treeids[i]} node ${spec.nodes_nodeids[i]}`;
  const positions: NodePositions = new Map();
  const closedTrees = new Set<number>();
  spec.nodes_nodeids.forEach((nodeId, i) => {
    const treeId = spec.nodes_treeids[i];
    if (i > 0 && spec.nodes_treeids[i - 1] !== treeId) {
      closedTrees.add(spec.nodes_treeids[i - 1]);
      // onnxruntime starts a new tree whenever nodes_treeids changes, so a split tree is two trees.
      if (closedTrees.has(treeId)) {
        throw new ModelContractError(
          `nodes_treeids: the nodes of tree ${treeId} must be contiguous`,
        );
      }
    }
    // onnxruntime rejects child ids outside [0, total node count), so ids must stay in that range.
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId >= spec.nodes_nodeids.length) {
      throw new ModelContractError(
        `nodes_nodeids: ${where(i)} is outside [0, ${spec.nodes_nodeids.length}) (the ensemble's node count)`,
      );
    }
    let tree = positions.get(treeId);
    if (tree === undefined) positions.set(treeId, (tree = new Map()));
    if (tree.has(nodeId)) throw new ModelContractError(`nodes_nodeids: ${where(i)} appears twice`);
    tree.set(nodeId, i);
    const mode = spec.nodes_modes[i];
    if (!NODE_MODES.includes(mode))
      throw new ModelContractError(`nodes_modes: ${where(i)} has unknown mode ${mode}`);
    const tracks = spec.nodes_missing_value_tracks_true?.[i] ?? 0;
    if (tracks !== 0 && tracks !== 1) {
      throw new ModelContractError(
        `nodes_missing_value_tracks_true: ${where(i)} must be 0 or 1, found ${tracks}`,
      );
    }
    if (mode === 'LEAF') return;
    const featureId = spec.nodes_featureids[i];
    if (!Number.isInteger(featureId) || featureId < 0 || featureId >= featureCount) {
      throw new ModelContractError(
        `nodes_featureids: ${where(i)} reads feature ${featureId}, outside the ${featureCount} columns of feature_names`,
      );
    }
    if (Number.isNaN(spec.nodes_values[i]))
      throw new ModelContractError(`nodes_values: ${where(i)} has a NaN threshold`);
  });

  // Each tree must be a tree rooted at its first listed node (onnxruntime's root): every node
  // reached exactly once, so the compiled layout and onnxruntime walk the same structure.
  const visited = new Uint8Array(spec.nodes_nodeids.length);
  let start = 0;
  while (start < spec.nodes_nodeids.length) {
    const treeId = spec.nodes_treeids[start];
    let end = start;
    while (end < spec.nodes_nodeids.length && spec.nodes_treeids[end] === treeId) end++;
    const stack = [start];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (visited[i])
        throw new ModelContractError(
          `tree ${treeId}: node ${spec.nodes_nodeids[i]} is reached twice (not a tree)`,
        );
      visited[i] = 1;
      if (spec.nodes_modes[i] === 'LEAF') continue;
      const tree = positions.get(treeId)!;
      for (const attribute of ['nodes_truenodeids', 'nodes_falsenodeids'] as const) {
        const childId = spec[attribute][i];
        const child = tree.get(childId);
        if (child === undefined) {
          throw new ModelContractError(
            `${attribute}: ${where(i)} points to node ${childId}, which tree ${treeId} does not have`,
          );
        }
        stack.push(child);
      }
    }
    for (let i = start; i < end; i++) {
      if (!visited[i]) {
        throw new ModelContractError(
          `tree ${treeId}: node ${spec.nodes_nodeids[i]} is not reachable from the tree's first listed node ${spec.nodes_nodeids[start]}`,
        );
      }
    }
    start = end;
  }
  return positions;
}

function checkLeafWeights(spec: TreeEnsembleSpec, positions: NodePositions): void {
  const weightCount = new Uint32Array(spec.nodes_nodeids.length);
  spec.class_nodeids.forEach((nodeId, k) => {
    const treeId = spec.class_treeids[k];
    const node = positions.get(treeId)?.get(nodeId);
    if (node === undefined) {
      throw new ModelContractError(`class_nodeids[${k}]: tree ${treeId} has no node ${nodeId}`);
    }
    if (spec.nodes_modes[node] !== 'LEAF') {
      throw new ModelContractError(
        `class_nodeids[${k}]: tree ${treeId} node ${nodeId} is not a LEAF`,
      );
    }
    if (spec.class_ids[k] !== 0) {
      throw new ModelContractError(
        `class_ids[${k}] is ${spec.class_ids[k]}: the binary convention stores P(class 1) under class id 0 only`,
      );
    }
    const weight = spec.class_weights[k];
    if (!Number.isFinite(weight) || weight < 0) {
      throw new ModelContractError(
        `class_weights[${k}] = ${weight} (tree ${treeId} node ${nodeId}) must be a finite probability ≥ 0`,
      );
    }
    weightCount[node]++;
  });
  spec.nodes_modes.forEach((mode, i) => {
    if (mode === 'LEAF' && weightCount[i] !== 1) {
      throw new ModelContractError(
        `tree ${spec.nodes_treeids[i]} leaf ${spec.nodes_nodeids[i]} has ${weightCount[i]} class_weights entries; the binary convention needs exactly one`,
      );
    }
  });
}

async function contentHash(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>),
  );
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex.slice(0, VERSION_HASH_LENGTH);
}
