"""Seeded differential fuzzer: random short one-voice tunes, bytesim against abc2midi.

    nice -n 19 python benchmarks/fuzz_abc2midi.py --tunes 2000 --seed 0 --show 3

Each tune is a header (M:, L:, K:, sometimes ``%%MIDI ratio``) and a body of pieces, each
piece made by one construct generator (tuplets, ties, chords, broken rhythm, grace notes,
accidentals, repeats and endings, inline fields, rests, decorations). Every tune is
compared with abc2midi exactly as tests/test_convert_abc2midi.py does. A tune that differs
is shrunk: pieces are dropped, and header fields set to plain defaults, while it still
differs. Its class is the set of generators (and their forms) left in the shrunk tune, or,
when the shrunk tune shows one, a deliberate difference of docs/abc.md; the shortest examples
of each class are printed. Tunes are drawn from ``random.Random(f"{seed}:{index}")``, so a
run is the same on any number of workers. "bytesim fails" counts tunes bytesim refuses
(``--failures`` shows them; a tune of rests only is an error in bytesim, an empty file in
abc2midi), "abc2midi fails" tunes it writes no file for.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convert import AbcError, compare_notes, convert_tune, midi_to_notes, parse_abc  # noqa: E402
from convert.compare import abc2midi_available, abc2midi_notes  # noqa: E402

LETTERS = "CDEFGABcdefgab"
LENGTHS = ["", "", "", "2", "/", "3", "3/2", "/2", "4", "//"]
METERS = ["4/4", "3/4", "6/8", "2/4", "9/8", "C", "C|", "2/2", "12/8", "5/4", "7/8", "3/8", None]
UNITS = ["1/8", "1/8", "1/4", "1/16", None]
KEYS = ["C", "G", "D", "F", "Bb", "Eb", "A", "Am", "Em", "Dmix", "Ador", "Gm", "D =c", "F#m"]
DEFAULT_HEADER = {"M": "4/4", "L": "1/8", "K": "C", "ratio": None}
# Generators whose pieces every tune has: a shrunk tune's class leaves them out.
PLAIN = {"note", "bar"}


# --------------------------------------------------------------------------- generators


def note(rng: random.Random, accidentals: bool = True, length: bool = True) -> str:
    acc = rng.choice(["^", "_", "=", "^^", "__"]) if accidentals and rng.random() < 0.15 else ""
    octave = rng.choice(["", "", "", "'", ","])
    return acc + rng.choice(LETTERS) + octave + (rng.choice(LENGTHS) if length else "")


def chord_text(rng: random.Random, inner_lengths: bool = False) -> str:
    size = rng.choice([2, 2, 3])
    notes = [note(rng, length=inner_lengths) for _ in range(size)]
    return "[" + "".join(notes) + "]"


def gen_note(rng):
    return note(rng)


def gen_tuplet(rng):
    form = rng.choice(
        ["(3", "(3", "(3:2:3", "(3::2", "(3:2", "(2", "(4", "(5", "(6", "(7", "(9", "(3::", "(4:3"]
    )
    p = int(form[1])
    count = p
    parts = form.split(":")
    if len(parts) == 3 and parts[2]:
        count = int(parts[2])
    elements = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.7:
            elements.append(note(rng, length=rng.random() < 0.3))
        elif kind < 0.85:
            elements.append(chord_text(rng) + rng.choice(["", "", "2", "/"]))
        else:
            elements.append("z" + rng.choice(["", "2"]))
    body = "".join(elements)
    slur = rng.random()
    if slur < 0.2:
        return f"({form}{body})"
    if slur < 0.4:
        return f"{form}({body})"
    if slur < 0.5 and len(elements) > 1:  # a broken rhythm inside the tuplet
        return f"{form}{elements[0]}{rng.choice(['>', '<'])}{''.join(elements[1:])}"
    return form + body


def gen_tie(rng):
    first = note(rng)
    letter = first.lstrip("^_=")
    form = rng.random()
    if form < 0.3:
        return "plain", f"{first}-{letter}"
    if form < 0.5:
        return "bar", f"{first}-|{letter}"
    if form < 0.6:
        return "chain", f"{first}-{letter}-{letter}"
    if form < 0.7:  # the chord's notes mostly as long as each other
        other = note(rng, length=False) + (first[len(first.rstrip("0123456789/")) :])
        other = other if rng.random() < 0.7 else note(rng, length=False)
        return "into chord", f"{first}-[{letter}{other}]"
    if form < 0.8:
        return "space", f"{first} -{letter}"
    between = rng.choice(["z", "(", ")", "{g}"])
    return f"before {between}", f"{first}-{between}{letter}"


def gen_tied_chord(rng):
    chord = chord_text(rng)
    inner = chord[1:-1]
    form = rng.random()
    if form < 0.3:
        return "chord-chord", f"{chord}-{chord}"
    if form < 0.5:
        return "across bar", f"{chord}2-|{chord}"
    if form < 0.7:
        return "inside", f"[{inner[:-1]}{inner[-1]}-]{chord}"
    return "chord-note", f"{chord}-{inner.lstrip('^_=')[0]}"


def gen_chord(rng):
    form = rng.random()
    if form < 0.4:
        return "outer length", chord_text(rng) + rng.choice(LENGTHS)
    if form < 0.8:
        outer = rng.choice(["", "2", "/", "4", "1", "3/2"])
        return "inner lengths", chord_text(rng, inner_lengths=True) + outer
    return "then note", chord_text(rng, inner_lengths=True) + rng.choice(["", "2"]) + note(rng)


def gen_broken(rng):
    arrow = rng.choice([">", "<", ">>", "<<", ">", "<"])
    left = rng.random()
    right = rng.random()

    def element(choice: float) -> str:
        if choice < 0.6:
            return note(rng, length=rng.random() < 0.3)
        if choice < 0.8:
            return chord_text(rng) + rng.choice(["", "2"])
        return "z" + rng.choice(["", "2"])

    a, b = element(left), element(right)
    kinds = ["note" if x < 0.6 else "chord" if x < 0.8 else "rest" for x in (left, right)]
    name = f"{kinds[0]}{arrow}{kinds[1]}"
    form = rng.random()
    if form < 0.15 and kinds[0] != "rest":
        return f"tie {name}", f"{a}-{a.lstrip('^_=')}{arrow}{b}"
    if form < 0.3 and kinds[1] != "rest":
        return f"{name} tie", f"{a}{arrow}{b}-{b.lstrip('^_=')}"
    if form < 0.4:
        return f"{name} spaced", f"{a} {arrow} {b}"
    if form < 0.5:
        return f"{name} chained", f"{a}{arrow}{b}{rng.choice(['>', '<'])}{element(rng.random())}"
    return name, f"{a}{arrow}{b}"


def gen_grace(rng):
    grace = "".join(note(rng, length=False) for _ in range(rng.choice([1, 1, 2, 3])))
    slash = rng.choice(["", "/"])
    target = note(rng) if rng.random() < 0.7 else chord_text(rng)
    return f"{{{slash}{grace}}}{target}"


def gen_accidental(rng):
    letter = rng.choice("CDEFGAB")
    acc = rng.choice(["^", "_", "=", "^^", "__"])
    form = rng.random()
    other = letter.lower() if rng.random() < 0.5 else letter
    if form < 0.3:
        return f"{acc}{letter} {other}"
    if form < 0.5:
        return f"{acc}{letter}-{letter} {other}"
    if form < 0.7:
        return f"{acc}{letter}-|{letter} {other}"
    if form < 0.85:
        return f"[{acc}{letter}{rng.choice(LETTERS)}] {other}"
    return f"{{{acc}{letter}}}{other}"


def gen_rest(rng):
    return rng.choice(["z", "z2", "x", "z/", "x2", "Z", "Z2", "z3/2", "z4"])


def gen_deco(rng):
    return rng.choice(["!trill!", ".", "~", "H", "T", "!fermata!", "!p!", "u", "v"]) + note(rng)


def gen_inline(rng):
    field = rng.choice(["K", "K", "L", "L", "M"])
    value = {"K": rng.choice(KEYS), "L": rng.choice(["1/16", "1/8", "1/4"])}.get(
        field, rng.choice(["3/4", "6/8", "2/4", "4/4"])
    )
    return f"[{field}:{value}]"


def gen_ratio(rng):
    return f"[I:MIDI ratio {rng.randint(1, 4)} {rng.randint(1, 3)}]"


def gen_mixed(rng):
    """Constructs next to each other: grace notes, decorations, slurs, tuplets, fields and
    bar lines between the two sides of a broken rhythm, a tie or a tuplet."""
    a, b, c = (note(rng, length=rng.random() < 0.3) for _ in range(3))
    same = a.lstrip("^_=")
    form = rng.choice(
        [
            ("> grace", f"{a}>{{g}}{b}"),
            ("> deco", f"{a}>.{b}"),
            ("> tuplet", f"{a}>(3{b}{c}{a}"),
            ("> bar", f"{a}>|{b}"),
            ("> slur", f"({a}>{b})"),
            ("> field", f"{a}>[L:1/16]{b}"),
            ("tie slur", f"{a}-({same}"),
            ("tie deco", f"{a}-.{same}"),
            ("tie field", f"{a}-[L:1/16]{same}"),
            ("tie key", f"{a}-[K:{rng.choice(KEYS)}]{same}"),
            ("tie grace", f"{a}-{{{b}}}{same}"),
            ("tuplet bar", f"(3{a}{b}|{c}"),
            ("tuplet grace", f"(3{{g}}{a}{b}{c}"),
            ("tuplet field", f"(3{a}[L:1/16]{b}{c}"),
            ("tuplet chord length", f"(3[{a}{c}]2{b}{c}"),
            ("spacer", f"{a}y{b}"),
            ("key mid-bar", f"{a}[K:{rng.choice(KEYS)}]{b}"),
            ("multi-bar rest", f"{a}|Z{rng.choice(['', '2', '3'])}|{b}"),
        ]
    )
    return form


GENERATORS = {
    "note": (gen_note, 10),
    "tuplet": (gen_tuplet, 3),
    "tie": (gen_tie, 2),
    "tied_chord": (gen_tied_chord, 1),
    "chord": (gen_chord, 2),
    "broken": (gen_broken, 3),
    "grace": (gen_grace, 1),
    "accidental": (gen_accidental, 2),
    "rest": (gen_rest, 1),
    "deco": (gen_deco, 1),
    "inline": (gen_inline, 0.5),
    "inline_ratio": (gen_ratio, 0.2),
    "mixed": (gen_mixed, 2),
}
NAMES = list(GENERATORS)
WEIGHTS = [GENERATORS[name][1] for name in NAMES]


def gen_bars(rng, count: int) -> list[tuple[str, str]]:
    """``count`` bars of pieces, each ended by a plain bar line."""
    pieces = []
    for _ in range(count):
        for _ in range(rng.randint(1, 4)):
            name = rng.choices(NAMES, WEIGHTS)[0]
            made = GENERATORS[name][0](rng)
            if isinstance(made, tuple):  # (form, text): the class names the form
                pieces.append((f"{name} {made[0]}", made[1]))
            else:
                pieces.append((name, made))
        pieces.append(("bar", "|"))
        if rng.random() < 0.15:
            pieces.append(("bar", "\n"))
    return pieces


def gen_section(rng, number: int) -> list[tuple[str, str, int]]:
    """Plain bars, a repeat, a repeat with endings, or a :: chain (pieces tagged with the
    section ``number``: its repeat and ending marks are only dropped together). A note
    before a mark is sometimes tied to the same note after it."""
    form = rng.random()
    marks: list[tuple[str, str]] = []  # (kind, text) of the marks that end each group of bars
    if form < 0.4:
        groups = [rng.randint(1, 3)]
        marks = [("bar", "|")]
    elif form < 0.65:
        groups = [0, rng.randint(1, 2)]
        marks = [("repeat", "|:"), ("repeat", ":|")]
    elif form < 0.9:
        first, second = rng.choice(
            [("|[1", ":|[2"), ("|1", ":|2"), ("|[1", ":|2"), ("[1", ":|[2"), ("|1", ":|[2")]
        )
        start = [("repeat", "|:")] if rng.random() < 0.7 else []
        groups = [0] * len(start) + [rng.randint(1, 2), 1, 1]
        marks = start + [("ending", first), ("ending", second)]
        marks.append(("bar", rng.choice(["|", "||", "|]"])))
    else:
        groups = [0, 1, 1]
        marks = [("repeat", "|:"), ("repeat", "::"), ("repeat", ":|")]
    pieces: list[tuple[str, str, int]] = []
    carried: tuple[str, str] | None = None  # a note tied over the last mark
    for count, (kind, mark) in zip(groups, marks, strict=True):
        bars = [(name, text, number) for name, text in gen_bars(rng, count)][:-1]
        if carried is not None:
            bars.insert(0, (carried[0], carried[1], number))
            carried = None
        if bars and rng.random() < 0.3:  # tie the last note before the mark over it
            tied = note(rng, accidentals=False)
            name = f"tie over {mark}"
            bars.append((name, tied + "-", number))
            carried = (name, tied)
        pieces += bars + [(kind, mark, number)]
    if carried is not None:
        pieces.append((carried[0], carried[1], number))
    return pieces


def gen_tune(rng) -> tuple[dict, list[tuple[str, str, int]]]:
    header = {
        "M": rng.choice(METERS),
        "L": rng.choice(UNITS),
        "K": rng.choice(KEYS),
        "ratio": f"{rng.randint(1, 4)} {rng.randint(1, 3)}" if rng.random() < 0.1 else None,
    }
    pieces: list[tuple[str, str, int]] = []
    for number in range(rng.randint(1, 3)):
        pieces += gen_section(rng, number)
    return header, pieces


def render(header: dict, pieces: list[tuple[str, str]]) -> str:
    lines = ["X:1"]
    if header["M"] is not None:
        lines.append(f"M:{header['M']}")
    if header["L"] is not None:
        lines.append(f"L:{header['L']}")
    if header["ratio"] is not None:
        lines.append(f"%%MIDI ratio {header['ratio']}")
    lines.append(f"K:{header['K']}")
    body, previous = "", "bar"
    for name, text, _ in pieces:
        bar = name in ("bar", "repeat", "ending")
        body += text if bar != (previous in ("bar", "repeat", "ending")) else " " + text
        previous = name
    body = body.strip().replace("\n ", "\n")
    lines.append(body)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- comparing


def verdict(text: str) -> str:
    """'agree', 'differ', 'ours_failed' or 'abc2midi_failed', as the tests compare."""
    tune = parse_abc(text).tunes[0]
    reference = abc2midi_notes(tune.text)
    try:
        ours = midi_to_notes(convert_tune(tune))
    except AbcError:
        return "ours_failed"
    if reference is None:
        return "abc2midi_failed"
    return "agree" if compare_notes(ours, reference).agree else "differ"


def shrink(header: dict, pieces: list) -> tuple[dict, list]:
    """Plain the header, drop whole sections, then single pieces (not repeat or ending
    marks) while the tune still differs (greedy, to a fixpoint)."""
    header = dict(header)
    for key, value in DEFAULT_HEADER.items():
        if header[key] != value:
            trial = {**header, key: value}
            if verdict(render(trial, pieces)) == "differ":
                header = trial

    def still_differs(trial: list) -> bool:
        return bool(trial) and verdict(render(header, trial)) == "differ"

    for section in sorted({piece[2] for piece in pieces}):
        trial = [piece for piece in pieces if piece[2] != section]
        if still_differs(trial):
            pieces = trial
    changed = True
    while changed:
        changed = False
        index = 0
        while index < len(pieces):
            trial = pieces[:index] + pieces[index + 1 :]
            if pieces[index][0] not in ("repeat", "ending") and still_differs(trial):
                pieces, changed = trial, True
            else:
                index += 1
    return header, pieces


_CHORD = re.compile(r"(-\s*)?\[([^\]:]*)\](\d*/*\d*)(\s*-)?")
_CHORD_NOTE = re.compile(r"[\^_=]*[A-Ga-g][,']*(\d*/*\d*)")


def _tied_uneven_chord(body: str) -> bool:
    """A chord without a length of its own, its notes written with different lengths, with
    a tie into or out of it."""
    for match in _CHORD.finditer(body):
        tied = match.group(1) or match.group(4) or "-" in match.group(2)
        lengths = {_fraction(n) for n in _CHORD_NOTE.findall(match.group(2))}
        if tied and not match.group(3) and len(lengths) > 1:
            return True
    return False


def _fraction(text: str) -> Fraction:
    number, slashes, denominator = re.fullmatch(r"(\d*)(/*)(\d*)", text).groups()
    if denominator:
        return Fraction(int(number or 1), int(denominator) * 2 ** max(len(slashes) - 1, 0))
    return Fraction(int(number or 1), 2 ** len(slashes))


# Differences docs/abc.md lists as deliberate, recognised in a shrunk tune's body.
DELIBERATE = {
    "tie over :: (abc2midi drops its accidental)": lambda body: "-::" in body,
    "tied chord of uneven notes (abc2midi plays their own lengths)": _tied_uneven_chord,
}


def class_of(header: dict, pieces: list) -> str:
    body = render(header, pieces).split("\nK:", 1)[1].split("\n", 1)[1]
    for name, applies in DELIBERATE.items():
        if applies(body):
            return "deliberate: " + name
    names = {piece[0] for piece in pieces} - PLAIN
    names |= {f"header {key}" for key, value in DEFAULT_HEADER.items() if header[key] != value}
    return " + ".join(sorted(names)) or "plain notes"


def check(seed_and_index: tuple[int, int]) -> tuple[str, str, str | None, str | None]:
    """(verdict, text, class, shrunk text) of one tune."""
    seed, index = seed_and_index
    rng = random.Random(f"{seed}:{index}")
    header, pieces = gen_tune(rng)
    text = render(header, pieces)
    result = verdict(text)
    if result != "differ":
        return result, text, None, None
    small_header, small = shrink(header, pieces)
    return result, text, class_of(small_header, small), render(small_header, small)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=3, help="examples per class")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--failures", action="store_true", help="also show failing tunes")
    args = parser.parse_args()
    if not abc2midi_available():
        sys.exit("abc2midi is not installed")

    start = time.perf_counter()
    jobs = [(args.seed, index) for index in range(args.tunes)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(check, jobs, chunksize=16))
    counts: dict[str, int] = defaultdict(int)
    classes: dict[str, list[str]] = defaultdict(list)
    failures: dict[str, list[str]] = defaultdict(list)
    for result, text, name, small in results:
        counts[result] += 1
        if name is not None:
            classes[name].append(small)
        elif result.endswith("failed"):
            failures[result].append(text)
    elapsed = time.perf_counter() - start
    deliberate = sum(len(v) for k, v in classes.items() if k.startswith("deliberate"))
    print(
        f"tunes {args.tunes}  agree {counts['agree']}  differ {counts['differ']} "
        f"({deliberate} deliberate)  "
        f"bytesim fails {counts['ours_failed']}  abc2midi fails {counts['abc2midi_failed']}  "
        f"(seed {args.seed}, {elapsed:.1f} s)"
    )
    for name, examples in sorted(classes.items(), key=lambda item: -len(item[1])):
        print(f"\n== {name}: {len(examples)} tunes")
        for example in sorted(set(examples), key=len)[: args.show]:
            print("  " + example.replace("\n", "\n  ").rstrip())
    if args.failures:
        for kind, texts in failures.items():
            print(f"\n== {kind}: {len(texts)} tunes")
            for text in sorted(texts, key=len)[: args.show]:
                print("  " + text.replace("\n", "\n  ").rstrip())


if __name__ == "__main__":
    main()
