/** Binary classification metrics on the test split, defined as scikit-learn defines them. */

export interface ClassificationMetrics {
  readonly rows: number;
  readonly positives: number;
  readonly accuracy: number;
  /** Area under the ROC curve; NaN when only one class is present. */
  readonly rocAuc: number;
  /** [[TN, FP], [FN, TP]]: rows = true class, columns = predicted (sklearn's confusion_matrix). */
  readonly confusionMatrix: readonly [readonly [number, number], readonly [number, number]];
}

/**
 * ROC AUC as the Mann–Whitney statistic with mid-ranks for tied scores: exactly the trapezoidal
 * area sklearn's roc_auc_score computes, ties counting half.
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSumPositives = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && scores[order[end]] === scores[order[start]]) end++;
    const midRank = (start + 1 + end) / 2; // ranks start..end-1, 1-based
    for (let k = start; k < end; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        rankSumPositives += midRank;
      }
    }
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Labels are predicted as 1 when P(class 1) > 0.5, as the ONNX graph and sklearn's argmax do. */
export function classificationMetrics(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
): ClassificationMetrics {
  let tn = 0,
    fp = 0,
    fn = 0,
    tp = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = probabilities[i] > 0.5 ? 1 : 0;
    if (labels[i] === 1) predicted === 1 ? tp++ : fn++;
    else predicted === 1 ? fp++ : tn++;
  }
  const rows = labels.length;
  return {
    rows,
    positives: tp + fn,
    accuracy: rows === 0 ? NaN : (tp + tn) / rows,
    rocAuc: rocAuc(labels, probabilities),
    confusionMatrix: [
      [tn, fp],
      [fn, tp],
    ],
  };
}
