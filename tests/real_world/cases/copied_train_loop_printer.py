"""Seed 000 where it really lives: a QA project that copied ``Trainer.train()`` from transformers 4.1x to print
a few decoded predictions at every logging step, written inline in the loop, with the end index taken from
``start_logits`` (every printed "prediction" is one token). The copied loop calls ``self.compute_loss(model,
inputs, return_outputs=True)`` itself, so the 4.1x ``compute_loss(self, model, inputs, return_outputs=False)``
override never meets ``num_items_in_batch`` during training; the ``prediction_step`` of 4.57 and 5.x passes it
during evaluation, though. The loop was kept up to date otherwise (``eval_strategy``, ``processing_class=`` in
the factory), except that the printer still reads ``self.tokenizer``.
"""

import torch
from transformers import Trainer
from transformers.trainer_callback import TrainerState
from transformers.trainer_utils import IntervalStrategy, TrainOutput

from tests.real_world import Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING_WITH_EVAL_POSITIONS

PRINTED_SAMPLES = 2


class QATrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False):
        outputs = model(**inputs)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs[0]
        return (loss, outputs) if return_outputs else loss

    def train(self, resume_from_checkpoint=None, trial=None, **kwargs):
        args = self.args
        train_dataloader = self.get_train_dataloader()
        max_steps = args.max_steps
        self.create_optimizer_and_scheduler(num_training_steps=max_steps)
        model = self.model

        self.state = TrainerState()
        self.state.max_steps = max_steps
        self.control = self.callback_handler.on_train_begin(args, self.state, self.control)

        tr_loss = 0.0
        logging_loss = 0.0
        micro_steps = 0
        model.zero_grad()
        while self.state.global_step < max_steps:
            for inputs in train_dataloader:
                model.train()
                inputs = self._prepare_inputs(inputs)
                loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
                loss = loss / args.gradient_accumulation_steps
                loss.backward()
                tr_loss += loss.item()
                micro_steps += 1
                if micro_steps % args.gradient_accumulation_steps != 0:
                    continue

                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                self.optimizer.step()
                self.lr_scheduler.step()
                model.zero_grad()
                self.state.global_step += 1
                self.state.epoch = self.state.global_step / len(train_dataloader)
                self.control = self.callback_handler.on_step_end(args, self.state, self.control)

                if args.eval_strategy == IntervalStrategy.STEPS and self.state.global_step % args.eval_steps == 0:
                    self.evaluate()

                if self.state.global_step % args.logging_steps == 0:
                    self.log(
                        {
                            "loss": (tr_loss - logging_loss) / args.logging_steps,
                            "learning_rate": self.lr_scheduler.get_last_lr()[0],
                        }
                    )
                    logging_loss = tr_loss
                    # sample predictions, to see what the model learns
                    for i in range(min(PRINTED_SAMPLES, inputs["input_ids"].size(0))):
                        start_index = int(outputs.start_logits[i].argmax())
                        end_index = int(outputs.start_logits[i].argmax())
                        input_ids = inputs["input_ids"][i]
                        prediction = self.tokenizer.decode(input_ids[start_index : end_index + 1])
                        gold_start, gold_end = int(inputs["start_positions"][i]), int(inputs["end_positions"][i])
                        answer = self.tokenizer.decode(input_ids[gold_start : gold_end + 1])
                        print(f"[step {self.state.global_step}] pred: {prediction!r} | answer: {answer!r}")

                if self.state.global_step >= max_steps:
                    break

        self.control = self.callback_handler.on_train_end(args, self.state, self.control)
        return TrainOutput(self.state.global_step, tr_loss / max(1, self.state.global_step), {})


def build_trainer(model, processing_class, args, train_dataset, eval_dataset, data_collator):
    return QATrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processing_class,
        data_collator=data_collator,
    )


CASE = Case(
    name="copied_train_loop_printer",
    imitates=(
        "huggingface/transformers: src/transformers/trainer.py (4.1x train(): tr_loss, logging_loss, "
        "training_step per micro-batch, self.log(logs) at logging_steps)",
        "thomas010/transformers: src/transformers/trainer_casi.py (a whole Trainer copied into a project)",
        "issue 11 (seed 000): sample printers written inline in a copied train(), end index from start_logits",
    ),
    task="qa",
    written_for="4.1x, kept running to 4.46",
    bug="the inline sample printer in the copied train() takes the end index from start_logits",
    expected={
        # 4.46: the printer's decoding (QD405, found in the trainer's own code: no decode hook is configured);
        # no QD304 (the class's own train() never passes num_items_in_batch and 4.46's prediction_step does not
        # either); a warning for what 5.x breaks: prediction_step's num_items_in_batch, Trainer.tokenizer.
        "4.46": expect(
            output_capture={"QD405"},
            loss_swap={"QD311"},
            mentions={"QD405": ("start_logits",), "QD311": ("tokenizer", "num_items_in_batch")},
        ),
        # 4.57 (and 5.x): the first evaluate() of the copied loop reaches prediction_step, which now calls
        # compute_loss(..., num_items_in_batch=...): TypeError, reported once as the signature (loss-swap's
        # area, said to break evaluation, not train()); the printer's bug is still reported, statically, and
        # on 4.57 Trainer.tokenizer (gone in 5.x) is still worth the warning.
        "4.57": expect(
            stopped_by="loss-swap",
            loss_swap={"QD304", "QD311"},
            output_capture={"QD405"},
            mentions={"QD304": ("num_items_in_batch", "prediction_step"), "QD405": ("start_logits",)},
        ),
        # 5.x also removed Trainer.tokenizer, which the printer reads: a second, independent cause the run would
        # hit next (an error on this line, not a knock-on of the signature crash).
        "5": expect(
            stopped_by="loss-swap",
            loss_swap={"QD304", "QD311"},
            output_capture={"QD405"},
            mentions={"QD304": ("num_items_in_batch", "prediction_step"), "QD405": ("start_logits",)},
        ),
    },
    config=QA_PREPROCESSING_WITH_EVAL_POSITIONS,
)
