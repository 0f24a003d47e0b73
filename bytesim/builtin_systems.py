"""Two built-in systems unlike the CPU: an elementary cellular automaton and Conway's Life.

`rule110` (`elementary_ca` with rule 110): 128 cells in a ring (wrap-around boundary: cell 0's
left neighbour is cell 127 and cell 127's right neighbour is cell 0). A state is the row, one
bit per cell, cell i in bit 7 - i % 8 of byte i // 8 (most significant bit first: written in
hex, the cells read left to right), 16 bytes = one patch. A step gives every cell the bit
`(l << 2) | (c << 1) | r` of the rule number (Wolfram's numbering), l, c, r being the cell's left
neighbour, itself and its right neighbour. Input: a random row (each cell alive with
probability `density`) and a number of steps uniform in `min_steps..max_steps`. Context: one
patch, the rule number, the number of steps, 14 zero bytes. Fields: four quarters of the row.

`life`: Conway's Game of Life (B3/S23) on a 16 x 16 torus. A state is 256 bits, row-major,
cell (r, c) in bit 7 - c % 8 of byte 2 r + c // 8: 32 bytes = two patches, rows 0-7 in the
first. A dead cell with exactly 3 live neighbours (of the 8 around it, wrapping at the edges)
comes alive; a live cell with 2 or 3 stays alive; every other cell is dead. Input: a random grid
(density) and a number of steps. Context: one patch, `B3/S23`, the number of steps, 9 zero
bytes. Fields: rows 0-3, 4-7, 8-11, 12-15.
"""

from __future__ import annotations

import numpy as np

from bytesim.systems import System, SystemDefinitionError

# ----------------------------------------------------------------------------- rule 110


def eca_step(cells: np.ndarray, rule: int) -> np.ndarray:
    """One step of an elementary cellular automaton on a ring: (n,) 0/1 -> (n,) 0/1."""
    left, right = np.roll(cells, 1), np.roll(cells, -1)
    pattern = (left << 2) | (cells << 1) | right
    return ((rule >> pattern) & 1).astype(np.uint8)


def elementary_ca(
    rule: int = 110,
    cells: int = 128,
    min_steps: int = 1,
    max_steps: int = 32,
    density: float = 0.5,
) -> System:
    """An elementary cellular automaton on a ring of `cells` (a multiple of 128) cells."""
    name = f"rule{rule}"
    if not 0 <= rule <= 255:
        raise SystemDefinitionError(f"system {name}: rule must be 0..255")
    if cells <= 0 or cells % 128:
        raise SystemDefinitionError(f"system {name}: cells must be a positive multiple of 128")
    _check_steps(name, min_steps, max_steps)
    _check_density(name, density)

    def draw(rng: np.random.Generator) -> tuple[bytes, int]:
        row = (rng.random(cells) < density).astype(np.uint8)
        return np.packbits(row).tobytes(), int(rng.integers(min_steps, max_steps + 1))

    def trace(value: tuple[bytes, int]) -> tuple[bytes, list[bytes]]:
        row, steps = value
        state = np.unpackbits(np.frombuffer(row, np.uint8))
        states = [np.packbits(state).tobytes()]
        for _ in range(steps):
            state = eca_step(state, rule)
            states.append(np.packbits(state).tobytes())
        return bytes([rule, steps]) + bytes(14), states

    size = cells // 8
    quarter = size // 4
    fields = {
        f"cells {q * cells // 4}-{(q + 1) * cells // 4 - 1}": slice(q * quarter, (q + 1) * quarter)
        for q in range(4)
    }
    return System(name, size, draw, trace, fields, max_states=max_steps)


def rule110(min_steps: int = 1, max_steps: int = 32, density: float = 0.5) -> System:
    """Rule 110 on 128 cells: one 16-byte patch per state."""
    return elementary_ca(110, 128, min_steps, max_steps, density)


# ----------------------------------------------------------------------------- life

SIDE = 16
LIFE_RULE = b"B3/S23"


def life_step(grid: np.ndarray) -> np.ndarray:
    """One generation of B3/S23 on a torus: (16, 16) 0/1 -> (16, 16) 0/1."""
    neighbours = sum(
        np.roll(np.roll(grid, dr, axis=0), dc, axis=1)
        for dr in (-1, 0, 1)
        for dc in (-1, 0, 1)
        if (dr, dc) != (0, 0)
    )
    return ((neighbours == 3) | ((grid == 1) & (neighbours == 2))).astype(np.uint8)


def life_grid(state: bytes) -> np.ndarray:
    """A 32-byte state -> (16, 16) 0/1 grid."""
    return np.unpackbits(np.frombuffer(state, np.uint8)).reshape(SIDE, SIDE)


def life_state(grid: np.ndarray) -> bytes:
    """A (16, 16) 0/1 grid -> its 32-byte state."""
    return np.packbits(grid.astype(np.uint8).reshape(-1)).tobytes()


def life(min_steps: int = 1, max_steps: int = 16, density: float = 0.35) -> System:
    """Conway's Life on a 16 x 16 torus: two 16-byte patches per state."""
    _check_steps("life", min_steps, max_steps)
    _check_density("life", density)

    def draw(rng: np.random.Generator) -> tuple[bytes, int]:
        grid = (rng.random((SIDE, SIDE)) < density).astype(np.uint8)
        return life_state(grid), int(rng.integers(min_steps, max_steps + 1))

    def trace(value: tuple[bytes, int]) -> tuple[bytes, list[bytes]]:
        start, steps = value
        grid = life_grid(start)
        states = [life_state(grid)]
        for _ in range(steps):
            grid = life_step(grid)
            states.append(life_state(grid))
        return LIFE_RULE + bytes([steps]) + bytes(9), states

    fields = {f"rows {4 * q}-{4 * q + 3}": slice(8 * q, 8 * q + 8) for q in range(4)}
    return System("life", 32, draw, trace, fields, max_states=max_steps)


def _check_steps(name: str, low: int, high: int) -> None:
    if not 1 <= low <= high <= 255:
        raise SystemDefinitionError(
            f"system {name}: needs 1 <= min_steps <= max_steps <= 255, got {low}..{high}"
        )


def _check_density(name: str, density: float) -> None:
    if not 0.0 <= density <= 1.0:
        raise SystemDefinitionError(f"system {name}: density must be 0..1, not {density}")
