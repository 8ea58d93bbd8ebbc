"""A KLUE-MRC competition project with its own model: a BERT encoder, a bidirectional GRU over the
token states and a span head, the loss computed in forward when positions are given, as the
competition repos' ``models/`` folders write them (``RobertaLSTMForMRC``-style names, built with
``from_pretrained`` on the encoder). The trainer is the correct 5.x ``trainer_qa.py`` and the validation
features keep their positions, so an eval loss is expected, and none is ever logged: the Trainer finds
label names by the model class's name (``find_labels`` takes ``start_positions``/``end_positions`` only
for classes named ``...QuestionAnswering...``), finds none, and its evaluation never asks for a loss.
Worse, the model still computes its loss from the positions in the batch, and with no label names the
evaluation loop keeps it among the predictions: post-processing gets (loss, start, end) and crashes. A
correct diagnosis names the one cause in both findings: the missing eval loss and the crash.
"""

import torch
from torch import nn
from transformers import BertModel, BertPreTrainedModel
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS
from tests.real_world.cases.v5_qa_trainer import build_trainer as build_qa_trainer


class BertGRUForMRC(BertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.gru = nn.GRU(config.hidden_size, config.hidden_size // 2, batch_first=True, bidirectional=True)
        self.span = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(
        self, input_ids=None, attention_mask=None, token_type_ids=None, start_positions=None, end_positions=None
    ):
        states = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
        states, _ = self.gru(states)
        start_logits, end_logits = self.span(states).split(1, dim=-1)
        start_logits, end_logits = start_logits.squeeze(-1), end_logits.squeeze(-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            ignored = start_logits.size(1)
            start = nn.functional.cross_entropy(start_logits, start_positions.clamp(0, ignored), ignore_index=ignored)
            end = nn.functional.cross_entropy(end_logits, end_positions.clamp(0, ignored), ignore_index=ignored)
            loss = (start + end) / 2
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits)


def build_trainer(model, processing_class, args, train_dataset, eval_dataset, eval_examples, data_collator,
                  post_process_function, compute_metrics):
    torch.manual_seed(args.seed)
    custom = BertGRUForMRC(model.config)
    custom.bert.load_state_dict(model.bert.state_dict(), strict=False)  # the competition's from_pretrained
    return build_qa_trainer(custom, processing_class, args, train_dataset, eval_dataset, eval_examples,
                            data_collator, post_process_function, compute_metrics)


CASE = Case(
    name="klue_mrc_custom_head",
    imitates=(
        "boostcampaitech2/mrc-level2-nlp-*: models with an LSTM/GRU or CNN head over RoBERTa, "
        "loss in forward (several teams' model.py)",
        "huggingface/transformers issue #20105: default label names come from find_labels(model class)",
    ),
    task="qa",
    written_for="4.x and 5.x",
    bug="a custom QA model whose class name lacks 'QuestionAnswering' gets no label names: evaluation never "
    "computes the eval loss, and the model's own loss, left among the predictions, crashes post-processing",
    expected={
        line: expect(
            stopped_by="eval-loss",
            eval_loss={"QD201", "QD308"},
            mentions={"QD201": ("label_names", "BertGRUForMRC"), "QD308": ("label_names", "start_positions")},
        )
        for line in ("4.46", "5")
    },
    config=QA_PREPROCESSING_WITH_EVAL_POSITIONS,
)
