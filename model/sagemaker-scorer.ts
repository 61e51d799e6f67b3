import {
  InvokeEndpointCommand,
  SageMakerRuntimeClient,
  type SageMakerRuntimeClientConfig,
} from '@aws-sdk/client-sagemaker-runtime';
import { abandonOnAbort } from '../features/online/store-support.js';
import {
  RemoteScoringError,
  type RemoteScore,
  type RemoteScorer,
  type RemoteScoringMode,
} from './remote-scoring.js';
import {
  UnreadableScoreError,
  encodeScoringRequest,
  parseScoringResponse,
  type SageMakerContentType,
} from './sagemaker-payload.js';

export type { SageMakerContentType } from './sagemaker-payload.js';

export interface SageMakerScorerConfig {
  readonly endpointName: string;
  /** Default: the SDK's (AWS_REGION). */
  readonly region?: string;
  /** Override of the runtime URL, e.g. `http://127.0.0.1:<port>` for the local test endpoint. */
  readonly endpoint?: string;
  /** Static credentials (the local endpoint takes any). Default: the SDK's provider chain. */
  readonly credentials?: SageMakerRuntimeClientConfig['credentials'];
  /** Payload format both ways; see ./sagemaker-payload.ts. Default text/csv. */
  readonly contentType?: SageMakerContentType;
  /** Per-call deadline; past it the call is aborted with reason `timeout`. Default 5 ms. */
  readonly deadlineMs?: number;
  readonly mode: RemoteScoringMode;
  /** A prebuilt client (tests wrap one to count calls); `maxAttempts` should be 1. */
  readonly client?: SageMakerRuntimeClient;
}

export const DEFAULT_SAGEMAKER_DEADLINE_MS = 5;

/**
 * Scores encoded rows on a SageMaker real-time endpoint (InvokeEndpoint). One attempt per call:
 * a retry cannot fit in a few-millisecond budget, and the in-process tree is the fallback anyway.
 * Build it once per process (module scope) so the HTTP connection is reused between requests.
 *
 * @example
 * const scorer = new SageMakerScorer({ endpointName: 'credit-model', mode: 'shadow' });
 * const { probabilityOfDefault, label } = await scorer.score(model.encode(raw), model.requiredInputs);
 */
export class SageMakerScorer implements RemoteScorer {
  readonly name = 'sagemaker';
  readonly mode: RemoteScoringMode;
  readonly endpointName: string;
  readonly contentType: SageMakerContentType;
  readonly deadlineMs: number;
  readonly #client: SageMakerRuntimeClient;

  constructor(config: SageMakerScorerConfig) {
    if (!config.endpointName) throw new RangeError('SageMakerScorer: endpointName is empty');
    const deadlineMs = config.deadlineMs ?? DEFAULT_SAGEMAKER_DEADLINE_MS;
    if (!(deadlineMs > 0)) {
      throw new RangeError(`SageMakerScorer: deadlineMs must be positive, got ${deadlineMs}`);
    }
    this.mode = config.mode;
    this.endpointName = config.endpointName;
    this.contentType = config.contentType ?? 'text/csv';
    this.deadlineMs = deadlineMs;
    this.#client =
      config.client ??
      new SageMakerRuntimeClient({
        region: config.region,
        endpoint: config.endpoint,
        credentials: config.credentials,
        maxAttempts: 1,
      });
  }

  async score(
    vector: Float32Array,
    featureNames: readonly string[],
    signal?: AbortSignal,
  ): Promise<RemoteScore> {
    if (vector.length !== featureNames.length) {
      // A wiring bug, not a remote failure: the row and the model's names must come together.
      throw new RangeError(
        `SageMakerScorer: vector has ${vector.length} values, feature_names has ${featureNames.length}`,
      );
    }
    const deadline = AbortSignal.timeout(this.deadlineMs);
    const abortSignal = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const command = new InvokeEndpointCommand({
      EndpointName: this.endpointName,
      ContentType: this.contentType,
      Accept: this.contentType,
      Body: new TextEncoder().encode(encodeScoringRequest(vector, this.contentType)),
    });

    let body: string;
    try {
      // The race makes the deadline hold even where the HTTP handler reacts to the abort late.
      const output = await abandonOnAbort(
        this.#client.send(command, { abortSignal }),
        abortSignal,
        () => abortSignal.reason as Error,
      );
      body = output.Body ? output.Body.transformToString() : '';
    } catch (error) {
      if (abortSignal.aborted) {
        throw new RemoteScoringError(
          'timeout',
          this.endpointName,
          deadline.aborted
            ? `SageMaker endpoint "${this.endpointName}" did not answer within ${this.deadlineMs} ms`
            : `SageMaker call to "${this.endpointName}" aborted by the request deadline`,
          { cause: error },
        );
      }
      throw new RemoteScoringError(
        'error',
        this.endpointName,
        `SageMaker endpoint "${this.endpointName}" failed: ${describeSdkError(error)}`,
        { cause: error },
      );
    }

    try {
      return parseScoringResponse(body, this.contentType);
    } catch (error) {
      if (!(error instanceof UnreadableScoreError)) throw error;
      throw new RemoteScoringError(
        'bad_response',
        this.endpointName,
        `SageMaker endpoint "${this.endpointName}" answered an unreadable ${this.contentType} body: ${error.message}`,
        { cause: error },
      );
    }
  }

  /** Releases the client's sockets (tests; a long-lived process keeps it). */
  destroy(): void {
    this.#client.destroy();
  }
}

/** e.g. `ModelError (HTTP 424): Received server error (500) from model …`. */
function describeSdkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return `${error.name}${status ? ` (HTTP ${status})` : ''}: ${error.message}`;
}
