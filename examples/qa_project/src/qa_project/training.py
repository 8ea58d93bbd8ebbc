"""The project's Trainer: QA post-processing in evaluate(), a custom span loss in compute_loss."""

import math
import time

from transformers import Trainer
from transformers.trainer_utils import speed_metrics

from qa_project.losses import smoothed_span_loss


class QATrainer(Trainer):
    def __init__(self, *args, eval_examples=None, post_process_function=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.post_process_function = post_process_function

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = (inputs.pop("start_positions"), inputs.pop("end_positions"))
        outputs = model(**inputs)
        loss = smoothed_span_loss(outputs, labels, num_items_in_batch)
        return (loss, outputs) if return_outputs else loss

    def evaluate(self, eval_dataset=None, eval_examples=None, ignore_keys=None, metric_key_prefix="eval"):
        eval_dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        eval_examples = self.eval_examples if eval_examples is None else eval_examples
        compute_metrics, self.compute_metrics = self.compute_metrics, None
        start_time = time.time()
        try:
            output = self.evaluation_loop(self.get_eval_dataloader(eval_dataset), description="Evaluation",
                                          ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        finally:
            self.compute_metrics = compute_metrics
        metrics = dict(output.metrics)
        metrics.update(speed_metrics(metric_key_prefix, start_time, num_samples=output.num_samples,
                                     num_steps=math.ceil(output.num_samples / self.args.eval_batch_size)))
        predictions = self.post_process_function(eval_examples, eval_dataset, output.predictions)
        for key, value in compute_metrics(predictions).items():
            metrics[key if key.startswith(f"{metric_key_prefix}_") else f"{metric_key_prefix}_{key}"] = value
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def build_trainer(model, args, train_dataset, eval_dataset, eval_examples, tokenizer, data_collator,
                  compute_metrics, post_process_function):
    return QATrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                     eval_examples=eval_examples, processing_class=tokenizer, data_collator=data_collator,
                     compute_metrics=compute_metrics, post_process_function=post_process_function)
