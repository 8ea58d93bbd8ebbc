"""The preprocessing the KLUE-MRC / SQuAD projects share: HF ``run_qa.py``'s, copied into every repo.

``prepare_train_features`` is run_qa.py's with the bound most copies add to the walk towards the answer's
first token (run_qa.py's own walk can run off the window; the ``run_qa_window_edge`` project keeps it).
``prepare_validation_features`` follows run_qa.py: no start/end positions, ``example_id`` and an offset
mapping with ``None`` outside the context. Projects that want an eval loss use
``prepare_validation_features_with_positions``, which adds the positions the way training does.
Parameters are named as qadiag injects them (``examples``, ``tokenizer``, ``max_seq_length``, ``doc_stride``).
"""


def _tokenize(examples, tokenizer, max_seq_length, doc_stride):
    return tokenizer(
        [question.lstrip() for question in examples["question"]],
        examples["context"],
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )


def _answer_positions(tokenized, examples, tokenizer):
    start_positions, end_positions = [], []
    for i, offsets in enumerate(tokenized["offset_mapping"]):
        input_ids = tokenized["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id)
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][tokenized["overflow_to_sample_mapping"][i]]
        if len(answers["answer_start"]) == 0:
            start_positions.append(cls_index)
            end_positions.append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        token_start_index = 0
        while sequence_ids[token_start_index] != 1:
            token_start_index += 1
        token_end_index = len(input_ids) - 1
        while sequence_ids[token_end_index] != 1:
            token_end_index -= 1
        if not (offsets[token_start_index][0] <= start_char and offsets[token_end_index][1] >= end_char):
            start_positions.append(cls_index)
            end_positions.append(cls_index)
            continue
        context_end = token_end_index
        while token_start_index <= context_end and offsets[token_start_index][0] <= start_char:
            token_start_index += 1
        start_positions.append(token_start_index - 1)
        while offsets[token_end_index][1] >= end_char:
            token_end_index -= 1
        end_positions.append(token_end_index + 1)
    return start_positions, end_positions


def prepare_train_features(examples, tokenizer, max_seq_length, doc_stride):
    tokenized = _tokenize(examples, tokenizer, max_seq_length, doc_stride)
    tokenized["start_positions"], tokenized["end_positions"] = _answer_positions(tokenized, examples, tokenizer)
    tokenized.pop("offset_mapping")
    tokenized.pop("overflow_to_sample_mapping")
    return tokenized


def prepare_validation_features(examples, tokenizer, max_seq_length, doc_stride):
    tokenized = _tokenize(examples, tokenizer, max_seq_length, doc_stride)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    tokenized["example_id"] = [examples["id"][sample] for sample in sample_mapping]
    tokenized["offset_mapping"] = [
        [offset if tokenized.sequence_ids(i)[k] == 1 else None for k, offset in enumerate(offsets)]
        for i, offsets in enumerate(tokenized["offset_mapping"])
    ]
    return tokenized


def prepare_validation_features_with_positions(examples, tokenizer, max_seq_length, doc_stride):
    tokenized = _tokenize(examples, tokenizer, max_seq_length, doc_stride)
    tokenized["start_positions"], tokenized["end_positions"] = _answer_positions(tokenized, examples, tokenizer)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    tokenized["example_id"] = [examples["id"][sample] for sample in sample_mapping]
    tokenized["offset_mapping"] = [
        [offset if tokenized.sequence_ids(i)[k] == 1 else None for k, offset in enumerate(offsets)]
        for i, offsets in enumerate(tokenized["offset_mapping"])
    ]
    return tokenized


QA_PREPROCESSING = {
    "prepare_train_features": "_utils_qa:prepare_train_features",
    "prepare_validation_features": "_utils_qa:prepare_validation_features",
}
QA_PREPROCESSING_WITH_EVAL_POSITIONS = {
    "prepare_train_features": "_utils_qa:prepare_train_features",
    "prepare_validation_features": "_utils_qa:prepare_validation_features_with_positions",
}
