"""Writes the scikit-learn golden trees cart.test.ts compares against.

Run with any scikit-learn (these were made with Debian's python3-sklearn 1.2.1, numpy 1.24):
    python3 model/train/testdata/generate_sklearn_goldens.py [real-matrix.json]
Data has no NaN: scikit-learn < 1.3 cannot train on missing values (NaN routing is tested on
crafted cases instead). The optional argument is a dump of the real-data training split (see
cart.test.ts) to record the tree scikit-learn grows on the public Feast credit-scoring loans.
"""
import json, sys
import numpy as np
import sklearn
from sklearn.tree import DecisionTreeClassifier
from sklearn.metrics import roc_auc_score

def tree_json(clf):
    t = clf.tree_
    return dict(feature=t.feature.tolist(), threshold=t.threshold.tolist(),
                left=t.children_left.tolist(), right=t.children_right.tolist(),
                probability=(t.value[:, 0, 1] / t.value[:, 0, :].sum(axis=1)).tolist())

here = sys.path[0]
cases = []
rs = np.random.RandomState(2024)
for case in range(16):
    n = int(rs.randint(12, 80)); f = int(rs.randint(1, 5))
    X = rs.randint(0, int(rs.randint(2, 9)), size=(n, f)).astype(np.float64)  # many ties
    if case % 3 == 0: X = (X * 0.37 + rs.normal(size=(n, f))).astype(np.float32).astype(np.float64)
    if case % 5 == 0: X[:, 0] = 1.0  # a constant feature
    y = ((X.sum(axis=1) + rs.normal(size=n) * 2) > X.sum(axis=1).mean()).astype(int)
    params = dict(max_depth=[None, 2, 3, 5][case % 4], min_samples_leaf=[1, 2, 4][case % 3], random_state=case * 7 % 11)
    clf = DecisionTreeClassifier(**params).fit(X, y)
    cases.append(dict(X=X.tolist(), y=y.tolist(), params=params, tree=tree_json(clf)))
out = dict(sklearn=sklearn.__version__, cases=cases)
json.dump(out, open(f'{here}/sklearn-trees.json', 'w'), separators=(',', ':'))

if len(sys.argv) > 1:
    d = json.load(open(sys.argv[1]))
    X = np.array(d['train']['X'], dtype=np.float64); y = np.array(d['train']['y'])
    params = dict(max_depth=6, min_samples_leaf=5, random_state=d['seed'])
    clf = DecisionTreeClassifier(**params).fit(X, y)
    score = lambda s: roc_auc_score(d[s]['y'], clf.predict_proba(np.array(d[s]['X'], dtype=np.float64))[:, 1])
    json.dump(dict(sklearn=sklearn.__version__, params=params, tree=tree_json(clf),
                   validation_roc_auc=score('val'), test_roc_auc=score('test')),
              open(f'{here}/sklearn-real-data-tree.json', 'w'), separators=(',', ':'))
