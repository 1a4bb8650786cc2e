"""Which submissions' exercise code is unusually alike: for the instructor's eyes, never for a grade.

Built on copydetect (the winnowing fingerprints of Stanford's MOSS): each exercise file is tokenized with
names, strings and comments normalised away (renaming variables or reformatting changes nothing), cut into
k-grams and compared between every two submissions. Two kinds of text are left out before comparing:
- the stubs' own text (docstrings, signatures), which every submission starts from;
- code that many submissions share (more than a fifth of them), as MOSS does: exercises this short
  have obvious one-line answers that honest students write alike.
A pair's score is the smaller of its two shares (the part of each one's remaining code that also appears
in the other): both wrote mostly the same code. Submissions with little code of their own are noisy, so a
pair must share at least MIN_SHARED normalised characters. Every fingerprint is kept (window 1), so the result does not depend on Python's
per-process string hashing.

copydetect is an instructors' extra (it brings matplotlib): `python -m pip install copydetect==0.5.0`.
"""
from __future__ import annotations

import copy
import io
import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

DEFAULT_THRESHOLD = 0.8
NOISE_CHARACTERS = 25  # k: a match shorter than this many normalised characters is noise (copydetect's default)
COMMON_SHARE = 0.2  # code in more than this share of the submissions (and in more than COMMON_LEAST) is everybody's
COMMON_LEAST = 3
MIN_SHARED = 150  # normalised characters two submissions must share at least before they are compared at all
CONTEXT_LINES = 3  # shown around the shared parts; the rest of a file is "..."
INSTALL = "python -m pip install copydetect==0.5.0"

Sources = dict[str, dict[str, str]]  # student -> exercise file name -> its text


@dataclass(frozen=True)
class FileMatch:
    file: str
    left: str  # the file's HTML (escaped), the shared parts in <mark>
    right: str


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    shares: tuple[float, float]  # how much of each one's own code the other also has
    files: tuple[FileMatch, ...]

    @property
    def score(self) -> float:
        return min(self.shares)

    def row(self) -> dict[str, Any]:
        return {"first": self.first, "second": self.second, "score": round(self.score, 3),
                "first_share": round(self.shares[0], 3), "second_share": round(self.shares[1], 3),
                "files": " ".join(match.file for match in self.files)}


def available() -> bool:
    try:
        import copydetect  # noqa: F401
    except ImportError:
        return False
    return True


def _fingerprint(name: str, text: str) -> Any:
    """Every k-gram of the file's normalised tokens (tokenising is the costly part: once per file)."""
    from copydetect import CodeFingerprint

    return CodeFingerprint(name, NOISE_CHARACTERS, 1, None, language="python", fp=io.StringIO(text))


def _without(fingerprint: Any, left_out: set[int]) -> Any:
    """The fingerprint less the k-grams left out, as copydetect's own boilerplate removal leaves it."""
    from copydetect.utils import get_token_coverage

    kept = copy.copy(fingerprint)
    kept.hash_idx = {h: idx for h, idx in fingerprint.hash_idx.items() if h not in left_out}
    kept.hashes = set(kept.hash_idx)
    kept.token_coverage = get_token_coverage(kept.hash_idx, fingerprint.k, len(fingerprint.filtered_code))
    return kept


def _left_out(file: str, everyone: list[Any], stubs: dict[str, str], class_size: int) -> set[int]:
    """The k-grams of this file not compared: the stub's, and those of more than COMMON_SHARE of the class."""
    stub = set(_fingerprint(file, stubs[file]).hashes) if file in stubs else set()
    counts = Counter(h for fp in everyone for h in fp.hashes - stub)
    limit = max(COMMON_LEAST, COMMON_SHARE * class_size)
    return stub | {h for h, n in counts.items() if n > limit}


def _highlighted(text: str, slices: Any) -> str:
    """The file as HTML with the shared parts in <mark>, lines far from any of them left out ("...")."""
    import html

    from copydetect.utils import highlight_overlap

    if slices.size == 0:
        return html.escape(text)
    marked, _ = highlight_overlap(text, slices, "<mark>", "</mark>", escape_html=True)
    return _near_marks(marked.split("\n"))


def _near_marks(lines: list[str]) -> str:
    inside, shared = False, []
    for line in lines:  # a line is shared when a <mark> is open on it
        shared.append(inside or "<mark>" in line)
        if "<mark>" in line or "</mark>" in line:
            inside = line.rfind("<mark>") > line.rfind("</mark>")
    near = [any(shared[max(0, n - CONTEXT_LINES):n + CONTEXT_LINES + 1]) for n in range(len(lines))]
    kept = [line if keep else None for line, keep in zip(lines, near)]
    return "\n".join(line if line is not None else "..." for n, line in enumerate(kept)
                     if line is not None or n == 0 or kept[n - 1] is not None)


def _compare(first: dict[str, Any], second: dict[str, Any], threshold: float) -> tuple[float, float] | None:
    """Each one's share of its own code that the other also has, when the pair is alike; else None."""
    from copydetect import compare_files

    shared, own = [0.0, 0.0], [0.0, 0.0]
    for file in sorted(first.keys() & second.keys()):
        a, b = first[file], second[file]
        own[0] += a.token_coverage
        own[1] += b.token_coverage
        _, (share_a, share_b), _ = compare_files(a, b)
        shared[0] += share_a * a.token_coverage
        shared[1] += share_b * b.token_coverage
    if min(shared) < MIN_SHARED:
        return None
    shares = (float(shared[0] / own[0]), float(shared[1] / own[1]))
    return shares if min(shares) >= threshold else None


def _side_by_side(first: dict[str, Any], second: dict[str, Any]) -> tuple[FileMatch, ...]:
    from copydetect import compare_files

    matches = []
    for file in sorted(first.keys() & second.keys()):
        _, shares, (slices_a, slices_b) = compare_files(first[file], second[file])
        if any(shares):
            matches.append(FileMatch(file, _highlighted(first[file].raw_code, slices_a),
                                     _highlighted(second[file].raw_code, slices_b)))
    return tuple(matches)


def similar_pairs(sources: Sources, stubs: dict[str, str], threshold: float = DEFAULT_THRESHOLD) -> list[Pair]:
    """The pairs of students whose exercise code is alike by at least `threshold`, most alike first."""
    files = sorted({name for texts in sources.values() for name in texts})
    prints: dict[str, dict[str, Any]] = {student: {} for student in sources}
    for file in files:
        whole = {student: _fingerprint(file, texts[file]) for student, texts in sources.items() if file in texts}
        left_out = _left_out(file, list(whole.values()), stubs, len(sources))
        for student, fingerprint in whole.items():
            prints[student][file] = _without(fingerprint, left_out)
    pairs = []
    for first, second in itertools.combinations(sorted(sources), 2):
        shares = _compare(prints[first], prints[second], threshold)
        if shares is not None:
            pairs.append(Pair(first, second, shares, _side_by_side(prints[first], prints[second])))
    return sorted(pairs, key=lambda p: (-p.score, p.first, p.second))
