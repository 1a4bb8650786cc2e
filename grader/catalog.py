"""Which exercises exist, and which ones a command line selects."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent / "suites"


class UsageError(Exception):
    """Bad command-line input: reported with a clear message and exit code 2.

    `zh` is the message in Chinese; without one, `grader.cli` translates
    argparse's usual messages and otherwise shows the English text.
    """

    def __init__(self, message: str, zh: str | None = None):
        super().__init__(message)
        self.zh = zh


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    title_zh: str
    points: float  # the exercise's share of the total (120 points over six exercises)

    @property
    def suite(self) -> Path:
        return self.suite_in(SUITES_DIR)

    def suite_in(self, suites_dir: Path) -> Path:
        """This exercise's hidden suite in a suites folder (grader/suites/ or a private copy)."""
        return suites_dir / f"test_{self.id}.py"

    @property
    def topic(self) -> str:
        """'lstm' for 'ex3_lstm'; 'integration' stays itself."""
        return self.id.split("_", 1)[1] if self.id.startswith("ex") else self.id


EXERCISES: tuple[Exercise, ...] = (
    Exercise("ex1_rnn_cell", "The Elman RNN cell", "Elman RNN 单元", 20),
    Exercise("ex2_rnn_layers", "Multi-layer and bidirectional wrapper", "多层与双向的封装", 20),
    Exercise("ex3_lstm", "LSTM gates", "LSTM 的门", 20),
    Exercise("ex4_gru", "GRU gates", "GRU 的门", 20),
    Exercise("ex5_vanishing", "Vanishing and exploding gradients", "梯度消失与梯度爆炸", 20),
    Exercise("ex6_sequence_tasks", "The four shapes of a sequence task", "序列任务的四种结构", 20),
)

# Checks of the learner's own modules end to end (their wrapper with their cells).
# Worth no points, so a mistake in one exercise costs points in that exercise only.
INTEGRATION = Exercise("integration", "End to end: your BiLSTM and BiGRU", "端到端：你自己的 BiLSTM 与 BiGRU", 0)

ALL: tuple[Exercise, ...] = EXERCISES + (INTEGRATION,)


def _matches(token: str, exercise: Exercise) -> bool:
    return exercise.id.startswith(token) or exercise.topic.startswith(token)


def select(tokens: list[str]) -> list[Exercise]:
    """Exercises named by ids or prefixes (ex3, lstm, ex3_lstm); all of them when none is named."""
    if not tokens:
        return list(ALL)
    chosen: list[Exercise] = []
    for raw in tokens:
        token = raw.strip().lower().removesuffix(".py")
        found = [e for e in ALL if token and _matches(token, e)]
        if not found:
            names = ", ".join(e.id for e in ALL)
            raise UsageError(f"unknown exercise {raw!r}; choose from: {names} (or a prefix such as ex3 or lstm)",
                             f"没有练习 {raw!r}；可选：{names}（或前缀，如 ex3、lstm）")
        chosen.extend(e for e in found if e not in chosen)
    return [e for e in ALL if e in chosen]
