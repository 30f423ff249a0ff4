"""Fine-tune a Hugging Face extractive QA model on questions about contexts, on CPU, window by window."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from edgeship.compress.finetune import FineTuneOptions, train_length_grouped
from edgeship.compress.finetune_tokens import model_input_names
from edgeship.errors import DataError
from edgeship.sources.data import QuestionExamples
from edgeship.sources.preprocess import answer_positions, encode_questions
from edgeship.tasks.spans import SpanReferences


def fine_tune_question_answerer(
    model: Any, tokenizer: Any, train: QuestionExamples, options: FineTuneOptions, progress: bool = True
) -> dict[str, float]:
    """Fine-tune `model` in place to point at each question's first gold answer in every window of its
    context (the first token where a window does not hold it); returns {"steps", "final_loss", "seconds"}."""
    if len(train) == 0:
        raise DataError(f"{train.name} has no questions", hint="pass a non-empty question-answering dataset")
    inputs, positions, _ = encode_windows(tokenizer, train, options.max_length)
    lengths = inputs["attention_mask"].sum(axis=1).tolist()

    def batch_loss(batch: list[int]) -> torch.Tensor:
        width = max(lengths[i] for i in batch)  # each batch padded to its own longest window
        rows = {name: torch.from_numpy(values[batch, :width]) for name, values in inputs.items()}
        gold = torch.from_numpy(positions[batch])
        return model(**rows, start_positions=gold[:, 0], end_positions=gold[:, 1]).loss

    return train_length_grouped(model, lengths, batch_loss, options, progress)


def encode_windows(
    tokenizer: Any, examples: QuestionExamples, max_length: int
) -> tuple[dict[str, np.ndarray], np.ndarray, SpanReferences]:
    """The questions as windows (a quarter of the sequence shared, as the task's export default), the
    first gold answer's (start, end) token per window, and what decoding answers reads."""
    from edgeship.tasks.question_answering_task import MAX_ANSWER_LENGTH, QuestionAnswering

    doc_stride = QuestionAnswering().default_preprocessing(max_length)["doc_stride"]
    inputs, example_of_feature, offsets = encode_questions(
        tokenizer,
        examples.questions,
        examples.contexts,
        max_length=max_length,
        doc_stride=doc_stride,
        input_names=model_input_names(tokenizer),
    )
    positions = np.zeros((len(example_of_feature), 2), dtype=np.int64)
    for feature, example in enumerate(example_of_feature):
        text, start = examples.answers[example][0]
        positions[feature] = answer_positions(offsets[feature], start, start + len(text))
    references = SpanReferences(
        example_of_feature=example_of_feature,
        offsets=offsets,
        contexts=examples.contexts,
        answers=[[text for text, _ in answers] for answers in examples.answers],
        max_answer_length=MAX_ANSWER_LENGTH,
    )
    return inputs, positions, references


def predict_question_answerer(
    model: Any, tokenizer: Any, examples: QuestionExamples, max_length: int, batch_size: int = 64
) -> tuple[np.ndarray, SpanReferences]:
    """The span logits [windows, max_length, 2] (zero past each window's length) and the references to
    decode them with (tasks/spans.best_spans)."""
    inputs, _, references = encode_windows(tokenizer, examples, max_length)
    windows = len(references.example_of_feature)
    logits = np.zeros((windows, max_length, 2), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, windows, batch_size):
            rows = {
                name: torch.from_numpy(values[start : start + batch_size]) for name, values in inputs.items()
            }
            output = model(**rows)
            logits[start : start + batch_size] = torch.stack(
                [output.start_logits, output.end_logits], -1
            ).numpy()
    logits *= inputs["attention_mask"][:, :, None]
    return logits, references
