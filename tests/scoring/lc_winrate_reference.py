#!/usr/bin/python3
# AlpacaEval 2's length-controlled win rate, written independently of scoring/lc_winrate.cpp
# with numpy + scipy (BFGS instead of Newton), for lc_winrate_test. Reads JSON
# {"preference": [...], "len_a": [...], "len_b": [...]} (null preference: left out) on stdin and
# prints {"win_rate", "intercept", "length_coef"}.
#
# AlpacaEval (alpaca_eval/metrics/glm_winrate.py): delta = len_1 - len_2,
# std_delta_len = delta / delta.std() (pandas: ddof 1), feature np.tanh(std_delta_len) plus a
# constant column (not_gamed_baseline), soft preference in [0, 1], predicted at
# std_delta_len = 0. Here without instruction_difficulty and with an L2 penalty |w|^2 / (2C),
# C = 100 (sklearn's L2 objective), as the C++ header states.
import json
import sys

import numpy as np
from scipy.optimize import minimize

doc = json.load(sys.stdin)
pref = np.array([np.nan if p is None else p for p in doc["preference"]], dtype=float)
delta = np.array(doc["len_a"], dtype=float) - np.array(doc["len_b"], dtype=float)
keep = ~np.isnan(pref)
y, delta = pref[keep], delta[keep]
sd = delta.std(ddof=1)
x = np.tanh(delta / sd) if sd > 0 else np.zeros_like(delta)
X = np.column_stack([np.ones_like(x), x])
C = 100.0


def loss(w):
    z = X @ w
    # -[y log s(z) + (1 - y) log(1 - s(z))] = logaddexp(0, z) - y z
    return np.sum(np.logaddexp(0.0, z) - y * z) + w @ w / (2 * C)


def grad(w):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (p - y) + w / C


res = minimize(loss, np.zeros(2), jac=grad, method="BFGS", options={"gtol": 1e-12, "maxiter": 10000})
w = res.x
print(json.dumps({"win_rate": float(1.0 / (1.0 + np.exp(-w[0]))), "intercept": float(w[0]),
                  "length_coef": float(w[1])}))
