"""Random programs and instances with the original generator's distribution (SPEC 1.5).

Three ways to draw them, all with the same distribution:

* :func:`draw_program` reads like the specification: one ``random.Random`` call at a time.
* :class:`OriginalStream` draws the *same* programs from the same Mersenne Twister stream,
  fast: it takes the stream's 32-bit words in bulk (``getrandbits``), and works out with numpy,
  for every stream position at once, which instruction a draw starting there produces and
  where it ends; following those links is all that is left to do per instruction.
  ``random.Random`` draws ``randint``/``choice`` over n values by taking the top
  ``n.bit_length()`` bits of one 32-bit word and rejecting values >= n.
* :func:`random_programs` uses a ``numpy.random.Generator`` (fully vectorised; not the
  original's stream). :func:`random_instances` and the shards layout use it.

Worked example (seed 0, programs of 1..3 words): the first program :func:`draw_program` makes
is initial state ``ACC 197``, ``A..J = 215 20 132 248 207 155 244 183 111 71``, with lines
``["SHR", "HLT"]``; its file name is ``md5("SHRHLT") + ".bin"``.
"""

from __future__ import annotations

import hashlib
import itertools
import random

import numpy as np

from cpu.assembler import disassemble_word
from cpu.batch import instance_bytes, run_batch
from cpu.errors import ParameterError
from cpu.isa import INSTRUCTIONS, MEMORY_SIZE, NUM_OPCODES, NUM_WORDS, REGISTER_NAMES

MNEMONIC_CHOICES = INSTRUCTIONS[1:]  # the 20 non-HLT mnemonics in opcode order
MIN_LEN, MAX_LEN = 1, NUM_WORDS  # bounds on words per program (incl. HLT)


def check_lengths(min_len: int, max_len: int) -> None:
    """Raise ParameterError unless 1 <= min_len <= max_len <= 256."""
    if not MIN_LEN <= min_len <= max_len <= MAX_LEN:
        raise ParameterError(
            f"program lengths must satisfy {MIN_LEN} <= min <= max <= {MAX_LEN}, "
            f"got {min_len}..{max_len}"
        )


def draw_program(
    rng: random.Random, min_len: int = 1, max_len: int = 255
) -> tuple[list[int], list[str]]:
    """One instance's initial values and program, drawn exactly as the original does.

    Returns ``(initial, lines)``: ``initial`` is ``[ACC, A, ..., J]``, ``lines`` the assembly
    lines ending with ``"HLT"``.
    """
    initial = [rng.randint(0, 255) for _ in range(11)]
    lines = []
    for _ in range(rng.randint(min_len, max_len) - 1):
        ins = rng.choice(MNEMONIC_CHOICES)
        if ins.kind == "loadi":
            lines.append(f"LOADI {rng.randint(0, 255)}")
            continue
        count = rng.choice(ins.counts)
        lines.append(" ".join([ins.mnemonic, *(rng.choice(REGISTER_NAMES) for _ in range(count))]))
    lines.append("HLT")
    return initial, lines


def program_name(lines: list[str]) -> str:
    """The original's file name stem: md5 hex digest of the lines joined with no separator."""
    return hashlib.md5("".join(lines).encode()).hexdigest()


# --- the original's stream, fast ------------------------------------------------------------

_LOADI = next(i.opcode for i in INSTRUCTIONS if i.kind == "loadi")
_COUNTS = np.zeros((NUM_OPCODES, 3), dtype=np.int8)  # allowed counts; LOADI: no registers
for _ins in INSTRUCTIONS:
    if _ins.opcode != _LOADI:
        _COUNTS[_ins.opcode, : len(_ins.counts)] = _ins.counts
# register count = base + step * (index of the chosen count); counts are consecutive
_CHOICE_OF_3 = np.array([len(i.counts) == 3 for i in INSTRUCTIONS])
_COUNT_BASE = _COUNTS[:, 0].astype(np.int32)
_COUNT_STEP = np.array([len(i.counts) > 1 for i in INSTRUCTIONS], dtype=np.int32)


def _accepting(top: np.ndarray, n: int) -> np.ndarray:
    """For a draw below ``n`` starting at each position (``top``: the draw's top bits of each
    word, plus one sentinel entry): the position it accepts at. Length L + 2, where L means
    "beyond the stream"."""
    size = len(top) - 1
    accept = top[:size] < n
    positions = np.empty(int(np.count_nonzero(accept)) + 1, dtype=np.int32)
    positions[:-1] = np.flatnonzero(accept)
    positions[-1] = size
    before = np.empty(size + 2, dtype=np.int32)  # accepted positions before each position
    before[0] = 0
    np.cumsum(accept, dtype=np.int32, out=before[1 : size + 1])
    before[size + 1] = before[size]
    return positions[before]


class OriginalStream:
    """The programs ``random.Random(seed)`` makes via :func:`draw_program`, in bulk."""

    def __init__(self, seed: int, min_len: int = 1, max_len: int = 255, block: int = 1 << 16):
        check_lengths(min_len, max_len)
        self.rng = random.Random(seed)
        self.min_len, self.max_len, self.block = min_len, max_len, block
        self.words = np.zeros(0, dtype=np.uint32)
        self.pos = 0
        self._tables()

    def _refill(self) -> None:
        fresh = self.rng.getrandbits(32 * self.block).to_bytes(4 * self.block, "little")
        self.words = np.concatenate([self.words[self.pos :], np.frombuffer(fresh, "<u4")])
        self.pos = 0
        self._tables()

    def _tables(self) -> None:
        w, size = self.words, len(self.words)
        width = self.max_len - self.min_len + 1
        top = {}  # top k bits of each word as int32, plus a sentinel entry
        for k in {1, 2, 4, 5, 9, width.bit_length()}:
            top[k] = np.zeros(size + 1, dtype=np.int32)
            np.right_shift(w, 32 - k, out=top[k][:size], casting="unsafe")
        # a byte draw (9 bits below 256), a choice of 1 (1 bit below 1) and a choice of 2
        # (2 bits below 2) all accept exactly the words whose top bit is 0
        top_bit_zero = _accepting(top[1], 1)
        # memoryviews: indexing them gives Python ints, fast, for the per-instance chase
        self._byte_next = top_bit_zero
        self._byte_top = top[9]
        self._len_next = memoryview(_accepting(top[width.bit_length()], width))
        self._len_top = memoryview(top[width.bit_length()])
        m_next = _accepting(top[5], 20)
        reg_next = _accepting(top[4], 10)
        j = m_next[:size]
        op = top[5][j] + 1
        q = j + 1
        # the draw after the mnemonic: a choice of 3 for ADD..XOR, else top-bit-zero
        jc = np.where(_CHOICE_OF_3[op], _accepting(top[2], 3)[q], top_bit_zero[q])
        loadi = op == _LOADI
        count = _COUNT_BASE[op] + _COUNT_STEP[op] * top[2][jc]
        r1 = reg_next[jc + 1]
        r2 = reg_next[r1 + 1]
        r3 = reg_next[r2 + 1]
        last = np.where(count == 0, jc, r1)
        last = np.where(count >= 2, np.where(count == 2, r2, r3), last)
        end = np.full(size + 2, size + 1, dtype=np.int32)
        end[:size] = np.where(last >= size, size + 1, last + 1)
        self._starts = (op, jc, r1, r2, r3, count, loadi)
        self._end = memoryview(end)
        self._reg_top = top[4]
        self._header_next = memoryview(self._byte_next)
        self._header_top = memoryview(self._byte_top)

    def _words_at(self, positions: np.ndarray) -> np.ndarray:
        """Instruction words (``op<<24 | a1<<16 | a2<<8 | a3``) of draws at ``positions``."""
        op, jc, r1, r2, r3, count, loadi = (a[positions] for a in self._starts)
        regs = self._reg_top
        a1 = np.where(loadi, self._byte_top[jc], np.where(count >= 1, regs[r1] + 1, 0))
        a2 = np.where(count >= 2, regs[r2] + 1, 0)
        a3 = np.where(count >= 3, regs[r3] + 1, 0)
        return (op.astype(np.uint32) << 24) | (a1 << 16) | (a2 << 8) | a3

    def _try_next(self) -> tuple[list[int], list[int]] | None:
        size, p = len(self.words), self.pos
        byte_next, byte_top = self._header_next, self._header_top
        initial = []
        for _ in range(11):
            p = byte_next[p]
            if p >= size:
                return None
            initial.append(byte_top[p])
            p += 1
        p = self._len_next[p]
        if p >= size:
            return None
        n = self.min_len + self._len_top[p]
        p += 1
        if n == 1:
            self.pos = p
            return initial, []
        end = self._end
        positions = [p] + [p := end[p] for _ in range(n - 2)]
        p = end[p]
        if p > size:  # an instruction runs past the words drawn so far
            return None
        self.pos = p
        return initial, positions

    def take(self, count: int) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
        """The next ``count`` programs: ``(initial (B, 11) uint8, words (B, 256) uint32,
        programs)``; ``programs[b]`` lists program b's instruction words as ints
        (``op<<24 | a1<<16 | a2<<8 | a3``, without the final HLT); ``words`` is zero after them."""
        initial = np.zeros((count, 11), dtype=np.uint8)
        words = np.zeros((count, NUM_WORDS), dtype=np.uint32)
        programs: list[list[int]] = []
        pending: list[list[int]] = []

        def resolve() -> None:
            lengths = np.array([len(p) for p in pending], dtype=np.intp)
            flat = self._words_at(np.fromiter(itertools.chain.from_iterable(pending), np.intp))
            first = len(programs)
            rows = np.repeat(np.arange(first, first + len(pending)), lengths)
            cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            words[rows, cols] = flat
            values = flat.tolist()
            bounds = itertools.accumulate(lengths.tolist(), initial=0)
            start = next(bounds)
            for stop in bounds:
                programs.append(values[start:stop])
                start = stop
            pending.clear()

        for b in range(count):
            while (drawn := self._try_next()) is None:
                resolve()
                self._refill()
            initial[b], positions = drawn
            pending.append(positions)
        resolve()
        return initial, words, programs

    def next_program(self) -> tuple[list[int], list[int]]:
        """``(initial, words)`` of the next program: ACC, A..J and its instruction words."""
        initial, _, programs = self.take(1)
        return initial[0].tolist(), programs[0]


def memories_of(words: np.ndarray) -> np.ndarray:
    """(B, 1024) uint8 memories of (B, 256) word ints."""
    return words.astype(">u4").view(np.uint8).reshape(len(words), MEMORY_SIZE)


_TEXT_CACHE: dict[int, str] = {}


def name_of_words(program: list[int]) -> str:
    """:func:`program_name` of a program given as word ints (without the final HLT)."""
    cache = _TEXT_CACHE
    try:
        texts = [cache[w] for w in program]
    except KeyError:
        for w in program:
            if w not in cache:
                cache[w] = disassemble_word(w.to_bytes(4, "big"))
        texts = [cache[w] for w in program]
    texts.append("HLT")
    return hashlib.md5("".join(texts).encode()).hexdigest()


# --- numpy Generator programs ---------------------------------------------------------------


def random_programs(
    rng: np.random.Generator,
    count: int,
    min_len: int = 1,
    max_len: int = 255,
    focus: tuple[str, ...] = (),
    focus_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(initial (count, 11), memories (count, 1024))`` uint8 drawn with ``rng``.

    Same distribution as the original: ACC and A..J uniform bytes; N uniform in
    min_len..max_len; N - 1 instructions, mnemonic uniform over the 20, LOADI's byte uniform,
    operand count uniform over the mnemonic's counts, registers uniform over A..J; HLT.

    With ``focus_share`` > 0 (not the original's distribution), each instruction's mnemonic is
    drawn uniformly from the mnemonics named in ``focus`` with that probability, else uniformly
    over the 20; everything else as before. With the default 0 the draws are the same as
    without the arguments.
    """
    check_lengths(min_len, max_len)
    focus_ops = focus_opcodes(focus, focus_share)
    initial = rng.integers(0, 256, (count, 11), dtype=np.uint8)
    n = rng.integers(min_len, max_len + 1, count)
    total = int(n.sum()) - count  # instructions of all programs, drawn as one flat array
    op = rng.integers(1, NUM_OPCODES, total, dtype=np.uint8)
    # one uniform draw over 6 * 10**3 * 256 values = independent uniform count choice (6 is
    # lcm(1, 2, 3)), three registers and an immediate
    packed = rng.integers(0, 6 * 1000 * 256, total, dtype=np.int32)
    imm = (packed & 255).astype(np.uint8)
    packed >>= 8
    choice = (packed // 1000).astype(np.uint8)
    regs = np.stack([packed % 10, packed // 10 % 10, packed // 100 % 10], axis=-1)
    regs = regs.astype(np.uint8) + 1
    if focus_share > 0:
        chosen = rng.random(total) < focus_share
        op[chosen] = rng.choice(focus_ops, int(chosen.sum()))
    n_counts = np.array([max(len(i.counts), 1) for i in INSTRUCTIONS], dtype=np.uint8)
    count_of = _COUNTS.astype(np.uint8)[op, choice % n_counts[op]]
    words = np.zeros((total, 4), dtype=np.uint8)
    words[:, 0] = op
    words[:, 1:] = np.where(np.arange(3) < count_of[:, None], regs, 0)
    loadi = op == _LOADI
    words[loadi, 1] = imm[loadi]
    rows = np.repeat(np.arange(count), n - 1)
    columns = np.arange(total) - np.repeat(np.cumsum(n - 1) - (n - 1), n - 1)
    memories = np.zeros((count, NUM_WORDS, 4), dtype=np.uint8)
    memories[rows, columns] = words
    return initial, memories.reshape(count, MEMORY_SIZE)


def focus_opcodes(focus: tuple[str, ...], focus_share: float) -> np.ndarray:
    """The opcodes of the mnemonics in ``focus``; ParameterError for an unknown or repeated
    name (HLT is never drawn), a share outside 0..1, or a positive share with no mnemonic."""
    if not 0.0 <= focus_share <= 1.0:
        raise ParameterError(f"focus share must be within 0..1, not {focus_share}")
    known = {i.mnemonic: i.opcode for i in MNEMONIC_CHOICES}
    for name in focus:
        if name not in known:
            raise ParameterError(f"focus: unknown mnemonic {name!r} (known: {', '.join(known)})")
    if len(set(focus)) != len(focus):
        raise ParameterError(f"focus names a mnemonic twice: {','.join(focus)}")
    if focus_share > 0 and not focus:
        raise ParameterError("a focus share above 0 needs at least one focus mnemonic")
    return np.array([known[name] for name in focus], dtype=np.uint8)


def random_instances(
    seed: int,
    count: int,
    min_len: int = 1,
    max_len: int = 255,
    focus: tuple[str, ...] = (),
    focus_share: float = 0.0,
) -> list[bytes]:
    """``count`` full instance files (SPEC 1.4) of random programs, deterministic in ``seed``.

    The original's distribution (see :func:`random_programs`; ``focus`` and ``focus_share``
    draw some mnemonics more often), drawn with ``numpy.random.default_rng(seed)`` and run by
    the batch interpreter, 4096 at a time.
    """
    rng = np.random.default_rng(seed)
    out: list[bytes] = []
    while len(out) < count:
        initial, memories = random_programs(
            rng, min(4096, count - len(out)), min_len, max_len, focus, focus_share
        )
        states, counts = run_batch(memories, initial, check=False)
        out.extend(instance_bytes(memories, states, counts))
    return out
