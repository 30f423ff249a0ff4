"""Distillation losses: soft-target KL (x T^2), hard-label CE, sentence-embedding cosine + MSE, hidden-state
and attention transfer.

A token classifier's logits are [batch, tokens, tags]: the soft-target KL is taken at every real token (the
attention mask; padding's logits mean nothing and eval zeroes them), later word pieces and special tokens
included, since the exported graph tags every token and the teacher's distribution there is free signal;
the cross-entropy is taken where a gold tag is (each word's first piece; IGNORED elsewhere), as eval scores.

An extractive QA model's output is [batch, tokens, 2]: a start and an end logit per token, each channel a
distribution over the window's tokens (softmax over the sequence, not the last axis). Padding is taken out
of both distributions before the softmax; the KL and the cross-entropy to the gold (start, end) token are
each the mean of the start's and the end's, as transformers' QA heads average their two losses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edgeship.compress.distill.weights import FeatureLoss, LossWeights
from edgeship.tasks.token_classification_task import IGNORED


@dataclass
class Outputs:
    """What one forward pass gives the losses: the task's output, hidden states (embeddings first), attention maps."""

    output: torch.Tensor
    """Classifiers: the logits ([batch, tags] or, per token, [batch, tokens, tags]); sentence encoders: the
    pooled, L2-normalised sentence embedding."""
    hidden_states: tuple[torch.Tensor, ...] = ()
    attentions: tuple[torch.Tensor, ...] = ()


def soft_target_kl(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """KL(teacher || student) on temperature-softened distributions, scaled by T^2 (Hinton et al.), averaged
    over examples, or for per-token logits over the tokens `mask` marks real."""
    log_student = F.log_softmax(student.float() / temperature, dim=-1)
    soft_teacher = F.softmax(teacher.float() / temperature, dim=-1)
    per_row = F.kl_div(log_student, soft_teacher, reduction="none").sum(dim=-1)
    if per_row.ndim == 2 and mask is not None:
        weights = mask.to(per_row.dtype)
        per_row = per_row * weights
        return per_row.sum() / weights.sum().clamp(min=1.0) * temperature**2
    return per_row.mean() * temperature**2


def hard_label_ce(student: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the gold labels: one per example, or per token with IGNORED positions left out."""
    scored = labels.flatten() != IGNORED
    if not bool(scored.any()):  # a batch of sentences whose words were all cut by truncation
        return student.sum() * 0.0
    return F.cross_entropy(student.flatten(0, -2).float(), labels.flatten(), ignore_index=IGNORED)


NOT_A_TOKEN = -1e9
"""The logit padding gets in a distribution over tokens: no probability, yet finite (no NaN gradient)."""


def over_tokens(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Span logits [batch, tokens, 2] as float with padding (mask 0) at NOT_A_TOKEN."""
    logits = logits.float()
    if mask is None:
        return logits
    return logits.masked_fill(~mask.bool()[..., None], NOT_A_TOKEN)


def span_soft_target_kl(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """KL(teacher || student) of the start and of the end distribution over each window's real tokens, on
    temperature-softened logits, scaled by T^2, averaged over the two and the windows."""
    log_student = F.log_softmax(over_tokens(student, mask) / temperature, dim=1)
    log_teacher = F.log_softmax(over_tokens(teacher, mask) / temperature, dim=1)
    per_token = log_teacher.exp() * (log_teacher - log_student)
    return per_token.sum(dim=1).mean() * temperature**2


def span_ce(student: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of the start and the end logits (over real tokens) to the gold positions [batch, 2]."""
    logits = over_tokens(student, mask)
    return (
        F.cross_entropy(logits[..., 0], positions[:, 0]) + F.cross_entropy(logits[..., 1], positions[:, 1])
    ) / 2


def embedding_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """(1 - cosine) + squared distance between sentence embeddings of one width, averaged over the batch.

    On unit vectors the squared distance is 2 (1 - cosine), so on normalised embeddings the MSE term
    triples the cosine's pull; it is kept so an encoder whose output is not normalised is pulled onto the
    teacher's vectors, length included."""
    cosine = 1.0 - F.cosine_similarity(student, teacher, dim=-1)
    squared = (student - teacher).pow(2).sum(dim=-1)
    return (cosine + squared).mean()


def feature_distance(
    student: torch.Tensor, teacher: torch.Tensor, kind: FeatureLoss, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """MSE or (1 - cosine) between features of the same width, over unmasked positions."""
    if kind == "cosine":
        per_position = 1.0 - F.cosine_similarity(student, teacher, dim=-1)
    else:
        per_position = (student - teacher).pow(2).mean(dim=-1)
    if mask is None:
        return per_position.mean()
    weights = mask.to(per_position.dtype)
    return (per_position * weights).sum() / weights.sum().clamp(min=1.0)


def attention_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """MSE between attention maps; head-averaged when the head counts differ."""
    if student.shape[1] != teacher.shape[1]:
        student, teacher = student.mean(dim=1, keepdim=True), teacher.mean(dim=1, keepdim=True)
    return F.mse_loss(student, teacher)


class DistillationLoss(nn.Module):
    """The weighted sum of every term, holding the learned student-to-teacher width projections.

    With `spans` the output is an answer span's start and end logits per token (extractive QA): the soft and
    hard terms are taken over the sequence."""

    def __init__(
        self,
        weights: LossWeights,
        layer_map: list[int],
        student_width: int,
        teacher_width: int,
        spans: bool = False,
    ) -> None:
        super().__init__()
        self.weights, self.layer_map = weights, layer_map
        self.spans = spans
        self.projections = nn.ModuleList(
            nn.Identity() if student_width == teacher_width else nn.Linear(student_width, teacher_width)
            for _ in layer_map
        )

    def forward(
        self,
        student: Outputs,
        teacher: Outputs,
        labels: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        transfer_stage: bool = False,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and each weighted term; in the transfer stage only hidden/attention terms count."""
        w = self.weights
        terms: dict[str, torch.Tensor] = {}
        if not transfer_stage:
            if w.soft:
                terms["soft"] = w.soft * self._soft(student.output, teacher.output, w.temperature, mask)
            if w.hard and labels is not None:
                terms["hard"] = w.hard * self._hard(student.output, labels, mask)
            if w.embedding:
                terms["embedding"] = w.embedding * embedding_distance(student.output, teacher.output)
        if w.hidden and self.layer_map:
            distances = [
                feature_distance(
                    project(student.hidden_states[i]), teacher.hidden_states[t], w.hidden_loss, mask
                )
                for i, (t, project) in enumerate(zip(self.layer_map, self.projections, strict=True))
            ]
            terms["hidden"] = w.hidden * torch.stack(distances).mean()
        if w.attention and student.attentions:
            # attention i belongs to hidden state i + 1 (the layer's output)
            pairs = [
                (s, teacher.attentions[t - 1])
                for s, t in zip(student.attentions, self.layer_map[1:], strict=True)
            ]
            terms["attention"] = (
                w.attention * torch.stack([attention_distance(s, t) for s, t in pairs]).mean()
            )
        if not terms and w.embedding:
            terms["embedding"] = embedding_distance(student.output, teacher.output)
        elif not terms:
            terms["soft"] = self._soft(student.output, teacher.output, w.temperature, mask)
        total = torch.stack(list(terms.values())).sum()
        return total, {name: float(value.detach()) for name, value in terms.items()}

    def _soft(
        self, student: torch.Tensor, teacher: torch.Tensor, temperature: float, mask: torch.Tensor | None
    ) -> torch.Tensor:
        if self.spans:
            return span_soft_target_kl(student, teacher, temperature, mask)
        return soft_target_kl(student, teacher, temperature, mask)

    def _hard(self, student: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return span_ce(student, labels, mask) if self.spans else hard_label_ce(student, labels)
