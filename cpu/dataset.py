"""Writing and checking CPU-state datasets, in two layouts.

``bgpt``: ``OUT/train/NAME.bin`` and ``OUT/test/NAME.bin``, drawn from the original's random
stream (:class:`cpu.generate.OriginalStream`) and named by the md5 of the program's assembly,
so for the same seed and counts the files, names and bytes equal the original generator's,
duplicates included (a later instance overwrites an earlier one of the same name).

``shards``: ``OUT/shard-00000.tar`` ... plus ``OUT/manifest.json``. Each shard holds up to
``shard_size`` instances of one split, named ``train/INDEX.bin`` (INDEX: the instance's
number in its split, 9 digits, so names never collide); unpacked, the shards give the bgpt
folder layout. Shard ``k`` of a split is drawn with ``numpy.random.default_rng(SeedSequence([seed,
split, k]))`` (split 0 = train, 1 = test): its bytes do not depend on ``--workers`` or on
which machine makes it. Finished shards are kept and skipped; a shard is written to a
temporary file and renamed, so an interrupted run leaves no partial shard.

Worked example: ``write_shards(out, train=25000, test=3000, shard_size=10000)`` plans
``shard-00000.tar`` .. ``shard-00002.tar`` (train, 10000 + 10000 + 5000) and
``shard-00003.tar`` (test, 3000); the first member of ``shard-00003.tar`` is
``test/000000000.bin``, the last ``test/000002999.bin``.

The machinery is not the CPU's alone: :func:`make_planned` makes any planned shards (skipping
finished ones, in worker processes, one machine's slice), :func:`claim_manifest` keeps two
datasets out of one folder, :func:`write_tar_shard` and :func:`write_file_block` write a shard
or a block of bgpt files. ``bytesim.system_task`` writes the datasets of any system with them
(``bytesim gen-system-dataset``).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cpu.assembler import disassemble
from cpu.batch import instance_bytes, result_table, run_batch, valid_programs
from cpu.errors import CpuError
from cpu.generate import (
    OriginalStream,
    check_lengths,
    memories_of,
    name_of_words,
    program_name,
    random_programs,
)
from cpu.instance import kind_of, validate_instance
from cpu.isa import MEMORY_SIZE
from cpu.state import STATE_SIZE
from cpu.tarshard import tar_parts
from cpu.workers import map_in_processes

SPLITS = ("train", "test")
MANIFEST = "manifest.json"
BGPT_RECORD = ".bytesim-bgpt.json"  # the parameters of a bgpt folder (see _claim_bgpt)
FORMAT = "bytesim-cpu-shards/1"
BATCH = 2048
Progress = Callable[[int], None]


class DatasetError(CpuError):
    """A dataset folder that cannot be written or read as asked."""


@dataclass
class GenerateSummary:
    """What a generation run did."""

    layout: str
    out: str
    instances: int = 0  # instances drawn (and run) in this call
    files: int = 0  # bgpt: distinct files written; shards: shard files written
    skipped: int = 0  # shards already present and kept
    overwritten: int = 0  # bgpt: instances whose name repeated an earlier one


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Write every byte of ``parts`` (scatter-gather, at most 1024 pieces per call)."""
    for start in range(0, len(parts), 1024):
        chunk = parts[start : start + 1024]
        done = os.writev(fd, chunk)
        rest = b"".join(chunk)[done:] if done < sum(len(p) for p in chunk) else b""
        while rest:
            rest = rest[os.write(fd, rest) :]


def _tmp_path(folder: Path, pid: int) -> Path:
    """The temporary file process ``pid`` writes a file of ``folder`` through."""
    return Path(folder) / f".bytesim-tmp-{pid}"


def _write_atomic(path: Path, data: bytes | list[bytes]) -> None:
    """Write ``data`` (bytes or a list of pieces) to ``path`` through a temporary file in the
    same folder, renamed into place when complete."""
    tmp = _tmp_path(path.parent, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, [data] if isinstance(data, bytes) else data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_counts(train: int, test: int) -> None:
    if train < 0 or test < 0:
        raise DatasetError(f"instance counts must be >= 0, got train {train}, test {test}")


# --- bgpt layout ----------------------------------------------------------------------------


def _write_files(folder: Path, names: list[str], blobs: list[bytes], ext: str = "bin") -> None:
    """Write small files in place; a file whose write fails or is interrupted is removed.

    Unlike :func:`_write_atomic` there is no temporary file and rename: on ext4 here that cost
    140 us per file against 41 us for a plain create, and file creation dominates the bgpt
    layout (docs/cpu.md). Only a killed process can leave a partial file; check-cpu-dataset
    reports it.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for name, blob in zip(names, blobs, strict=True):
        path = folder / f"{name}.{ext}"
        try:
            fd = os.open(path, flags, 0o644)
            try:
                _write_all(fd, [blob])
            finally:
                os.close(fd)
        except BaseException:
            path.unlink(missing_ok=True)
            raise


def write_bgpt(
    out: Path,
    train: int,
    test: int,
    seed: int = 0,
    min_len: int = 1,
    max_len: int = 255,
    progress: Progress | None = None,
) -> GenerateSummary:
    """The original generator's dataset in ``out/train`` and ``out/test`` (same bytes, names).

    Files are written in drawing order, so a later duplicate overwrites an earlier one.
    """
    _check_counts(train, test)
    check_lengths(min_len, max_len)
    out = Path(out)
    lengths = {"min_instructions": min_len, "max_instructions": max_len}
    _claim_bgpt(out, {"seed": seed, "train": train, "test": test, **lengths})
    stream = OriginalStream(seed, min_len, max_len)
    summary = GenerateSummary("bgpt", str(out))
    for split, count in zip(SPLITS, (train, test), strict=True):
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        keys = []  # first 64 bits of each name, to count distinct files without a set of str
        for first in range(0, count, BATCH):
            size = min(BATCH, count - first)
            initial, words, programs = stream.take(size)
            memories = memories_of(words)
            states, counts = run_batch(memories, initial, check=False)
            names = [name_of_words(program) for program in programs]
            keys.append(np.array([int(name[:16], 16) for name in names], dtype=np.uint64))
            _write_files(folder, names, instance_bytes(memories, states, counts))
            summary.instances += size
            if progress:
                progress(size)
        files = len(np.unique(np.concatenate(keys))) if keys else 0
        summary.files += files
        summary.overwritten += count - files
    return summary


def _claim_bgpt(out: Path, parameters: dict) -> None:
    """Refuse a folder that holds another dataset; else record ``parameters`` in it.

    The record (``.bytesim-bgpt.json``, hidden, so readers of the folder skip it) lets the
    same command run again (it writes the same files) while other counts or a seed, which
    would mix two datasets in one folder, are refused.
    """
    if _holds_shards(out):
        raise DatasetError("holds a shards dataset (manifest.json); use another folder")
    record = out / BGPT_RECORD
    if record.exists():
        try:
            earlier = json.loads(record.read_text())
        except (OSError, ValueError):
            earlier = None
        if earlier != parameters:
            shown = ", ".join(f"{k} {v}" for k, v in (earlier or {}).items()) or "unreadable"
            raise DatasetError(
                f"holds a bgpt dataset with other parameters ({shown}); use another folder"
            )
        return
    if any(any((out / split).glob("*.bin")) for split in SPLITS):
        raise DatasetError("holds bgpt files of an earlier run; use another folder")
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(parameters) + "\n")


def _holds_shards(out: Path) -> bool:
    return (out / MANIFEST).exists() or any(out.glob("shard-*.tar"))


# --- shards layout --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """One planned shard: ``count`` instances of ``split`` numbered from ``first``."""

    index: int  # global shard number
    split: str
    number: int  # shard number within its split (part of its seed)
    first: int  # index of its first instance within the split
    count: int

    @property
    def file(self) -> str:
        return f"shard-{self.index:05d}.tar"


def plan_shards(train: int, test: int, shard_size: int) -> list[Shard]:
    """The shards of a dataset: train shards first, then test shards."""
    if shard_size < 1:
        raise DatasetError(f"shard size must be >= 1, got {shard_size}")
    shards: list[Shard] = []
    for split, count in zip(SPLITS, (train, test), strict=True):
        for number, first in enumerate(range(0, count, shard_size)):
            shards.append(Shard(len(shards), split, number, first, min(shard_size, count - first)))
    return shards


def shard_instances(
    shard: Shard, seed: int, min_len: int, max_len: int
) -> Iterator[tuple[str, bytes]]:
    """``(member name, instance bytes)`` of every instance of ``shard``, in order."""
    split_code = SPLITS.index(shard.split)
    rng = np.random.default_rng(np.random.SeedSequence([seed, split_code, shard.number]))
    for start in range(0, shard.count, BATCH):
        size = min(BATCH, shard.count - start)
        initial, memories = random_programs(rng, size, min_len, max_len)
        states, counts = run_batch(memories, initial, check=False)
        for b, blob in enumerate(instance_bytes(memories, states, counts)):
            yield f"{shard.split}/{shard.first + start + b:09d}.bin", blob


def make_shard(out: Path, shard: Shard, seed: int, min_len: int, max_len: int) -> int:
    """Write one shard file (atomically); returns its instance count."""
    return write_tar_shard(out, shard, shard_instances(shard, seed, min_len, max_len))


def write_tar_shard(out: Path, shard: Shard, items: Iterable[tuple[str, bytes]]) -> int:
    """Write the ``(member name, bytes)`` items of ``shard`` as its tar file, atomically;
    returns its instance count."""
    names, blobs = zip(*items, strict=True)
    _write_atomic(Path(out) / shard.file, tar_parts(list(names), list(blobs)))
    return shard.count


def write_file_block(out: Path, shard: Shard, items: Iterable[tuple[str, bytes]], ext: str) -> int:
    """Write the ``(stem, bytes)`` items of ``shard`` as files ``out/SPLIT/STEM.EXT`` (a bgpt
    layout made in planned blocks), then the block's marker (:func:`block_done`); returns its
    instance count. A block interrupted before its marker is made again whole."""
    folder = Path(out) / shard.split
    folder.mkdir(parents=True, exist_ok=True)
    stems, blobs = zip(*items, strict=True)
    _write_files(folder, list(stems), list(blobs), ext)
    _write_atomic(_block_marker(out, shard), b"")
    return shard.count


def block_done(out: Path, shard: Shard) -> bool:
    """Whether :func:`write_file_block` finished ``shard`` (its hidden marker is there)."""
    return _block_marker(out, shard).exists()


def _block_marker(out: Path, shard: Shard) -> Path:
    return Path(out) / f".bytesim-block-{shard.index:05d}"


def _manifest(train, test, seed, min_len, max_len, shard_size, shards) -> dict:
    return {
        "format": FORMAT,
        "seed": seed,
        "train": train,
        "test": test,
        "min_instructions": min_len,
        "max_instructions": max_len,
        "shard_size": shard_size,
        "shards": [{"file": s.file, **asdict(s)} for s in shards],
    }


def write_shards(
    out: Path,
    train: int,
    test: int,
    seed: int = 0,
    min_len: int = 1,
    max_len: int = 255,
    shard_size: int = 10000,
    workers: int = 1,
    num_shards: int = 1,
    shard_index: int = 0,
    progress: Progress | None = None,
) -> GenerateSummary:
    """Write (or finish) the shards of ``out`` with global index ``% num_shards == shard_index``.

    Every machine of a multi-machine run writes the same ``manifest.json``; an existing
    manifest with other parameters is an error rather than a silent mix of two datasets.
    """
    _check_counts(train, test)
    check_lengths(min_len, max_len)
    check_slice(num_shards, shard_index)
    out = Path(out)
    claim_folder(out)
    shards = plan_shards(train, test, shard_size)
    claim_manifest(out, _manifest(train, test, seed, min_len, max_len, shard_size, shards))
    if workers > 1:
        result_table()  # built once here; forked workers inherit it

    def make(shard: Shard) -> int:
        return make_shard(out, shard, seed, min_len, max_len)

    def done(shard: Shard) -> bool:
        return (out / shard.file).exists()

    mine = shards[shard_index::num_shards]
    return make_planned(out, "shards", mine, make, done, workers, progress)


def check_slice(num_shards: int, shard_index: int) -> None:
    """Raise DatasetError unless ``0 <= shard_index < num_shards``."""
    if not 0 <= shard_index < num_shards:
        raise DatasetError(f"shard index {shard_index} is not in 0..{num_shards - 1}")


def claim_folder(out: Path) -> None:
    """Create ``out`` for a shards dataset; refuse a folder that holds a bgpt one."""
    if any((out / split).is_dir() for split in SPLITS):
        raise DatasetError("holds a bgpt dataset (train/, test/); use another folder")
    out.mkdir(parents=True, exist_ok=True)


def claim_manifest(out: Path, manifest: dict) -> None:
    """Write ``out/manifest.json``, or check that the one there says the same (its ``format``
    names the kind of dataset): a folder never mixes two datasets."""
    manifest_path = out / MANIFEST
    if manifest_path.exists():
        if _read_manifest(manifest_path, manifest["format"]) != manifest:
            raise DatasetError(
                f"{MANIFEST} describes a dataset with other parameters; use another folder"
            )
    else:
        _write_atomic(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode())


def make_planned(
    out: Path,
    layout: str,
    shards: list[Shard],
    make: Callable[[Shard], int],
    done: Callable[[Shard], bool],
    workers: int = 1,
    progress: Progress | None = None,
) -> GenerateSummary:
    """Make every shard of ``shards`` that is not ``done`` with ``make`` (which writes it and
    returns its instance count), in ``workers`` forked processes when more than 1; finished
    shards are skipped, so the same call resumes an interrupted run. Any dataset whose shards
    are planned with :func:`plan_shards` (the CPU's, bytesim's system datasets) is made so."""
    summary = GenerateSummary(layout, str(out))
    todo = []
    for shard in shards:
        if done(shard):
            summary.skipped += 1
            if progress:
                progress(shard.count)
        else:
            todo.append(shard)
    if workers <= 1:
        for shard in todo:
            make(shard)
            summary.files += 1
            summary.instances += shard.count
            if progress:
                progress(shard.count)
        return summary
    made = map_in_processes(
        make,
        todo,
        workers,
        error=_shard_error,
        cleanup=lambda pid: _tmp_path(out, pid).unlink(missing_ok=True),
    )
    try:
        for _, count in made:
            summary.files += 1
            summary.instances += count
            if progress:
                progress(count)
    finally:
        made.close()  # stops the workers now if anything above failed (cpu.workers)
    return summary


def _shard_error(shard: Shard, err: Exception) -> DatasetError:
    reason = err.strerror if isinstance(err, OSError) and err.strerror else err
    return DatasetError(f"{shard.file}: {reason}")


def _read_manifest(path: Path, kind: str = FORMAT) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path.name}: not a readable manifest ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != kind:
        raise DatasetError(f"{path.name}: not a {kind} manifest")
    return manifest


# --- checking -------------------------------------------------------------------------------


@dataclass
class CheckReport:
    """Result of replaying a dataset: ``problems`` lists one line per differing byte."""

    layout: str
    instances: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def detect_layout(path: Path) -> str:
    """``"shards"`` (a manifest or shard-*.tar files, or one .tar file) or ``"bgpt"``."""
    path = Path(path)
    if path.is_file() and path.suffix == ".tar":
        return "shards"
    if path.exists() and not path.is_dir():
        raise DatasetError("is a file, not a dataset folder or a shard (.tar)")
    if not path.is_dir():
        raise DatasetError("no such dataset folder")
    if _holds_shards(path):
        return "shards"
    if any((path / split).is_dir() for split in SPLITS):
        return "bgpt"
    raise DatasetError("neither a bgpt layout (train/, test/) nor shards (manifest.json)")


def _iter_bgpt(path: Path) -> Iterator[tuple[str, str, bytes]]:
    for split in SPLITS:
        folder = path / split
        if folder.is_dir():
            for file in sorted(folder.glob("*.bin")):
                yield f"{split}/{file.name}", file.stem, file.read_bytes()


def _iter_tar(file: Path, problems: list[str]) -> Iterator[tuple[str, str, bytes]]:
    try:
        with tarfile.open(file, "r:") as tar:  # shards are plain, uncompressed tar
            for member in tar:
                if member.isfile():
                    data = tar.extractfile(member).read()
                    yield f"{file.name}:{member.name}", None, data
    except (tarfile.TarError, OSError) as err:
        problems.append(f"{file.name}: unreadable tar ({err})")


def _iter_shards(path: Path, problems: list[str]) -> Iterator[tuple[str, str, bytes]]:
    if path.is_file():
        yield from _iter_tar(path, problems)
        return
    files = sorted(path.glob("shard-*.tar"))
    if (path / MANIFEST).exists():
        manifest = _read_manifest(path / MANIFEST)
        planned = {s["file"]: s["count"] for s in manifest["shards"]}
        for name in sorted(set(planned) - {f.name for f in files}):
            problems.append(f"{name}: missing shard (listed in {MANIFEST})")
        for file in files:
            count = 0
            for item in _iter_tar(file, problems):
                count += 1
                yield item
            if file.name in planned and count != planned[file.name]:
                problems.append(
                    f"{file.name}: {count} instances, manifest says {planned[file.name]}"
                )
        return
    for file in files:
        yield from _iter_tar(file, problems)


def _fast_ok(items: list[tuple[str, str, bytes]], lenient: bool) -> list[bool]:
    """Which items replay to exactly their own bytes, checked with the batch interpreter."""
    candidates = []
    for i, (_, _, data) in enumerate(items):
        n = len(data)
        if n > MEMORY_SIZE and (n - MEMORY_SIZE) % STATE_SIZE == 0:
            if data[MEMORY_SIZE] == 0 and data[MEMORY_SIZE + 2 : MEMORY_SIZE + 6] == bytes(4):
                candidates.append(i)
    ok = [False] * len(items)
    if not candidates:
        return ok
    memories = np.frombuffer(b"".join(items[i][2][:MEMORY_SIZE] for i in candidates), np.uint8)
    memories = memories.reshape(len(candidates), MEMORY_SIZE)
    initial = np.array(
        [
            list(items[i][2][MEMORY_SIZE + 1 : MEMORY_SIZE + 2])
            + list(items[i][2][MEMORY_SIZE + 6 : MEMORY_SIZE + 16])
            for i in candidates
        ],
        dtype=np.uint8,
    )
    runnable = valid_programs(memories, lenient)
    if not runnable.any():
        return ok
    chosen = np.flatnonzero(runnable)
    states, counts = run_batch(memories[chosen], initial[chosen], lenient, check=False)
    for blob, c in zip(instance_bytes(memories[chosen], states, counts), chosen, strict=True):
        ok[candidates[c]] = blob == items[candidates[c]][2]
    return ok


def _slow_problems(label: str, stem: str | None, data: bytes, lenient: bool) -> list[str]:
    """Detailed report of one instance (reference interpreter)."""
    try:
        if kind_of(data) != "instance":
            return [f"{label}: {len(data)} bytes is a program, not an instance"]
        found = [f"{label}: {m}" for m in validate_instance(data, lenient)]
        if stem is not None and not found:
            found += _name_problems(label, stem, data, lenient)
        return found
    except CpuError as err:
        return [f"{label}: {err}"]


def _name_problems(label: str, stem: str, data: bytes, lenient: bool) -> list[str]:
    """A name that is not the md5 of the program (programs bytesim cannot disassemble: none)."""
    try:
        expected = program_name(disassemble(data[:MEMORY_SIZE], lenient))
    except CpuError:
        return []
    return [] if expected == stem else [f"{label}: name is not the md5 of its program ({expected})"]


def _name_of_memory(memory: bytes) -> str:
    """:func:`cpu.generate.program_name` of a memory of canonical words, fast."""
    words = np.frombuffer(memory, ">u4")
    halt = int(np.argmax((words >> 24) == 0))
    return name_of_words(words[:halt].tolist())


def check_dataset(
    path: Path, lenient: bool = False, progress: Progress | None = None
) -> CheckReport:
    """Replay every instance of a dataset (either layout); report each byte that differs.

    Also reported: malformed files, programs that do not run, bgpt file names that are not the
    md5 of the program, and (shards) missing shards or counts that differ from the manifest.
    """
    path = Path(path)
    report = CheckReport(detect_layout(path))
    if report.layout == "bgpt":
        items = _iter_bgpt(path)
    else:
        items = _iter_shards(path, report.problems)
    batch: list[tuple[str, str, bytes]] = []

    def flush() -> None:
        for item, good in zip(batch, _fast_ok(batch, lenient), strict=True):
            label, stem, data = item
            if not good:
                report.problems.extend(_slow_problems(*item, lenient))
            elif stem is not None and (lenient or _name_of_memory(data[:MEMORY_SIZE]) != stem):
                report.problems.extend(_name_problems(*item, lenient))
        report.instances += len(batch)
        if progress:
            progress(len(batch))
        batch.clear()

    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            flush()
    flush()
    return report


def count_instances(path: Path) -> int | None:
    """Instances a check of ``path`` will replay, when known without reading them."""
    path = Path(path)
    if detect_layout(path) == "bgpt":
        return sum(1 for split in SPLITS for _ in (path / split).glob("*.bin"))
    if path.is_dir() and (path / MANIFEST).exists():
        present = {f.name for f in path.glob("shard-*.tar")}
        return sum(
            s["count"] for s in _read_manifest(path / MANIFEST)["shards"] if s["file"] in present
        )
    return None


def read_instances(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(label, bytes)`` of every instance of a dataset folder or shard, in order."""
    path = Path(path)
    problems: list[str] = []
    if detect_layout(path) == "bgpt":
        items = _iter_bgpt(path)
    else:
        items = _iter_shards(path, problems)
    for label, _, data in items:
        yield label, data
    if problems:
        raise DatasetError(problems[0])


def tar_member_bytes(data: bytes) -> dict[str, bytes]:
    """Members of an in-memory tar archive (for tests and tools)."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
