/**
 * Seeded random TreeEnsembleClassifiers that satisfy the serving contract, and rows that probe
 * them where runtimes could disagree: exactly on thresholds, one float32 step either side, NaN,
 * unseen category codes. Used by the parity tests and by anyone who needs a model file before a
 * trained one exists.
 */
import { encodeTreeEnsembleModel, nextFloat32Down, nextFloat32Up } from '../onnx.js';
import type { NodeMode, TreeEnsembleSpec } from '../onnx.js';
import { UNSEEN_CATEGORY_CODE } from '../encoding.js';

export interface FeatureShape {
  readonly name: string;
  /** Present for ordinal-encoded (categorical) columns. */
  readonly categories?: readonly string[];
}

export interface RandomEnsembleOptions {
  /** Columns of the input; default: `featureCount` columns f0…, about a third categorical. */
  readonly features?: readonly FeatureShape[];
  readonly featureCount?: number;
  /** Default: 1 to 6 trees. */
  readonly treeCount?: number;
  /** Default 5. */
  readonly maxDepth?: number;
  /**
   * 'sklearn': BRANCH_LEQ only, no missing tracks, preorder node ids (what skl2onnx writes).
   * 'mixed' (default): all six modes, missing tracks, shuffled node order and ids.
   */
  readonly style?: 'sklearn' | 'mixed';
  /** Branch modes to draw from; default by style. One mode exercises onnxruntime's same-mode loop. */
  readonly modes?: readonly NodeMode[];
  /** Whether nodes may set nodes_missing_value_tracks_true; default by style. */
  readonly missingTracks?: boolean;
}

export interface RandomEnsemble {
  readonly spec: TreeEnsembleSpec;
  readonly featureNames: readonly string[];
  readonly categoricalEncodings: Readonly<Record<string, readonly string[]>>;
  /** Thresholds used, per feature index (the rows generator aims at them). */
  readonly thresholds: readonly (readonly number[])[];
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  int(maxExclusive: number): number;
  chance(probability: number): boolean;
  pick<T>(values: readonly T[]): T;
}

/** mulberry32: tiny, seedable, and good enough to spread test cases. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (maxExclusive) => Math.floor(next() * maxExclusive),
    chance: (probability) => next() < probability,
    pick: (values) => values[Math.floor(next() * values.length)],
  };
}

const BRANCH_MODES: readonly NodeMode[] = [
  'BRANCH_LEQ',
  'BRANCH_LT',
  'BRANCH_GTE',
  'BRANCH_GT',
  'BRANCH_EQ',
  'BRANCH_NEQ',
];

interface DraftNode {
  leaf: boolean;
  feature: number;
  threshold: number;
  mode: NodeMode;
  missingTrue: number;
  weight: number;
  trueChild?: DraftNode;
  falseChild?: DraftNode;
}

export function createRandomEnsemble(
  seed: number,
  options: RandomEnsembleOptions = {},
): RandomEnsemble {
  const rng = createRng(seed);
  const style = options.style ?? 'mixed';
  const features = options.features ?? defaultFeatures(rng, options.featureCount ?? 6);
  const treeCount = options.treeCount ?? 1 + rng.int(6);
  const maxDepth = options.maxDepth ?? 5;
  const modes = options.modes ?? (style === 'sklearn' ? ['BRANCH_LEQ' as const] : BRANCH_MODES);
  const missingTracks = options.missingTracks ?? style === 'mixed';
  const thresholds: number[][] = features.map(() => []);
  const weightGrid = [0, 0.5 / treeCount, 1 / treeCount, 0.25 / treeCount, 0.1, 0.3];

  const drawThreshold = (feature: number, mode: NodeMode): number => {
    const categories = features[feature].categories;
    let threshold: number;
    if (categories) {
      const code = rng.int(categories.length);
      threshold =
        mode === 'BRANCH_EQ' || mode === 'BRANCH_NEQ' || rng.chance(0.3) ? code : code + 0.5;
    } else if (thresholds[feature].length > 0 && rng.chance(0.3)) {
      threshold = rng.pick(thresholds[feature]); // shared thresholds: several nodes on one edge
    } else {
      threshold = rng.chance(0.3) ? rng.int(100) - 20 : Math.fround(rng.next() * 200 - 50);
    }
    thresholds[feature].push(threshold);
    return threshold;
  };

  const grow = (depth: number): DraftNode => {
    const leaf = depth >= maxDepth || (depth > 0 && rng.chance(0.3));
    if (leaf) {
      const weight = rng.chance(0.4) ? rng.pick(weightGrid) : rng.next() / treeCount;
      return {
        leaf,
        feature: 0,
        threshold: 0,
        mode: 'LEAF',
        missingTrue: 0,
        weight: Math.fround(weight),
      };
    }
    const feature = rng.int(features.length);
    const mode = rng.pick(modes);
    const node: DraftNode = {
      leaf,
      feature,
      mode,
      threshold: drawThreshold(feature, mode),
      missingTrue: missingTracks && rng.chance(0.4) ? 1 : 0,
      weight: 0,
    };
    node.trueChild = grow(depth + 1);
    node.falseChild = grow(depth + 1);
    return node;
  };

  const spec = {
    nodes_treeids: [] as number[],
    nodes_nodeids: [] as number[],
    nodes_featureids: [] as number[],
    nodes_values: [] as number[],
    nodes_modes: [] as NodeMode[],
    nodes_truenodeids: [] as number[],
    nodes_falsenodeids: [] as number[],
    nodes_missing_value_tracks_true: [] as number[],
    class_treeids: [] as number[],
    class_nodeids: [] as number[],
    class_ids: [] as number[],
    class_weights: [] as number[],
    classlabels_int64s: [0, 1],
    post_transform: 'NONE',
  };
  const classEntries: [tree: number, node: number, weight: number][] = [];
  for (let tree = 0; tree < treeCount; tree++) {
    const preorder: DraftNode[] = [];
    const walk = (node: DraftNode) => {
      preorder.push(node);
      if (!node.leaf) {
        walk(node.trueChild!);
        walk(node.falseChild!);
      }
    };
    walk(grow(0));
    // The root must stay listed first (onnxruntime's root); the rest may come in any order.
    const listing =
      style === 'mixed' ? [preorder[0], ...shuffle(rng, preorder.slice(1))] : preorder;
    const ids =
      style === 'mixed'
        ? shuffle(
            rng,
            preorder.map((_, i) => i),
          )
        : preorder.map((_, i) => i);
    const idOf = new Map(preorder.map((node, i) => [node, ids[i]]));
    for (const node of listing) {
      spec.nodes_treeids.push(tree);
      spec.nodes_nodeids.push(idOf.get(node)!);
      spec.nodes_featureids.push(node.feature);
      spec.nodes_values.push(node.threshold);
      spec.nodes_modes.push(node.mode);
      spec.nodes_truenodeids.push(node.leaf ? 0 : idOf.get(node.trueChild!)!);
      spec.nodes_falsenodeids.push(node.leaf ? 0 : idOf.get(node.falseChild!)!);
      spec.nodes_missing_value_tracks_true.push(node.missingTrue);
      if (node.leaf) classEntries.push([tree, idOf.get(node)!, node.weight]);
    }
  }
  for (const [tree, node, weight] of style === 'mixed'
    ? shuffle(rng, classEntries)
    : classEntries) {
    spec.class_treeids.push(tree);
    spec.class_nodeids.push(node);
    spec.class_ids.push(0);
    spec.class_weights.push(weight);
  }

  return {
    spec,
    featureNames: features.map((feature) => feature.name),
    categoricalEncodings: Object.fromEntries(
      features
        .filter((feature) => feature.categories)
        .map((feature) => [feature.name, feature.categories!]),
    ),
    thresholds,
  };
}

/** The ensemble as ONNX model bytes (skl2onnx layout, contract metadata included). */
export function encodeRandomEnsemble(
  ensemble: RandomEnsemble,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  return encodeTreeEnsembleModel(ensemble.spec, {
    featureNames: ensemble.featureNames,
    categoricalEncodings: ensemble.categoricalEncodings,
    metadata,
  });
}

/**
 * `rowCount` rows (row-major, featureNames wide) mixing values exactly on thresholds, their
 * float32 neighbours, NaN, ±0, infinities, unseen category codes and plain random values.
 */
export function randomFeatureRows(
  ensemble: RandomEnsemble,
  rowCount: number,
  seed: number,
): Float32Array {
  const rng = createRng(seed);
  const width = ensemble.featureNames.length;
  const rows = new Float32Array(rowCount * width);
  for (let r = 0; r < rowCount; r++) {
    for (let f = 0; f < width; f++) {
      const categories = ensemble.categoricalEncodings[ensemble.featureNames[f]];
      const near = ensemble.thresholds[f];
      const roll = rng.next();
      let value: number;
      if (roll < 0.1) value = NaN;
      else if (categories) value = roll < 0.2 ? UNSEEN_CATEGORY_CODE : rng.int(categories.length);
      else if (near.length > 0 && roll < 0.7) {
        const threshold = rng.pick(near);
        value = rng.pick([
          threshold,
          threshold,
          nextFloat32Down(threshold),
          nextFloat32Up(threshold),
        ]);
      } else if (roll < 0.75) value = rng.pick([0, -0, Infinity, -Infinity]);
      else value = Math.fround(rng.next() * 240 - 70);
      rows[r * width + f] = value;
    }
  }
  return rows;
}

function defaultFeatures(rng: Rng, count: number): FeatureShape[] {
  return Array.from({ length: count }, (_, i) =>
    rng.chance(0.35)
      ? {
          name: `f${i}`,
          categories: Array.from({ length: 2 + rng.int(5) }, (_, code) => `c${i}_${code}`),
        }
      : { name: `f${i}` },
  );
}

function shuffle<T>(rng: Rng, values: readonly T[]): T[] {
  const result = values.slice();
  for (let i = result.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [result[i], result[j]] = [result[j], result[i]];
  }
  return result;
}
