"""The built-in systems' references: rule 110 (and every elementary rule) and Conway's Life,
checked cell by cell against the rules as written, and against known patterns."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytesim.builtin_systems import (
    elementary_ca,
    life,
    life_grid,
    life_state,
    rule110,
)
from bytesim.systems import random_traces, reference

rows = st.binary(min_size=16, max_size=16)
grids = st.binary(min_size=32, max_size=32)


def cell(row: bytes, i: int) -> int:
    """Cell i of a packed row: bit 7 - i % 8 of byte i // 8."""
    return (row[i // 8] >> (7 - i % 8)) & 1


def eca_by_hand(row: bytes, rule: int) -> list[int]:
    """The next row, cell by cell, on a ring of 128: bit (l << 2 | c << 1 | r) of the rule."""
    n = 8 * len(row)
    out = []
    for i in range(n):
        left, centre, right = cell(row, (i - 1) % n), cell(row, i), cell(row, (i + 1) % n)
        out.append((rule >> (left << 2 | centre << 1 | right)) & 1)
    return out


def cells(row: bytes) -> list[int]:
    return [cell(row, i) for i in range(8 * len(row))]


# --- elementary cellular automata


@settings(max_examples=60, deadline=None)
@given(rows, st.integers(0, 255))
def test_one_step_matches_the_rule_cell_by_cell(row, rule):
    _, states = elementary_ca(rule).trace((row, 1))
    assert cells(states[0]) == cells(row)
    assert cells(states[1]) == eca_by_hand(row, rule)


@settings(max_examples=30, deadline=None)
@given(rows, st.integers(1, 12))
def test_every_rule_110_state_follows_from_the_one_before(row, steps):
    context, states = rule110().trace((row, steps))
    assert context == bytes([110, steps]) + bytes(14)
    assert len(states) == steps + 1 and all(len(s) == 16 for s in states)
    for before, after in zip(states[:-1], states[1:], strict=True):
        assert cells(after) == eca_by_hand(before, 110)


@settings(max_examples=30, deadline=None)
@given(rows)
def test_rule_204_is_the_identity_and_170_and_240_rotate_the_ring(row):
    assert elementary_ca(204).trace((row, 1))[1][1] == row
    left = elementary_ca(170).trace((row, 1))[1][1]  # new cell i = old cell i + 1
    right = elementary_ca(240).trace((row, 1))[1][1]  # new cell i = old cell i - 1
    assert cells(left) == cells(row)[1:] + cells(row)[:1]
    assert cells(right) == cells(row)[-1:] + cells(row)[:-1]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (bytes(16), bytes(16)),  # 000 -> bit 0 of 110 = 0: nothing comes from nothing
        (b"\xff" * 16, bytes(16)),  # 111 -> bit 7 of 110 = 0: a full row dies
        (bytes(15) + b"\x01", bytes(15) + b"\x03"),  # a lone cell grows to its left
        (b"\x80" + bytes(15), b"\x80" + bytes(14) + b"\x01"),  # ... across the wrap-around
    ],
)
def test_rule_110_known_rows(row, expected):
    assert rule110().trace((row, 1))[1][1] == expected


def test_cell_0_is_the_most_significant_bit_of_byte_0():
    assert cells(b"\x80" + bytes(15))[:9] == [1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_draw_follows_its_options():
    system = rule110(min_steps=3, max_steps=5, density=0.0)
    traces = random_traces(system, 20, seed=0)
    assert {len(t.states) - 1 for t in traces} <= {3, 4, 5}
    assert all(not t.states.any() for t in traces)  # density 0: an empty row stays empty
    dense = random_traces(rule110(density=1.0, max_steps=1), 1, seed=0)[0]
    assert dense.states[0].tolist() == [255] * 16


# --- Life


def life_by_hand(grid: np.ndarray) -> np.ndarray:
    """B3/S23 on a 16 x 16 torus, counting each cell's 8 neighbours one by one."""
    out = np.zeros_like(grid)
    for r in range(16):
        for c in range(16):
            n = sum(
                int(grid[(r + dr) % 16, (c + dc) % 16])
                for dr in (-1, 0, 1)
                for dc in (-1, 0, 1)
                if (dr, dc) != (0, 0)
            )
            out[r, c] = n == 3 or (grid[r, c] == 1 and n == 2)
    return out


def grid_of(*cells_alive) -> np.ndarray:
    grid = np.zeros((16, 16), np.uint8)
    for r, c in cells_alive:
        grid[r % 16, c % 16] = 1
    return grid


@settings(max_examples=25, deadline=None)
@given(grids)
def test_one_generation_matches_the_rule_cell_by_cell(state):
    _, states = life().trace((state, 1))
    assert life_grid(states[1]).tolist() == life_by_hand(life_grid(state)).tolist()


@settings(max_examples=30, deadline=None)
@given(grids)
def test_grid_and_state_round_trip(state):
    assert life_state(life_grid(state)) == state


def test_cell_layout_row_major_most_significant_bit_first():
    state = life_state(grid_of((0, 0), (1, 8), (15, 15)))
    assert state[0] == 0x80 and state[3] == 0x80 and state[31] == 0x01
    assert sum(bin(b).count("1") for b in state) == 3


def test_block_is_still_and_blinker_has_period_2():
    block = life_state(grid_of((5, 5), (5, 6), (6, 5), (6, 6)))
    assert set(life().trace((block, 3))[1]) == {block}
    blinker = life_state(grid_of((0, 15), (0, 0), (0, 1)))  # across the wrap-around
    states = life().trace((blinker, 4))[1]
    assert states[0] == states[2] == states[4] != states[1] == states[3]
    assert life_grid(states[1]).tolist() == grid_of((15, 0), (0, 0), (1, 0)).tolist()


def test_a_glider_moves_one_cell_diagonally_every_4_generations_around_the_torus():
    glider = grid_of((0, 1), (1, 2), (2, 0), (2, 1), (2, 2))
    _, states = life(max_steps=64).trace((life_state(glider), 64))
    moved = np.roll(np.roll(glider, 1, axis=0), 1, axis=1)
    assert life_grid(states[4]).tolist() == moved.tolist()
    assert states[64] == states[0]  # 16 diagonal moves: all the way round


def test_life_context_and_two_patch_states():
    system = life(max_steps=2)
    trace = reference(system, (bytes(32), 2))
    assert trace.context == b"B3/S23\x02" + bytes(9)
    assert trace.states.shape == (3, 32) and system.patches_per_state == 2
