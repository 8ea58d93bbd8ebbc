"""A SQuAD project with run_qa.py's ``prepare_train_features`` as HF ships it ("Note: we could go after the last
offset if the answer is the last word (edge case)"): when an answer starts at the last context token of a
window, the walk towards it does not stop at the context's end, runs through ``[SEP]`` and the padding (whose
offsets are (0, 0)) to the end of the feature, and the start label lands on the last padding token, after the
end label. The project trains with a plain ``Trainer`` (``processing_class=``) and monitors the eval loss on
validation features labelled the same way.
"""

from transformers import Trainer

from tests.real_world import Case, expect


def prepare_train_features(examples, tokenizer, max_seq_length, doc_stride):
    pad_on_right = tokenizer.padding_side == "right"
    examples["question"] = [q.lstrip() for q in examples["question"]]
    tokenized_examples = tokenizer(
        examples["question" if pad_on_right else "context"],
        examples["context" if pad_on_right else "question"],
        truncation="only_second" if pad_on_right else "only_first",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    sample_mapping = tokenized_examples.pop("overflow_to_sample_mapping")
    offset_mapping = tokenized_examples.pop("offset_mapping")
    tokenized_examples["start_positions"] = []
    tokenized_examples["end_positions"] = []

    for i, offsets in enumerate(offset_mapping):
        input_ids = tokenized_examples["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id)
        sequence_ids = tokenized_examples.sequence_ids(i)
        answers = examples["answers"][sample_mapping[i]]
        if len(answers["answer_start"]) == 0:
            tokenized_examples["start_positions"].append(cls_index)
            tokenized_examples["end_positions"].append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])

        token_start_index = 0
        while sequence_ids[token_start_index] != (1 if pad_on_right else 0):
            token_start_index += 1
        token_end_index = len(input_ids) - 1
        while sequence_ids[token_end_index] != (1 if pad_on_right else 0):
            token_end_index -= 1

        if not (offsets[token_start_index][0] <= start_char and offsets[token_end_index][1] >= end_char):
            tokenized_examples["start_positions"].append(cls_index)
            tokenized_examples["end_positions"].append(cls_index)
        else:
            # Note: we could go after the last offset if the answer is the last word (edge case).
            while token_start_index < len(offsets) and offsets[token_start_index][0] <= start_char:
                token_start_index += 1
            tokenized_examples["start_positions"].append(token_start_index - 1)
            while offsets[token_end_index][1] >= end_char:
                token_end_index -= 1
            tokenized_examples["end_positions"].append(token_end_index + 1)

    return tokenized_examples


def build_trainer(model, processing_class, args, train_dataset, eval_dataset, data_collator):
    return Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processing_class,
        data_collator=data_collator,
    )


# The features whose answer starts at the window's last context token get end < start (QD503, one finding
# with the count and the first few features); nothing else is wrong.
EDGE_LABELS = expect(alignment={"QD503"})

CASE = Case(
    name="run_qa_window_edge",
    imitates=(
        "huggingface/transformers: examples/pytorch/question-answering/run_qa.py (prepare_train_features: the "
        "unbounded walk to the answer's first token, 'edge case' comment)",
        "examples/qa_project/src/qa_project/preprocessing.py in this repository (the comment on the walk that "
        "qadiag::alignment found)",
    ),
    task="qa",
    written_for="4.x and 5.x",
    bug="run_qa.py's walk to the answer's first token runs past the window's end for answers that start at its "
    "last context token, giving start labels on padding, after the end label",
    expected={"4.46": EDGE_LABELS, "5": EDGE_LABELS},
    config={
        "prepare_train_features": "prepare_train_features",
        "prepare_validation_features": "prepare_train_features",
    },
)
