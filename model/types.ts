/**
 * The model contract serving relies on. An artifact is ONE ONNX file holding a
 * TreeEnsembleClassifier (ai.onnx.ml) with `feature_names` and `categorical_encodings` in its
 * metadata_props; everything below is derived from that file and nothing else.
 */

/** A raw (un-encoded) feature value: request fields and online-store values, by feature name. */
export type RawValue = string | number | null | undefined;
export type RawRecord = Readonly<Record<string, RawValue>>;

export interface ModelArtifact {
  /** metadata `version`, else a content hash of the file. */
  readonly version: string;
  /** Tensor order of the float input `[N, F]`. */
  readonly featureNames: readonly string[];
  /** Column → categories; the index is the code (scikit-learn OrdinalEncoder `categories_`). */
  readonly categoricalEncodings: Readonly<Record<string, readonly string[]>>;
  /** Every metadata_props entry, verbatim. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** One node the applicant's row passed through, in root-to-leaf order. */
export interface PathStep {
  readonly featureIndex: number;
  readonly feature: string;
  /** float32 threshold as stored in the ONNX file */
  readonly threshold: number;
  /** The ONNX node mode, e.g. BRANCH_LEQ. */
  readonly mode: string;
  /** Whether the node's condition held (the "true" branch was taken). */
  readonly conditionHeld: boolean;
  /** The encoded input value compared (NaN for missing). */
  readonly input: number;
}

export interface Prediction {
  /** 1 = default = reject */
  readonly label: 0 | 1;
  /** [P(class 0), P(class 1)] exactly as the ONNX graph computes them (float32 values). */
  readonly probabilities: readonly [number, number];
}

export interface ExplainedPrediction extends Prediction {
  readonly path: readonly PathStep[];
}

/** A human-readable reason: one condition of the decision path, with the applicant's value. */
export interface Reason {
  readonly feature: string;
  /** e.g. "loan_int_rate > 15.5" or "person_home_ownership in [OTHER, RENT]" */
  readonly condition: string;
  /** The applicant's raw value (string category or number; null when missing). */
  readonly value: string | number | null;
}
