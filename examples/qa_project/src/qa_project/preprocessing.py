"""HF run_qa.py-style preprocessing; validation features keep start/end positions for eval loss."""


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


def _positions(tokenized, examples, tokenizer):
    starts, ends = [], []
    for i, offsets in enumerate(tokenized["offset_mapping"]):
        input_ids = tokenized["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id)
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][tokenized["overflow_to_sample_mapping"][i]]
        if len(answers["answer_start"]) == 0:
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        token_start = 0
        while sequence_ids[token_start] != 1:
            token_start += 1
        token_end = len(input_ids) - 1
        while sequence_ids[token_end] != 1:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        while token_start < len(offsets) and offsets[token_start][0] <= start_char:
            token_start += 1
        starts.append(token_start - 1)
        while offsets[token_end][1] >= end_char:
            token_end -= 1
        ends.append(token_end + 1)
    return starts, ends


def prepare_train_features(examples, tokenizer, max_seq_length, doc_stride):
    tokenized = _tokenize(examples, tokenizer, max_seq_length, doc_stride)
    tokenized["start_positions"], tokenized["end_positions"] = _positions(tokenized, examples, tokenizer)
    tokenized.pop("offset_mapping")
    tokenized.pop("overflow_to_sample_mapping")
    return tokenized


def prepare_validation_features(examples, tokenizer, max_seq_length, doc_stride):
    tokenized = _tokenize(examples, tokenizer, max_seq_length, doc_stride)
    tokenized["start_positions"], tokenized["end_positions"] = _positions(tokenized, examples, tokenizer)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    tokenized["example_id"] = [examples["id"][sample] for sample in sample_mapping]
    tokenized["offset_mapping"] = [
        [offset if tokenized.sequence_ids(i)[k] == 1 else None for k, offset in enumerate(offsets)]
        for i, offsets in enumerate(tokenized["offset_mapping"])
    ]
    return tokenized
