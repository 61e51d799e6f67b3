import { describe, expect, it } from 'vitest';
import { classificationMetrics, rocAuc } from './metrics.js';

describe('metrics', () => {
  it('computes ROC AUC with ties counted half, as sklearn roc_auc_score (values printed by sklearn 1.2.1)', () => {
    // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 12);
    // roc_auc_score([0, 1, 0, 1, 1, 0], [0.5, 0.5, 0.2, 0.9, 0.5, 0.5]) == 0.7777777777777778
    expect(rocAuc([0, 1, 0, 1, 1, 0], [0.5, 0.5, 0.2, 0.9, 0.5, 0.5])).toBeCloseTo(7 / 9, 12);
    expect(rocAuc([1, 1, 0, 0], [0.3, 0.3, 0.3, 0.3])).toBe(0.5);
    expect(rocAuc([1, 1], [0.2, 0.9])).toBeNaN();
  });

  it('builds the confusion matrix with rows = actual, label 1 iff P > 0.5', () => {
    const metrics = classificationMetrics([0, 0, 1, 1, 1], [0.2, 0.6, 0.5, 0.51, 0.9]);
    expect(metrics.confusionMatrix).toEqual([
      [1, 1],
      [1, 2],
    ]);
    expect(metrics.accuracy).toBeCloseTo(3 / 5, 12);
    expect(metrics.positives).toBe(3);
  });
});
