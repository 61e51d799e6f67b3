/**
 * The generic runtime: the same ONNX file run by onnxruntime-web (WebAssembly). It is the parity
 * oracle for the compiled evaluator, and a second opinion the API can switch to in Node.
 * onnxruntime-web is imported on first use only, so the hot path never pays for loading it.
 *
 * In Node the package's `node` export (dist/ort.node.min.mjs) finds its .wasm next to itself in
 * node_modules, so no `env.wasm.wasmPaths` is needed.
 */
import type { InferenceSession } from 'onnxruntime-web';
import { loadModel } from './model.js';
import type { AsyncCreditModel, ModelDecision } from './model.js';
import type { ExplainedPrediction } from './types.js';

export interface OnnxRuntimeOutput {
  /** One label per row (int64 as onnxruntime returns it). */
  readonly labels: BigInt64Array;
  /** Row-major [rows, 2] float32. */
  readonly probabilities: Float32Array;
}

type OrtModule = typeof import('onnxruntime-web');
let ortModule: Promise<OrtModule> | undefined;

function loadOrt(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-web').then((ort) => {
    // One thread: onnxruntime then sums trees in order (its parallel paths regroup the float sums),
    // and Node would otherwise need worker threads for wasm.
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    return ort;
  });
  return ortModule;
}

export class OnnxRuntimeModel {
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: InferenceSession,
    readonly featureCount: number,
  ) {}

  /** Creates an onnxruntime-web session for model bytes; `featureCount` is F of the input [N, F]. */
  static async create(bytes: Uint8Array, featureCount?: number): Promise<OnnxRuntimeModel> {
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const width = featureCount ?? readInputWidth(session);
    return new OnnxRuntimeModel(ort, session, width);
  }

  async predict(batch: Float32Array, rows: number): Promise<OnnxRuntimeOutput> {
    const width = this.featureCount;
    if (batch.length < rows * width) {
      throw new RangeError(`batch holds ${batch.length} values; ${rows} rows need ${rows * width}`);
    }
    const input = new this.ort.Tensor('float32', batch.subarray(0, rows * width), [rows, width]);
    const [inputName] = this.session.inputNames;
    const [labelName, probabilitiesName] = this.session.outputNames;
    const outputs = await this.session.run({ [inputName]: input });
    const labels = outputs[labelName];
    const probabilities = outputs[probabilitiesName];
    try {
      return {
        labels: (labels.data as BigInt64Array).slice(),
        probabilities: (probabilities.data as Float32Array).slice(),
      };
    } finally {
      labels.dispose();
      probabilities.dispose();
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The credit model of ./model.js run by onnxruntime-web (Node): same validation, encoding and
 * reasons, but label and probabilities come from onnxruntime, so `predict` is async.
 *
 * @example
 * const model = await loadOnnxRuntimeCreditModel(bytes);
 * const { prediction } = await model.predict({ loan_int_rate: 16.02 });
 * await model.release();
 */
export async function loadOnnxRuntimeCreditModel(bytes: Uint8Array): Promise<AsyncCreditModel> {
  const compiled = await loadModel(bytes);
  const session = await OnnxRuntimeModel.create(bytes, compiled.artifact.featureNames.length);
  return {
    artifact: compiled.artifact,
    requiredInputs: compiled.requiredInputs,
    runtime: 'onnxruntime',
    encode: compiled.encode,
    async predict(raw): Promise<ModelDecision> {
      const { prediction: walked, reasons, vector } = compiled.predict(raw);
      const { labels, probabilities } = await session.predict(vector, 1);
      const prediction: ExplainedPrediction = {
        label: labels[0] === 1n ? 1 : 0,
        probabilities: [probabilities[0], probabilities[1]],
        path: walked.path,
      };
      return { prediction, reasons, vector };
    },
    release: () => session.release(),
  };
}

function readInputWidth(session: InferenceSession): number {
  const metadata = session.inputMetadata?.[0];
  const width = metadata && metadata.isTensor ? metadata.shape[1] : undefined;
  if (typeof width !== 'number') {
    throw new Error(
      'onnxruntime: the model input has no fixed column count; pass featureCount to OnnxRuntimeModel.create',
    );
  }
  return width;
}
