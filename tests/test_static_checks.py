"""What qadiag reads in the user's code without running it: transformers APIs a supported line removed
(QD311), sample decoders that take the end index from the start logits (QD405), override signatures that
respect a train() of the user's own (QD304/QD311)."""

from types import SimpleNamespace

from transformers import Trainer, TrainingArguments

from qadiag import compat
from qadiag.findings import Severity
from qadiag.probes.api_history import check_api_history
from qadiag.probes.decoding_code import check_decoding_code
from qadiag.probes.signatures import check_overrides


class LegacyQATrainer(Trainer):
    def evaluate(self, eval_dataset=None, eval_examples=None, ignore_keys=None):
        loop = self.prediction_loop if self.args.use_legacy_prediction_loop else self.evaluation_loop
        return loop

    def _maybe_log_save_evaluate(self, tr_loss, grad_norm, model, trial, epoch, ignore_keys_for_eval):
        return None


class OwnTokenizerTrainer(Trainer):
    def __init__(self, *args, tokenizer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tokenizer = tokenizer  # the class keeps its own: not the removed Trainer.tokenizer

    def describe(self):
        return self.tokenizer


class LegacyTokenizerReader(Trainer):
    def describe(self):
        return self.tokenizer  # Trainer.tokenizer: deprecated in 4.46, gone in 5.0


def build_legacy_trainer(model, tokenizer):
    args = TrainingArguments("out", evaluation_strategy="steps")
    return LegacyQATrainer(model=model, args=args, tokenizer=tokenizer)


class PrinterTrainer(Trainer):
    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        outputs = model(**inputs)
        start_idx, end_idx = outputs.start_logits.argmax(-1), outputs.start_logits.argmax(-1)
        print(start_idx, end_idx)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)


class FixedPrinterTrainer(Trainer):
    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        outputs = model(**inputs)
        start_idx, end_idx = outputs.start_logits.argmax(-1), outputs.end_logits.argmax(-1)
        print(start_idx, end_idx)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)


class OwnLoopTrainer(Trainer):
    def train(self, resume_from_checkpoint=None, **kwargs):
        for inputs in self.get_train_dataloader():
            self.training_step(self.model, inputs)

    def compute_loss(self, model, inputs, return_outputs=False):
        return super().compute_loss(model, inputs, return_outputs)


def with_callbacks(trainer_class, *callbacks):
    """A trainer of that class with just what the decoding scan reads (its callbacks), no model needed."""
    trainer = object.__new__(trainer_class)
    trainer.callback_handler = SimpleNamespace(callbacks=list(callbacks))
    return trainer


def test_removed_apis_in_the_trainer_and_its_factory_module_are_one_finding_each():
    found = {item.key: item for item in check_api_history(LegacyQATrainer, [build_legacy_trainer])}
    assert {
        "Trainer.prediction_loop",
        "TrainingArguments(use_legacy_prediction_loop=...)",
        "Trainer._maybe_log_save_evaluate",
        "TrainingArguments(evaluation_strategy=...)",
        "Trainer(tokenizer=...)",
    } <= set(found)
    on_5 = compat.transformers_version() >= (5, 0)
    assert found["Trainer(tokenizer=...)"].severity is (Severity.ERROR if on_5 else Severity.WARNING)
    assert "processing_class" in found["Trainer(tokenizer=...)"].fix
    assert all(item.source.startswith(__file__) for item in found.values())


def test_an_attribute_the_class_sets_itself_is_not_the_removed_one():
    # (the module is read too, and this test module uses removed APIs elsewhere on purpose)
    assert "Trainer.tokenizer" not in {item.key for item in check_api_history(OwnTokenizerTrainer)}
    assert "Trainer.tokenizer" in {item.key for item in check_api_history(LegacyTokenizerReader)}


def test_a_decoder_taking_the_end_index_from_the_start_logits_is_found_by_reading():
    found = check_decoding_code(with_callbacks(PrinterTrainer))
    assert [item.code for item in found] == ["QD405"]
    assert "PrinterTrainer.prediction_step" in found[0].message and found[0].source.startswith(__file__)
    assert check_decoding_code(with_callbacks(FixedPrinterTrainer)) == []


def test_a_train_loop_of_the_users_own_changes_what_the_signature_check_says():
    found = check_overrides(OwnLoopTrainer)
    if compat.prediction_step_passes_num_items():
        assert [(item.code, item.severity) for item in found] == [("QD304", Severity.ERROR)]
        assert "prediction_step" in found[0].message
    else:
        assert [(item.code, item.severity) for item in found] == [("QD311", Severity.WARNING)]
        assert "4.57" in found[0].message
