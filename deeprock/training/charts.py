"""What the Train page shows of runs: per-head scores beside the baselines, plotly curves.

    scores = head_scores(runs.read_metrics(run))   # {"next_token": HeadScore, ...} at best epoch
    verdict(scores, runs.read_json(run / runs.BASELINES))

No Keras here: everything comes from metrics.csv and baselines.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go

from deeprock.training import runs
from deeprock.training.models import HEADS

HEAD_LABELS = {"next_token": "Next token", "next_delta": "Time to next token",
               "next_duration": "Duration"}
HEAD_COLORS = {"next_token": "#1f77b4", "next_delta": "#ff7f0e", "next_duration": "#2ca02c"}


@dataclass
class HeadScore:
    """One output head's validation figures at the run's best epoch."""

    loss: float
    accuracy: float

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss) if not math.isnan(self.loss) else math.nan


def head_scores(metrics: list[dict]) -> dict[str, HeadScore]:
    """Per head at the epoch best.keras holds (runs.best_row); the seed network has only
    next_token, reported as plain val_loss. Empty without validation figures."""
    row = runs.best_row(metrics)
    if row is None or "val_loss" not in row:
        return {}
    scores = {}
    for head in HEADS:
        if f"val_{head}_loss" in row:
            scores[head] = HeadScore(row[f"val_{head}_loss"],
                                     row.get(f"val_{head}_accuracy", math.nan))
        elif head == "next_token":
            scores[head] = HeadScore(row["val_loss"], row.get("val_accuracy", math.nan))
    return scores


def verdict(scores: dict[str, HeadScore], baselines: dict) -> tuple[bool, str] | None:
    """(beats, one plain sentence): does the network's next-token perplexity beat the
    interpolated trigram's on the same validation tokens?"""
    trigram = baselines.get("trigram_perplexity")
    if "next_token" not in scores or not trigram:
        return None
    network = scores["next_token"].perplexity
    if network < trigram:
        return True, (f"The network beats the interpolated trigram: perplexity {network:.1f} "
                      f"against {trigram:.1f} on the same validation tokens.")
    return False, (f"The network does not beat the interpolated trigram (perplexity "
                   f"{network:.1f} against {trigram:.1f}): it has learned nothing worth its cost "
                   "yet. Train longer, or try another learning rate.")


def _epochs(metrics: list[dict]) -> list[int]:
    return [row["epoch"] for row in metrics]


def _layout(figure: go.Figure, title: str, y_title: str) -> go.Figure:
    figure.update_layout(title=title, xaxis_title="epoch", yaxis_title=y_title, height=340,
                         margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"orientation": "h", "y": -0.3})
    figure.update_xaxes(dtick=1 if len(figure.data) and len(figure.data[0].x or ()) < 12
                        else None)
    return figure


def loss_curves(metrics: list[dict]) -> go.Figure:
    """Training and validation loss per epoch: the gap between them is memorised songs."""
    figure = go.Figure()
    for column, name in (("loss", "training"), ("val_loss", "validation")):
        figure.add_scatter(x=_epochs(metrics), y=[row.get(column) for row in metrics],
                           mode="lines+markers", name=name)
    return _layout(figure, "Loss", "loss")


def accuracy_curves(metrics: list[dict]) -> go.Figure:
    """Every accuracy column (the seed's one, or each head of deeprock), training and validation."""
    columns = [c for c in (metrics[0] if metrics else {}) if c.endswith("accuracy")]
    figure = go.Figure()
    for column in columns:
        head = (column.removeprefix("val_").removesuffix("_accuracy").removesuffix("accuracy")
                or "next_token")  # the seed network's only head is plain "accuracy"
        side = "validation" if column.startswith("val_") else "training"
        label = HEAD_LABELS.get(head, head)
        figure.add_scatter(x=_epochs(metrics), y=[row.get(column) for row in metrics],
                           mode="lines+markers", name=f"{label}, {side}",
                           line={"dash": "solid" if side == "validation" else "dot",
                                 "color": HEAD_COLORS.get(head)})
    return _layout(figure, "Accuracy", "accuracy")


def validation_overlay(curves: dict[str, list[dict]]) -> go.Figure:
    """Validation next-token loss of several runs on one chart: the post's "loss against
    learning rates" chart, for any runs (a sweep's rates, two architectures, two data choices)."""
    figure = go.Figure()
    for name, metrics in curves.items():
        figure.add_scatter(x=_epochs(metrics), y=[runs.next_token_loss(row) for row in metrics],
                           mode="lines+markers", name=name)
    return _layout(figure, "Validation next-token loss of the chosen runs",
                   "validation next-token loss")


def perplexity_bars(scores: dict[str, HeadScore], baselines: dict) -> go.Figure:
    """Next-token perplexity of the network beside the unigram and trigram baselines."""
    labels, values = [], []
    if "next_token" in scores:
        labels.append("network")
        values.append(scores["next_token"].perplexity)
    for key, label in (("unigram_perplexity", "unigram"),
                       ("trigram_perplexity", "interpolated trigram")):
        if baselines.get(key):
            labels.append(label)
            values.append(baselines[key])
    figure = go.Figure(go.Bar(x=labels, y=values, text=[f"{v:.1f}" for v in values]))
    figure.update_layout(title="Next-token perplexity on the validation songs (lower is better)",
                         yaxis_title="perplexity", height=320,
                         margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure
