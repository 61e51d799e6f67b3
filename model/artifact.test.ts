import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { loadModelArtifact, ModelContractError } from './artifact.js';
import { encodeTreeEnsembleModel } from './onnx.js';
import type { EncodeTreeEnsembleOptions, TreeEnsembleSpec } from './onnx.js';

const { onnx } = onnxProto;
type Model = InstanceType<typeof onnx.ModelProto>;

/** Two trees over three features; feature 1 is categorical. */
const validSpec: TreeEnsembleSpec = {
  nodes_treeids: [0, 0, 0, 0, 0, 1, 1, 1],
  nodes_nodeids: [0, 1, 2, 3, 4, 0, 1, 2],
  nodes_featureids: [0, 1, 0, 0, 0, 2, 0, 0],
  nodes_values: [15.5, 1.5, 0, 0, 0, 20000, 0, 0],
  nodes_modes: ['BRANCH_LEQ', 'BRANCH_LEQ', 'LEAF', 'LEAF', 'LEAF', 'BRANCH_LEQ', 'LEAF', 'LEAF'],
  nodes_truenodeids: [1, 2, 0, 0, 0, 1, 0, 0],
  nodes_falsenodeids: [4, 3, 0, 0, 0, 2, 0, 0],
  nodes_missing_value_tracks_true: [0, 0, 0, 0, 0, 0, 0, 0],
  class_treeids: [0, 0, 0, 1, 1],
  class_nodeids: [2, 3, 4, 1, 2],
  class_ids: [0, 0, 0, 0, 0],
  class_weights: [0.1, 0.3, 0.4, 0.05, 0.2],
  classlabels_int64s: [0, 1],
  post_transform: 'NONE',
};
const validOptions: EncodeTreeEnsembleOptions = {
  featureNames: ['loan_int_rate', 'person_home_ownership', 'loan_amnt'],
  categoricalEncodings: { person_home_ownership: ['MORTGAGE', 'OTHER', 'OWN', 'RENT'] },
};

const withSpec = (patch: Partial<Record<keyof TreeEnsembleSpec, unknown>>) =>
  encodeTreeEnsembleModel({ ...validSpec, ...patch } as TreeEnsembleSpec, validOptions);

/** Edits the protobuf directly, for graph shapes the encoder never writes. */
function edited(
  edit: (model: Model) => void,
  base = encodeTreeEnsembleModel(validSpec, validOptions),
): Uint8Array {
  const model = onnx.ModelProto.decode(base);
  edit(model);
  return onnx.ModelProto.encode(model).finish();
}
const setMetadata = (key: string, value: string | undefined) =>
  edited((model) => {
    model.metadataProps = model.metadataProps.filter((entry) => entry.key !== key);
    if (value !== undefined)
      model.metadataProps.push(onnx.StringStringEntryProto.create({ key, value }));
  });
const addAttribute = (attribute: Record<string, unknown>) =>
  edited((model) => model.graph!.node![0].attribute!.push(onnx.AttributeProto.create(attribute)));
const AttributeType = onnx.AttributeProto.AttributeType;

const violations: [string, () => Uint8Array, RegExp][] = [
  [
    'bytes that are not a ModelProto',
    () => Uint8Array.from([0x3a, 0x10, 0x01]),
    /not an ONNX ModelProto/,
  ],
  ['no graph', () => edited((model) => (model.graph = null)), /no graph/],
  [
    'no ai.onnx.ml opset',
    () =>
      edited(
        (model) => (model.opsetImport = model.opsetImport.filter((o) => o.domain !== 'ai.onnx.ml')),
      ),
    /opset_import has no ai\.onnx\.ml/,
  ],
  [
    'ai.onnx.ml opset 5',
    () =>
      edited((model) => (model.opsetImport.find((o) => o.domain === 'ai.onnx.ml')!.version = 5)),
    /ai\.onnx\.ml version 5/,
  ],
  [
    'a ZipMap after the classifier',
    () =>
      edited((model) =>
        model.graph!.node!.push(
          onnx.NodeProto.create({
            opType: 'ZipMap',
            domain: 'ai.onnx.ml',
            input: ['probabilities'],
            output: ['zipped'],
          }),
        ),
      ),
    /exactly one node.*TreeEnsembleClassifier, ZipMap/,
  ],
  [
    'the opset-5 TreeEnsemble operator',
    () => edited((model) => (model.graph!.node![0].opType = 'TreeEnsemble')),
    /ai\.onnx\.ml\.TreeEnsemble; the contract needs/,
  ],
  [
    'nodes_values_as_tensor',
    () =>
      addAttribute({
        name: 'nodes_values_as_tensor',
        type: AttributeType.TENSOR,
        t: { dims: [0], dataType: 11 },
      }),
    /attribute nodes_values_as_tensor is not supported: double-precision/,
  ],
  [
    'base_values',
    () => withSpec({ base_values: [0, 0] }),
    /attribute base_values is not supported/,
  ],
  [
    'classlabels_strings',
    () => addAttribute({ name: 'classlabels_strings', type: AttributeType.STRINGS, strings: [] }),
    /classlabels_strings is not supported/,
  ],
  [
    'an unknown attribute',
    () => addAttribute({ name: 'nodes_kinds', type: AttributeType.INTS, ints: [] }),
    /attribute nodes_kinds is not supported/,
  ],
  [
    'an attribute of the wrong type',
    () =>
      edited(
        (model) =>
          (model.graph!.node![0].attribute!.find((a) => a.name === 'nodes_values')!.type =
            AttributeType.INTS),
      ),
    /nodes_values has type INTS; expected FLOATS/,
  ],
  [
    'a double input',
    () =>
      edited(
        (model) =>
          (model.graph!.input![0].type!.tensorType!.elemType = onnx.TensorProto.DataType.DOUBLE),
      ),
    /input X must be a float tensor; found DOUBLE/,
  ],
  [
    'an input of rank 1',
    () => edited((model) => model.graph!.input![0].type!.tensorType!.shape!.dim!.pop()),
    /input X must have shape \[N, F\]/,
  ],
  [
    'label output not int64',
    () =>
      edited(
        (model) =>
          (model.graph!.output![0].type!.tensorType!.elemType = onnx.TensorProto.DataType.FLOAT),
      ),
    /output label \(label\) must be int64/,
  ],
  [
    'feature_names missing',
    () => setMetadata('feature_names', undefined),
    /metadata_props key feature_names is missing/,
  ],
  [
    'feature_names not JSON',
    () => setMetadata('feature_names', '[loan_int_rate'),
    /feature_names is not valid JSON/,
  ],
  [
    'feature_names not an array',
    () => setMetadata('feature_names', '{"a":1}'),
    /feature_names must be a non-empty JSON array/,
  ],
  [
    'feature_names with a duplicate',
    () => setMetadata('feature_names', '["a","a","b"]'),
    /feature_names lists a twice/,
  ],
  [
    'an input wider than feature_names',
    () => edited((model) => (model.graph!.input![0].type!.tensorType!.shape!.dim![1].dimValue = 4)),
    /input X has 4 columns but metadata feature_names lists 3/,
  ],
  [
    'categorical_encodings missing',
    () => setMetadata('categorical_encodings', undefined),
    /metadata_props key categorical_encodings is missing/,
  ],
  [
    'categorical_encodings for an unknown column',
    () => setMetadata('categorical_encodings', '{"city":["A"]}'),
    /categorical_encodings names column city, which is not in feature_names/,
  ],
  [
    'categorical_encodings with numbers',
    () => setMetadata('categorical_encodings', '{"person_home_ownership":[1,2]}'),
    /categorical_encodings\.person_home_ownership must be a JSON array of strings/,
  ],
  [
    'categorical_encodings with a repeated category',
    () => setMetadata('categorical_encodings', '{"person_home_ownership":["OWN","RENT","OWN"]}'),
    /categorical_encodings\.person_home_ownership repeats a category/,
  ],
  [
    'a feature id outside the input',
    () => withSpec({ nodes_featureids: [0, 3, 0, 0, 0, 2, 0, 0] }),
    /nodes_featureids: tree 0 node 1 reads feature 3, outside the 3 columns/,
  ],
  [
    'an array of the wrong length',
    () => withSpec({ nodes_falsenodeids: [4, 3, 0, 0, 0, 2, 0] }),
    /nodes_falsenodeids has 7 entries but nodes_nodeids has 8/,
  ],
  [
    'an unknown node mode',
    () => withSpec({ nodes_modes: ['BRANCH_MEMBER', ...validSpec.nodes_modes.slice(1)] }),
    /nodes_modes: tree 0 node 0 has unknown mode BRANCH_MEMBER/,
  ],
  [
    'a duplicate node id',
    () => withSpec({ nodes_nodeids: [0, 1, 2, 3, 3, 0, 1, 2] }),
    /tree 0 node 3 appears twice/,
  ],
  [
    'a child that does not exist',
    () => withSpec({ nodes_falsenodeids: [4, 6, 0, 0, 0, 2, 0, 0] }),
    /nodes_falsenodeids: tree 0 node 1 points to node 6, which tree 0 does not have/,
  ],
  [
    'a node reached twice',
    () => withSpec({ nodes_falsenodeids: [4, 2, 0, 0, 0, 2, 0, 0] }),
    /tree 0: node 2 is reached twice/,
  ],
  [
    'an unreachable node',
    () =>
      withSpec({
        nodes_treeids: [
          ...validSpec.nodes_treeids.slice(0, 5),
          0,
          ...validSpec.nodes_treeids.slice(5),
        ],
        nodes_nodeids: [
          ...validSpec.nodes_nodeids.slice(0, 5),
          5,
          ...validSpec.nodes_nodeids.slice(5),
        ],
        nodes_featureids: [
          ...validSpec.nodes_featureids.slice(0, 5),
          0,
          ...validSpec.nodes_featureids.slice(5),
        ],
        nodes_values: [
          ...validSpec.nodes_values.slice(0, 5),
          0,
          ...validSpec.nodes_values.slice(5),
        ],
        nodes_modes: [
          ...validSpec.nodes_modes.slice(0, 5),
          'LEAF',
          ...validSpec.nodes_modes.slice(5),
        ],
        nodes_truenodeids: [
          ...validSpec.nodes_truenodeids.slice(0, 5),
          0,
          ...validSpec.nodes_truenodeids.slice(5),
        ],
        nodes_falsenodeids: [
          ...validSpec.nodes_falsenodeids.slice(0, 5),
          0,
          ...validSpec.nodes_falsenodeids.slice(5),
        ],
        nodes_missing_value_tracks_true: Array(9).fill(0),
        class_treeids: [...validSpec.class_treeids, 0],
        class_nodeids: [...validSpec.class_nodeids, 5],
        class_ids: [...validSpec.class_ids, 0],
        class_weights: [...validSpec.class_weights, 0.9],
      }),
    /tree 0: node 5 is not reachable from the tree's first listed node 0/,
  ],
  [
    'a tree split in two runs',
    () =>
      withSpec({
        nodes_treeids: [0, 0, 0, 0, 0, 1, 1, 0],
      }),
    /the nodes of tree 0 must be contiguous/,
  ],
  [
    'a leaf without a weight',
    () =>
      withSpec({
        class_treeids: [0, 0, 1, 1],
        class_nodeids: [2, 3, 1, 2],
        class_ids: [0, 0, 0, 0],
        class_weights: [0.1, 0.3, 0.05, 0.2],
      }),
    /tree 0 leaf 4 has 0 class_weights entries/,
  ],
  [
    'a weight on a branch node',
    () => withSpec({ class_nodeids: [2, 3, 0, 1, 2] }),
    /class_nodeids\[2\]: tree 0 node 0 is not a LEAF/,
  ],
  [
    'a weight on a node its tree does not have',
    () => withSpec({ class_nodeids: [2, 3, 9, 1, 2] }),
    /class_nodeids\[2\]: tree 0 has no node 9/,
  ],
  [
    'a weight in a tree the ensemble does not have',
    () => withSpec({ class_treeids: [0, 0, 7, 1, 1] }),
    /class_nodeids\[2\]: tree 7 has no node 4/,
  ],
  [
    'a weight under class id 1',
    () => withSpec({ class_ids: [0, 1, 0, 0, 0] }),
    /class_ids\[1\] is 1: the binary convention/,
  ],
  [
    'a negative weight',
    () => withSpec({ class_weights: [0.1, -0.3, 0.4, 0.05, 0.2] }),
    /class_weights\[1\] = -0.3.*must be a finite probability/,
  ],
  [
    'three class labels',
    () => withSpec({ classlabels_int64s: [0, 1, 2] }),
    /classlabels_int64s must be \[0, 1\]/,
  ],
  [
    'post_transform LOGISTIC',
    () => withSpec({ post_transform: 'LOGISTIC' }),
    /post_transform LOGISTIC is not supported/,
  ],
];

describe('loadModelArtifact contract', () => {
  it('accepts the valid model and reads the artifact from it', async () => {
    const { artifact, ensemble } = await loadModelArtifact(
      encodeTreeEnsembleModel(validSpec, {
        ...validOptions,
        metadata: { version: 'v7', auc: '0.81' },
      }),
    );
    expect(artifact).toEqual({
      version: 'v7',
      featureNames: validOptions.featureNames,
      categoricalEncodings: validOptions.categoricalEncodings,
      metadata: {
        feature_names: JSON.stringify(validOptions.featureNames),
        categorical_encodings: JSON.stringify(validOptions.categoricalEncodings),
        version: 'v7',
        auc: '0.81',
      },
    });
    expect(ensemble.nodes_values).toEqual(validSpec.nodes_values);
    expect(ensemble.class_weights).toEqual(validSpec.class_weights.map(Math.fround));
  });

  it('versions a model without metadata version by the first 12 hex chars of its sha256', async () => {
    const bytes = encodeTreeEnsembleModel(validSpec, validOptions);
    const { artifact } = await loadModelArtifact(bytes);
    const { createHash } = await import('node:crypto');
    expect(artifact.version).toBe(createHash('sha256').update(bytes).digest('hex').slice(0, 12));
    const other = await loadModelArtifact(withSpec({ class_weights: [0.1, 0.3, 0.4, 0.05, 0.25] }));
    expect(other.artifact.version).not.toBe(artifact.version);
  });

  it('ignores nodes_hitrates, which inference does not use', async () => {
    await expect(
      loadModelArtifact(
        addAttribute({
          name: 'nodes_hitrates',
          type: AttributeType.FLOATS,
          floats: [1, 1, 1, 1, 1, 1, 1, 1],
        }),
      ),
    ).resolves.toBeDefined();
  });

  it.each(violations)(
    'rejects %s with ModelContractError naming the problem',
    async (_, makeBytes, message) => {
      const attempt = loadModelArtifact(makeBytes());
      await expect(attempt).rejects.toBeInstanceOf(ModelContractError);
      await expect(attempt).rejects.toThrow(message);
    },
  );
});
