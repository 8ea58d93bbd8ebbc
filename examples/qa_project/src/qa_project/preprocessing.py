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
        context_start = sequence_ids.index(1)
        context_end = len(sequence_ids) - 1 - sequence_ids[::-1].index(1)
        if not (offsets[context_start][0] <= start_char and offsets[context_end][1] >= end_char):
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        # Stay inside the context: [SEP] and padding have offsets (0, 0), which run_qa.py's unbounded
        # loop walks into when the answer ends the window (qadiag::alignment found that one).
        token_start = context_start
        while token_start <= context_end and offsets[token_start][0] <= start_char:
            token_start += 1
        starts.append(token_start - 1)
        token_end = context_end
        while token_end >= context_start and offsets[token_end][1] >= end_char:
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
