"""Scores of studio eval that need no model: BLEU, ROUGE-L, and accuracy/precision/recall/F1 with a confusion
matrix. Small enough to write out (and to read), so studio needs no metrics package for them.

BLEU is corpus BLEU-4 (Papineni et al. 2002) with add-one smoothing of the 2- to 4-gram precisions
(Lin and Och 2004), so short answers do not all score 0. ROUGE-L is the F1 of the longest common
subsequence (Lin 2004), averaged over the pairs. Both compare lower-cased words and punctuation marks.
"""

from __future__ import annotations

import math
import re
from collections import Counter

WORD = re.compile(r"\w+|[^\w\s]")


def metric_tokens(text: str) -> list[str]:
    """Words and punctuation marks, lower-cased: what BLEU and ROUGE-L count."""
    return WORD.findall(text.lower())


def bleu(hypotheses: list[str], references: list[str], max_n: int = 4) -> float:
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        h, r = metric_tokens(hypothesis), metric_tokens(reference)
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(1, max_n + 1):
            h_grams = Counter(tuple(h[i : i + n]) for i in range(len(h) - n + 1))
            r_grams = Counter(tuple(r[i : i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum((h_grams & r_grams).values())
            totals[n - 1] += max(len(h) - n + 1, 0)
    if hyp_len == 0 or matches[0] == 0:
        return 0.0
    smoothed = [matches[0] / totals[0]] + [(m + 1) / (t + 1) for m, t in zip(matches[1:], totals[1:], strict=True)]
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return brevity * math.exp(sum(math.log(p) for p in smoothed) / max_n)


def rouge_l(hypotheses: list[str], references: list[str]) -> float:
    scores = []
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        h, r = metric_tokens(hypothesis), metric_tokens(reference)
        lcs = _lcs(h, r)
        if lcs == 0:
            scores.append(0.0)
            continue
        precision, recall = lcs / len(h), lcs / len(r)
        scores.append(2 * precision * recall / (precision + recall))
    return sum(scores) / len(scores) if scores else 0.0


def _lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def classification(truth: list[str], predicted: list[str], labels: list[str]) -> dict[str, object]:
    """Accuracy; precision, recall and F1 per label and macro-averaged; the confusion matrix (rows: truth)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[t]][index[p]] += 1
    per_label = {}
    for i, label in enumerate(labels):
        hits = matrix[i][i]
        predicted_as = sum(row[i] for row in matrix)
        actual = sum(matrix[i])
        precision = hits / predicted_as if predicted_as else 0.0
        recall = hits / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}
    present = [label for label in labels if sum(matrix[index[label]])] or labels
    macro = {
        k: round(sum(per_label[label][k] for label in present) / len(present), 4) for k in ("precision", "recall", "f1")
    }
    accuracy = sum(matrix[i][i] for i in range(len(labels))) / len(truth) if truth else 0.0
    return {
        "accuracy": round(accuracy, 4),
        **macro,
        "per_label": per_label,
        "confusion_matrix": {"labels": labels, "rows_truth_columns_predicted": matrix},
    }
