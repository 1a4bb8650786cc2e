"""`python -m grader plot vanishing`: see vanishing gradients with your own exercise 5 code.

Your `gradient_norms` and `chain_gradient` run in a separate process
(grader/plot_probe.py) with a time limit. The curves are drawn as a PNG with
matplotlib when it is installed (it is not a requirement of the project), and
as text in the terminal otherwise or with --text.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from grader.catalog import UsageError
from grader.report import wrap
from grader.target import resolve_target

PLOTS = ("vanishing",)
PROBE = Path(__file__).resolve().parent / "plot_probe.py"
EXIT_OK, EXIT_FAILED = 0, 1

GRADIENT_CURVES = ("tanh RNN", "LSTM", "LSTM, forget bias 1", "GRU")
LABELS_EN = {"tanh RNN": "tanh RNN", "LSTM": "LSTM (default init)", "LSTM, forget bias 1": "LSTM, forget-gate bias 1",
             "GRU": "GRU"}
LABELS_ZH = {"tanh RNN": "tanh RNN", "LSTM": "LSTM（默认初始化）", "LSTM, forget bias 1": "LSTM（遗忘门偏置 1）",
             "GRU": "GRU"}

TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "not_implemented": "{function} is not implemented yet — finish exercise 5 first (python -m grader ex5), "
                           "or try --target solutions.",
        "crashed": "{function} raised an error: {detail}. Fix it first: python -m grader ex5 shows what is wrong.",
        "import": "ex5_vanishing.py could not be imported: {detail}.",
        "bad_result": "{function} {detail}. python -m grader ex5 shows what to fix.",
        "timeout": "Your exercise 5 code did not finish within {seconds:g} s (an endless loop?). "
                   "Check it with python -m grader ex5.",
        "died": "The process running your exercise 5 code ended abruptly (exit code {code}): does your code call "
                "os._exit or crash the interpreter? Check it with python -m grader ex5.",
        "no_matplotlib": "matplotlib is not installed, so the curves are drawn as text below. "
                         "For the PNG: python -m pip install matplotlib",
        "saved": "Saved {path}",
        "last_off": "Note: 0 steps back, ‖∂L/∂h_T‖ should be sqrt(B·H) = {expected:.4g}, but your gradient_norms "
                    "gives {got:.4g} ({curve}); python -m grader ex5 says what to fix.",
        "gradients_title": "‖∂L/∂h_t‖ of L = h_T.sum(), T = {steps}, from your gradient_norms (log scale)",
        "steps_back": "steps back from T",
        "chain_title": "|D_n| = |∏ σ'(z_i)·w_i| with z = 0, σ'(0) = 0.25, from your chain_gradient (log scale)",
        "n": "n (chain length)",
        "several": "several curves",
        "png_title": "Vanishing and exploding gradients",
        "gradients_panel": "Gradient at $h_t$, T = {steps}, L = $h_T$.sum()",
        "chain_panel": "Chain product $D_n$, z = 0: decays for |w| < 4, grows for |w| > 4",
        "reading": "{first}: the further back a step, the smaller its gradient; a forget-gate bias of 1 keeps it "
                   "alive longer. {second}: |w| = 4 is the boundary, since σ'(0)·4 = 1.",
        "png_panels": ("Left", "Right"), "text_panels": ("Above", "Below"),
        "font": "",
    },
    "zh": {
        "not_implemented": "{function} 尚未实现——请先完成练习 5（python -m grader ex5），或者试试 --target solutions。",
        "crashed": "{function} 运行出错：{detail}。请先修正它：python -m grader ex5 会告诉你哪里有问题。",
        "import": "无法导入 ex5_vanishing.py：{detail}。",
        "bad_result": "{function} {detail}。python -m grader ex5 会告诉你该改什么。",
        "timeout": "你的练习 5 代码在 {seconds:g} 秒内没有结束（是否有死循环？）。请用 python -m grader ex5 检查。",
        "died": "运行你练习 5 代码的进程意外结束（退出码 {code}）：你的代码是否调用了 os._exit 或使解释器崩溃？"
                "请用 python -m grader ex5 检查。",
        "no_matplotlib": "没有安装 matplotlib，下面用文字画出曲线。要生成 PNG 图片：python -m pip install matplotlib",
        "saved": "已保存 {path}",
        "last_off": "注意：往回 0 步时 ‖∂L/∂h_T‖ 应为 sqrt(B·H) = {expected:.4g}，而你的 gradient_norms 给出 "
                    "{got:.4g}（{curve}）；python -m grader ex5 会告诉你该改什么。",
        "gradients_title": "L = h_T.sum() 时的 ‖∂L/∂h_t‖，T = {steps}，由你的 gradient_norms 计算（对数坐标）",
        "steps_back": "从 T 往回的步数",
        "chain_title": "|D_n| = |∏ σ'(z_i)·w_i|，z = 0，σ'(0) = 0.25，由你的 chain_gradient 计算（对数坐标）",
        "n": "n（链长）",
        "several": "多条曲线重合",
        "png_title": "梯度消失与梯度爆炸",
        "gradients_panel": "$h_t$ 处的梯度，T = {steps}，L = $h_T$.sum()",
        "chain_panel": "连乘 $D_n$，z = 0：|w| < 4 时衰减，|w| > 4 时增长",
        "reading": "{first}：越往前的时间步，梯度越小；遗忘门偏置设为 1 能让梯度保持得更久。"
                   "{second}：|w| = 4 是分界线，因为 σ'(0)·4 = 1。",
        "png_panels": ("左图", "右图"), "text_panels": ("上图", "下图"),
        "font": "图中文字使用英文：matplotlib 没有找到中文字体（例如 Noto Sans CJK SC、SimHei、Microsoft YaHei）。",
    },
}

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "SimHei", "Microsoft YaHei", "PingFang SC",
             "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Heiti SC", "Arial Unicode MS")


class ProbeFailed(Exception):
    """The learner's code could not produce the curves; the message says why, in the chosen language."""


@dataclass(frozen=True)
class Curves:
    steps_back: list[int]
    gradients: dict[str, list[float]]   # curve -> ‖∂L/∂h_t‖ at 0, 1, ... steps back from T
    chain_n: list[int]
    chain: dict[str, list[float]]       # '|w| = 4' -> |D_n| for n in chain_n
    expected_last: float


# --- command line -------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m grader plot",
                     description="Draw what your exercise 5 functions compute. "
                                 "PLOT: vanishing (gradient norms of a tanh RNN, an LSTM and a GRU; the chain D_n).",
                     epilog="Exit codes: 0 drawn, 1 your exercise 5 code failed (the message says how), "
                            "2 usage error, 3 the grader itself failed.")
    parser.add_argument("plot", metavar="PLOT", help="what to draw: vanishing")
    parser.add_argument("--target", default="exercises", metavar="exercises|solutions|DIR",
                        help="whose ex5_vanishing.py to run (default: exercises)")
    parser.add_argument("--out", default="vanishing.png", metavar="PATH.png",
                        help="where the PNG goes (default: vanishing.png in the current folder)")
    parser.add_argument("--lang", choices=("en", "zh"), default=None, help="language (default: from the locale)")
    parser.add_argument("--text", action="store_true", help="draw in the terminal, even when matplotlib is installed")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="time limit for your code (default: 120)")
    return parser


def _output_path(value: str) -> Path:
    path = Path(value).expanduser()
    if path.suffix.lower() != ".png":
        raise UsageError(f"--out {value}: the file name must end in .png", f"--out {value}：文件名必须以 .png 结尾")
    if not path.resolve().parent.is_dir():
        raise UsageError(f"--out {value}: folder {path.resolve().parent} does not exist",
                         f"--out {value}：文件夹 {path.resolve().parent} 不存在")
    return path


def _language(value: str | None) -> str:
    from grader.cli import _locale_language

    return value or _locale_language()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.plot not in PLOTS:
        raise UsageError(f"unknown plot {args.plot!r}; choose from: {', '.join(PLOTS)}",
                         f"没有图 {args.plot!r}；可选：{', '.join(PLOTS)}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g}: must be positive", f"--timeout {args.timeout:g}：必须为正数")
    target = resolve_target(args.target)
    if not (target / "ex5_vanishing.py").is_file():
        raise UsageError(f"--target {args.target}: {target} has no ex5_vanishing.py",
                         f"--target {args.target}：{target} 中没有 ex5_vanishing.py")
    out = _output_path(args.out)
    lang = _language(args.lang)
    words = TEXT[lang]
    try:
        curves = collect(target, args.timeout, lang)
    except ProbeFailed as failure:
        sys.stderr.write(f"{failure}\n")
        return EXIT_FAILED
    for line in _sanity_notes(curves, lang):
        sys.stdout.write(line + "\n")
    if not args.text:
        try:
            saved = draw_png(curves, out, lang)
        except ImportError:
            sys.stdout.write(words["no_matplotlib"] + "\n\n")
        else:
            sys.stdout.write(words["saved"].format(path=out) + "\n" + _reading(words, "png_panels") + "\n")
            if not saved:
                sys.stdout.write(words["font"] + "\n")
            return EXIT_OK
    sys.stdout.write(render_text(curves, lang) + "\n")
    return EXIT_OK


# --- running the learner's code --------------------------------------------------------


def _probe_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GRADER_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def collect(target: Path, timeout_s: float, lang: str) -> Curves:
    """Run the learner's functions in a child process; ProbeFailed says what went wrong."""
    words = TEXT[lang]
    with tempfile.TemporaryDirectory(prefix="rnn-plot-") as tmp:
        result_file = Path(tmp) / "result.json"
        try:
            done = subprocess.run([sys.executable, str(PROBE), str(target), str(result_file)], cwd=tmp,
                                  env=_probe_environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise ProbeFailed(words["timeout"].format(seconds=timeout_s)) from None
        try:
            result = json.loads(result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ProbeFailed(words["died"].format(code=done.returncode)) from None
    return _curves(result, words, done.returncode)


def _curves(result: Any, words: dict[str, Any], returncode: int) -> Curves:
    if not isinstance(result, dict):
        raise ProbeFailed(words["died"].format(code=returncode))
    if not result.get("ok"):
        function, problem = str(result.get("function", "?")), str(result.get("problem", "crashed"))
        if function.endswith(".py"):
            problem = "import"
        template = words.get(problem, words["crashed"])
        raise ProbeFailed(template.format(function=function, detail=str(result.get("detail", "")).rstrip(".")))
    try:
        gradients = {name: [float(v) for v in result["gradients"][name]] for name in GRADIENT_CURVES}
        chain = {str(k): [float(v) for v in values] for k, values in result["chain"]["curves"].items()}
        return Curves(steps_back=[int(s) for s in result["steps_back"]], gradients=gradients,
                      chain_n=[int(n) for n in result["chain"]["n"]], chain=chain,
                      expected_last=float(result["expected_last"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ProbeFailed(words["died"].format(code=returncode)) from None


def _reading(words: dict[str, Any], panels: str) -> str:
    first, second = words[panels]
    return "\n".join(wrap(words["reading"].format(first=first, second=second), 100, "", ""))


def _sanity_notes(curves: Curves, lang: str) -> list[str]:
    """A hint when the last gradient is not sqrt(B·H): the plot would mislead."""
    notes = []
    for name, values in curves.gradients.items():
        got = values[0]
        if not math.isclose(got, curves.expected_last, rel_tol=1e-6):
            notes.append(TEXT[lang]["last_off"].format(expected=curves.expected_last, got=got,
                                                       curve=_label(name, lang)))
            break
    return notes


# --- text rendering ----------------------------------------------------------------------

GRADIENT_MARKERS = "RLFG"


def _label(name: str, lang: str) -> str:
    return (LABELS_ZH if lang == "zh" else LABELS_EN).get(name, name)


def _log_row(value: float, top: float, bottom: float, height: int) -> int | None:
    if not (value > 0 and math.isfinite(value)):
        return None
    if top == bottom:
        return height // 2
    return round((top - math.log10(value)) / (top - bottom) * (height - 1))


def text_chart(xs: Sequence[int], series: dict[str, list[float]], markers: Sequence[str], x_label: str,
               several: str, height: int = 12, column_width: int = 1) -> str:
    """A log-scale chart of characters: one marker letter per curve, '*' where curves meet."""
    positive = [v for values in series.values() for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return ""
    top, bottom = math.log10(max(positive)), math.log10(min(positive))
    grid = [[" "] * (len(xs) * column_width) for _ in range(height)]
    for marker, values in zip(markers, series.values()):
        for column, value in enumerate(values):
            row = _log_row(value, top, bottom, height)
            if row is not None:
                cell = column * column_width
                grid[row][cell] = marker if grid[row][cell] in (" ", marker) else "*"
    lines = []
    for row, cells in enumerate(grid):
        value = 10 ** (top - row * (top - bottom) / (height - 1)) if height > 1 else 10 ** top
        axis = f"{value:8.0e} |" if row % 3 == 0 or row == height - 1 else " " * 8 + " |"
        lines.append(axis + "".join(cells).rstrip())
    ticks = "".join(f"{x:<{column_width * 10}}" for x in xs[::10])
    lines.append(" " * 9 + "+" + "-" * (len(xs) * column_width))
    lines.append(" " * 10 + ticks.rstrip() + f"   {x_label}")
    legend = [f"{marker}: {name}" for marker, name in zip(markers, series)]
    lines.append(" " * 10 + ",  ".join(legend) + f",  *: {several}")
    return "\n".join(lines)


def _columns(text: str) -> int:
    """Terminal columns of `text` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _right(text: str, width: int) -> str:
    return " " * max(0, width - _columns(text)) + text


def _table(first_header: str, rows: Sequence[int], xs: Sequence[int], series: dict[str, list[float]]) -> str:
    """The values at a few x, one column per curve."""
    names = list(series)
    widths = [max(10, _columns(name)) for name in names]
    first = max(8, _columns(first_header))
    lines = [_right(first_header, first) + "  " + "  ".join(_right(name, w) for name, w in zip(names, widths))]
    for x in rows:
        index = list(xs).index(x)
        values = [_right(f"{series[name][index]:.3e}", w) for name, w in zip(names, widths)]
        lines.append(_right(str(x), first) + "  " + "  ".join(values))
    return "\n".join(lines)


def render_text(curves: Curves, lang: str) -> str:
    words = TEXT[lang]
    gradients = {_label(name, lang): values for name, values in curves.gradients.items()}
    steps = len(curves.steps_back)
    rows = [s for s in (0, 1, 2, 5, 10, 20, 30, 40, steps - 1) if s in curves.steps_back]
    chain_rows = [n for n in (1, 2, 5, 10, 15, 20) if n in curves.chain_n]
    parts = [
        words["gradients_title"].format(steps=steps), "",
        text_chart(curves.steps_back, gradients, GRADIENT_MARKERS, words["steps_back"], words["several"]), "",
        _table(words["steps_back"], rows, curves.steps_back, gradients), "",
        words["chain_title"], "",
        text_chart(curves.chain_n, curves.chain, [name.split("=")[-1].strip()[0] for name in curves.chain], words["n"],
                   words["several"], column_width=2), "",
        _table("n", chain_rows, curves.chain_n, curves.chain), "",
        _reading(words, "text_panels"),
    ]
    return "\n".join(parts)


# --- PNG -----------------------------------------------------------------------------------


def _chinese_font(font_manager: Any) -> str | None:
    available = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in available), None)


def draw_png(curves: Curves, out: Path, lang: str) -> bool:
    """Write the two panels to `out`; ImportError without matplotlib. False when zh fell back to English."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.ticker import MaxNLocator

    in_chinese = lang == "zh"
    style: dict[str, Any] = {}
    if in_chinese:
        font = _chinese_font(font_manager)
        if font is None:
            in_chinese = False
        else:
            style = {"font.sans-serif": [font, "DejaVu Sans"], "axes.unicode_minus": False}
    words = TEXT["zh" if in_chinese else "en"]
    with plt.rc_context(style):
        figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
        for name, values in curves.gradients.items():
            left.semilogy(curves.steps_back, values, label=_label(name, "zh" if in_chinese else "en"), linewidth=2)
        left.set_xlabel(words["steps_back"])
        left.set_ylabel(r"$\|\partial L / \partial h_t\|$")
        left.set_title(words["gradients_panel"].format(steps=len(curves.steps_back)), fontsize=11)
        left.grid(True, which="major", alpha=0.3)
        left.legend()
        for name, values in curves.chain.items():
            right.semilogy(curves.chain_n, values, marker="o", markersize=3, label=name, linewidth=1.5)
        right.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        right.set_xlabel(words["n"])
        right.set_ylabel(r"$|D_n|$")
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
        right.set_title(words["chain_panel"], fontsize=11)
        right.grid(True, which="major", alpha=0.3)
        right.legend()
        figure.suptitle(words["png_title"], fontsize=14, fontweight="bold")
        figure.tight_layout()
        figure.savefig(out, dpi=110)
        plt.close(figure)
    return in_chinese or lang == "en"
