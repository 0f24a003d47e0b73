"""Toy CPU compatible with the bGPT "CPU states" dataset (numpy only, no torch).

Modules, in reading order:

- ``isa``: the instruction table (opcodes, operand forms, semantics, the 43 variants).
- ``state``: the 16-byte ``State``.
- ``interpreter``: the reference interpreter (``run``), strict or lenient.
- ``assembler``: assembly text <-> program bytes.
- ``instance``: instance files (memory + states), validation against the emulator.
- ``batch``: the numpy lock-step interpreter, byte-identical to ``run``.
- ``generate``: random programs: the original's random stream, and a vectorised generator.
- ``program``: loading a program file and tracing it (``bytesim run``).
- ``tarshard``, ``dataset``: the bgpt and shards dataset layouts, and replaying them.
- ``errors``: the exceptions raised on bad input.
- ``files``: writing a file so that no reader sees half of it (used by every package).
"""
