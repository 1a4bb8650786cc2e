"""Generate a folder of submissions with planted mistakes, to try `python -m grader batch` on.

    python tests/make_submissions.py OUT_DIR [COUNT]

Each submission is a copy of the reference solutions with one known mistake (or none, or the
untouched stubs, or nothing at all); half of them are laid out as a whole repository (exercises/
inside). OUT_DIR/expected.csv gives each one's expected total ('' where it cannot be graded), so a
batch run can be checked: compare it with the batch's grades.csv.
"""
from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from plants import code_of  # noqa: E402  (the catalog of learner mistakes beside this script)

# (name, file, code appended to the solutions' file, expected total); file None: see `write_submission`.
MISTAKES: list[tuple[str, str | None, str, int | None]] = [
    ("correct", "ex1_rnn_cell.py", "", 120),
    ("lstm_h_without_tanh", "ex3_lstm.py", code_of("h = o * c"), 110),
    ("stubs", None, "stubs", 0),
    ("gru_detached", "ex4_gru.py", """
_right_gru_cell = gru_cell
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return _right_gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh).detach()
""", 115),
    ("clip_in_place", "ex5_vanishing.py", """
def clip_grad_norm(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    if total > max_norm:
        for g in grads:
            g.mul_(max_norm / (total + 1e-6))
    return grads, total
""", 115),
    ("chain_sum", "ex5_vanishing.py", code_of("chain as a sum"), 117),
    ("no_value_error", "ex1_rnn_cell.py", """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    act = torch.relu if nonlinearity == "relu" else torch.tanh
    return act(x @ weight_ih.T + h @ weight_hh.T + (0 if bias_ih is None else bias_ih + bias_hh))
""", 119),
    ("gru_syntax_error", "ex4_gru.py", "def gru_cell(x, h:\n    return h\n", 100),
    ("empty", None, "empty", None),
    ("teacher_forcing_unshifted", "ex6_sequence_tasks.py", code_of("teacher forcing without the shift"), 117),
    ("dropout_after_last_layer", "ex2_rnn_layers.py", """
_right_run_layers = run_layers
def run_layers(cell, x, hx, weights, num_layers, bidirectional=False, dropout=0.0, training=False):
    output, h_n = _right_run_layers(cell, x, hx, weights, num_layers, bidirectional, dropout, training)
    return torch.nn.functional.dropout(output, dropout, training), h_n
""", 118),
]


def write_submission(folder: Path, kind: tuple[str, str | None, str, int | None], as_repository: bool) -> None:
    _, filename, code, _ = kind
    target = folder / "exercises" if as_repository else folder
    if code == "empty":
        folder.mkdir(parents=True)
        (folder / "README.txt").write_text("forgot to upload my files\n", encoding="utf-8")
        return
    source = REPO / ("exercises" if code == "stubs" else "solutions")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    if filename and code.strip():
        with open(target / filename, "a", encoding="utf-8") as file:
            file.write("\n\n" + code.strip() + "\n")


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        sys.stderr.write(__doc__)
        return 2
    out, count = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 50
    out.mkdir(parents=True, exist_ok=False)
    rows = []
    for n in range(count):
        kind = MISTAKES[n % len(MISTAKES)]
        student = f"student{n + 1:03d}_{kind[0]}"
        write_submission(out / "submissions" / student, kind, as_repository=n % 2 == 1)
        rows.append({"student": student, "expected_total": "" if kind[3] is None else kind[3]})
    with open(out / "expected.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["student", "expected_total"])
        writer.writeheader()
        writer.writerows(rows)
    sys.stdout.write(f"Wrote {count} submissions to {out / 'submissions'} and {out / 'expected.csv'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
