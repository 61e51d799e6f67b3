/**
 * The policy for a remote scorer (a SageMaker endpoint) next to the in-process tree: which answer
 * serves, when the in-process one takes over, and what a shadow rollout logs. Knows only the
 * `RemoteScorer` interface, so the decision layer can import it without loading the AWS SDK.
 */

/** What the remote backend answered for one encoded row. */
export interface RemoteScore {
  /** P(class 1) = P(default). */
  readonly probabilityOfDefault: number;
  /** 1 = default = reject. */
  readonly label: 0 | 1;
}

export type RemoteFailureReason = 'error' | 'timeout' | 'bad_response';

/**
 * The remote backend could not give a usable answer: it failed (`error`: HTTP error, ModelError,
 * connection refused), ran past its deadline (`timeout`), or answered something this client
 * cannot read (`bad_response`). The message names the endpoint, never an applicant.
 */
export class RemoteScoringError extends Error {
  override readonly name = 'RemoteScoringError';
  constructor(
    readonly reason: RemoteFailureReason,
    readonly endpointName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `primary`: the remote answer serves; the in-process tree is the fallback.
 * `shadow`: the in-process answer serves; the remote one is only compared and logged.
 */
export type RemoteScoringMode = 'primary' | 'shadow';

/** One boundary, one small interface: SageMakerScorer implements it. */
export interface RemoteScorer {
  readonly name: string;
  readonly mode: RemoteScoringMode;
  /** Scores one encoded row (feature_names order). Rejects only with RemoteScoringError. */
  score(
    vector: Float32Array,
    featureNames: readonly string[],
    signal?: AbortSignal,
  ): Promise<RemoteScore>;
}

export interface ScoredResult extends RemoteScore {
  readonly scoredBy: 'sagemaker' | 'in-process';
  /** Set when the remote scorer was asked (primary mode) and the in-process answer served. */
  readonly remoteFallbackReason?: RemoteFailureReason;
  /** Shadow mode's background comparison, for the runtime's waitUntil. Never rejects. */
  readonly pending?: Promise<void>;
}

/** Anything with warn(): the app's Logger fits. */
export interface RemoteScoringLogger {
  warn(fields: Record<string, unknown>): void;
}

export interface ScoreWithRemoteOptions {
  readonly featureNames: readonly string[];
  readonly logger: RemoteScoringLogger;
  /** The request's deadline; its abort counts as a remote timeout. */
  readonly signal?: AbortSignal;
  /** Included in log lines so a disagreement names the model versions compared. */
  readonly modelVersion?: string;
}

/** Below this the two answers are the same float32 probability (up to formatting). */
export const PROBABILITY_TOLERANCE = 1e-6;

/**
 * Combines the in-process prediction with the remote scorer's, by the scorer's mode. Never
 * rejects: every remote failure becomes the in-process answer with `remoteFallbackReason`
 * (primary) or a log line (shadow). Callers pass only the encoded vector, never entity keys, so
 * nothing logged here can contain dob_ssn.
 *
 * @example
 * const { prediction, vector } = model.predict(raw);
 * const local = { probabilityOfDefault: prediction.probabilities[1], label: prediction.label };
 * const scored = await scoreWithRemote(local, vector, scorer, {
 *   featureNames: model.artifact.featureNames,
 *   logger,
 * });
 * if (scored.pending) waitUntil(scored.pending);
 */
export async function scoreWithRemote(
  local: RemoteScore,
  vector: Float32Array,
  scorer: RemoteScorer,
  options: ScoreWithRemoteOptions,
): Promise<ScoredResult> {
  const inProcess = {
    probabilityOfDefault: local.probabilityOfDefault,
    label: local.label,
    scoredBy: 'in-process' as const,
  };

  if (scorer.mode === 'shadow') {
    // The request may finish (and its buffers be reused) before the remote call serialises.
    const row = vector.slice();
    const pending = scorer.score(row, options.featureNames).then(
      (remote) => logIfDisagreeing(local, remote, scorer, options),
      (error: unknown) => {
        options.logger.warn({
          msg: 'remote shadow scoring failed',
          scorer: scorer.name,
          reason: failureReason(error),
          error: errorMessage(error),
        });
      },
    );
    return { ...inProcess, pending };
  }

  try {
    const remote = await scorer.score(vector, options.featureNames, options.signal);
    return { ...remote, scoredBy: 'sagemaker' };
  } catch (error) {
    const reason = failureReason(error);
    options.logger.warn({
      msg: 'remote scoring failed; in-process model answered',
      scorer: scorer.name,
      reason,
      error: errorMessage(error),
    });
    return { ...inProcess, remoteFallbackReason: reason };
  }
}

function logIfDisagreeing(
  local: RemoteScore,
  remote: RemoteScore,
  scorer: RemoteScorer,
  options: ScoreWithRemoteOptions,
): void {
  const delta = remote.probabilityOfDefault - local.probabilityOfDefault;
  if (remote.label === local.label && Math.abs(delta) <= PROBABILITY_TOLERANCE) return;
  options.logger.warn({
    msg: 'remote shadow disagreement',
    scorer: scorer.name,
    model_version: options.modelVersion,
    in_process: { label: local.label, probability_of_default: local.probabilityOfDefault },
    remote: { label: remote.label, probability_of_default: remote.probabilityOfDefault },
    probability_delta: delta,
    label_differs: remote.label !== local.label,
  });
}

function failureReason(error: unknown): RemoteFailureReason {
  // A scorer that breaks its contract and throws something else is still an error, not a crash.
  return error instanceof RemoteScoringError ? error.reason : 'error';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
