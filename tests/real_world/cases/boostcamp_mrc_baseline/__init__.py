"""The KLUE-MRC baseline every boostcamp "level2 mrc" team started from (2021-2023), as a project:
``trainer_qa.py`` (HF's 4.x ``QuestionAnsweringTrainer``, translated comments and all) and ``train.py``
(``QuestionAnsweringTrainer(..., tokenizer=tokenizer)``), validation features without positions (run_qa.py).

Its ``evaluate()`` runs ``self.prediction_loop`` unconditionally, passes ``self.args`` to the post-processing,
and logs the raw ``compute_metrics`` dict: ``exact_match`` and ``f1`` without the ``eval_`` prefix, which
W&B files under ``train/``; the loop's metrics are dropped, and the features carry no positions, so no eval
loss exists at all. ``trainer_qa.py`` imports ``is_torch_tpu_available``, which transformers removed after
4.46: on 4.57 and 5.x the module no longer imports.
"""

from tests.real_world import SETUP, Case, expect
from tests.real_world.cases._utils_qa import QA_PREPROCESSING

IMPORT_CRASH = expect(
    stopped_by=SETUP, setup={"QD001"}, mentions={"QD001": ("is_torch_tpu_available", "is_torch_xla_available")}
)

CASE = Case(
    name="boostcamp_mrc_baseline",
    imitates=(
        "boostcampaitech5/level2_nlp_mrc-nlp-01: code/trainer_qa.py",
        "boostcampaitech2/mrc-level2-nlp-04: code/train.py (QuestionAnsweringTrainer(..., tokenizer=tokenizer))",
        "boostcampaitech2/mrc-level2-nlp-04: code/trainer_qa.py",
    ),
    task="qa",
    written_for="4.1x",
    bug="evaluate() logs exact_match/f1 without the eval_ prefix and no eval loss exists (loop metrics dropped, "
    "validation features without positions)",
    expected={
        # 4.46: the two seed-001 bugs, each under its item; the APIs 5.x removed (prediction_loop,
        # tpu_metrics_debug, Trainer(tokenizer=), is_torch_tpu_available) are a warning so the upgrade is planned.
        # The QD201 fix (give the validation features their positions) meets 4.46's legacy prediction_loop,
        # which cannot compute a loss on accelerate's dataloaders: qadiag evaluates once with positions and
        # says so now (QD308, naming prediction_loop), rather than after the user's next run.
        "4.46": expect(
            log_keys={"QD101"},
            eval_loss={"QD201", "QD308"},
            loss_swap={"QD311"},
            mentions={
                "QD311": ("prediction_loop", "tpu_metrics_debug", "tokenizer", "is_torch_tpu_available"),
                "QD308": ("prediction_loop", "evaluation_loop"),
            },
        ),
        # 4.57 and 5.x: `from transformers import is_torch_tpu_available` raises ImportError when the factory's
        # module is imported: one setup crash naming the API (removed after 4.46; is_torch_xla_available).
        "4.57": IMPORT_CRASH,
        "5": IMPORT_CRASH,
    },
    factory="boostcamp_mrc_baseline.train:build_trainer",
    config=QA_PREPROCESSING,
)
