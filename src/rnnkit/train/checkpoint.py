"""Checkpoints: a directory written atomically and verified on load.

On disk (``FORMAT_VERSION = 1``)::

    <dir>/model.safetensors   weights (CPU, contiguous); tied tensors stored once, see below
          config.json         the caller's dict: everything to rebuild model + vectorizer
          vocab.json          the caller's dict (absent when vocab=None)
          trainer_state.pt    optional: optimizer state, step, epoch, RNG, data position, ...
                              (torch.save; loaded with weights_only=True, never unpickled freely)
          <extra files>       optional caller files (e.g. a sample, a report)
          manifest.json       {"format", "format_version", "rnnkit_version",
                               "files": {name: {"sha256", "bytes"}}} for every other file
          manifest.sha256     "<sha256 of manifest.json>  manifest.json" (not in the manifest):
                              the one hash to pin (``load_checkpoint(expect_sha256=...)``)

Atomic replace: everything is written and fsynced in a sibling ``.<name>.tmp-<pid>-<rand>``;
then an existing ``<name>`` is renamed to ``.<name>.old-<pid>-<rand>``, the new one is renamed
to ``<name>`` and the old one deleted. A crash leaves the old or the new complete checkpoint.
In the one window between the two renames ``<name>`` is missing: ``load_checkpoint`` then
reads the ``.<name>.old-*`` sibling, and the next save deletes it. ``.tmp-*`` leftovers of a
crashed save are incomplete and safe to delete.

Tied weights (tensors sharing storage, e.g. embedding and output layer) are stored once: the
duplicate names are recorded in the safetensors metadata key ``rnnkit_aliases`` and on load
point to the same tensor again. Other overlapping views are cloned.

Usage::

    save_checkpoint(out / "last", model.state_dict(), config, vocab, trainer_state)
    ckpt = load_checkpoint(out / "last")          # CheckpointError if altered or incomplete
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import random
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from rnnkit import __version__
from rnnkit.errors import CheckpointError, RnnkitError, invalid
from rnnkit.validation import parse_json, path_problem, show_path

FORMAT_VERSION = 1
MODEL_KEYS = ("task", "model", "vectorizer")  # config sections a resumed run must not change
WEIGHTS, CONFIG, VOCAB = "model.safetensors", "config.json", "vocab.json"
TRAINER, MANIFEST = "trainer_state.pt", "manifest.json"
PIN = "manifest.sha256"  # the manifest's own hash, written beside it (not listed in it)
PAUSE_ENV = "RNNKIT_SAVE_PAUSE_FOR_TESTS"  # seconds to sleep inside a save (kill-9 tests)
logger = logging.getLogger("rnnkit.checkpoint")
_EXPECTED = "expected the checkpoint written by rnnkit train"


@dataclass
class Checkpoint:
    """A loaded checkpoint; tensors are on ``map_location``."""

    state_dict: dict[str, Tensor]
    config: dict[str, Any]
    vocab: dict[str, Any] | None
    trainer_state: dict[str, Any] | None
    path: Path
    extra_files: list[str] = field(default_factory=list)  # names; read them from ``path``


def save_checkpoint(
    directory: str | Path,
    state_dict: dict[str, Tensor],
    config: dict[str, Any],
    vocab: dict[str, Any] | None,
    trainer_state: dict[str, Any] | None = None,
    extra_files: dict[str, bytes | str] | None = None,
) -> Path:
    """Write a checkpoint to ``directory`` atomically (replacing one that is there); return it.

    The directory belongs to the checkpoint: anything else in it is gone after the next save,
    so keep run files such as ``metrics.jsonl`` beside it (``out/metrics.jsonl``,
    ``out/last/``), or pass them as ``extra_files``.

    Raises:
        InvalidArgumentError: a non-tensor in ``state_dict``, a config/vocab that is not JSON,
            a ``trainer_state`` that ``torch.load(weights_only=True)`` cannot read back (e.g.
            numpy arrays or scalars), or a bad extra file name.
        CheckpointError: ``directory`` exists but is not a checkpoint (nothing is overwritten).

    A floating-point tensor holding NaN or ±inf is an InvalidArgumentError too:
    :func:`load_checkpoint` would refuse it.
    """
    target = Path(directory)
    occupied = target.is_file() or (target.is_dir() and any(target.iterdir()))
    if occupied and not is_checkpoint(target):
        raise CheckpointError(f"{target}: exists and is not an rnnkit checkpoint; not overwriting")
    files: dict[str, bytes] = {CONFIG: json_bytes(config, "config")}
    if vocab is not None:
        files[VOCAB] = json_bytes(vocab, "vocab")
    for name, data in (extra_files or {}).items():
        reserved = name in (WEIGHTS, CONFIG, VOCAB, TRAINER, MANIFEST, PIN)
        if reserved or Path(name).name != name or name.startswith("."):
            raise invalid("extra_files", name, "a plain file name not used by the checkpoint")
        files[name] = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tensors, aliases = _prepare_tensors(state_dict)

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    old = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        if trainer_state is not None:
            with (tmp / TRAINER).open("wb") as f:
                torch.save(trainer_state, f)
            _fsync(tmp / TRAINER)
            try:  # refuse now what load_checkpoint could not read back (mmap: no copy)
                torch.load(tmp / TRAINER, map_location="cpu", weights_only=True, mmap=True)
            except pickle.UnpicklingError as exc:
                expected = "tensors, numbers, str, None, lists, tuples, dicts (weights_only)"
                raise invalid("trainer_state", str(exc).splitlines()[0], expected) from exc
        # safetensors writes its metadata map in a per-process order: with one key the file's
        # bytes (and the manifest's SHA-256) repeat from run to run; aliases only when tied
        metadata = {"format": "pt"} | ({"rnnkit_aliases": json.dumps(aliases)} if aliases else {})
        try:
            safetensors.torch.save_file(tensors, tmp / WEIGHTS, metadata=metadata)
        except safetensors.SafetensorError as exc:  # its I/O errors (a full disk) are not OSError
            raise CheckpointError(f"{tmp / WEIGHTS}: could not write the weights ({exc})") from exc
        _fsync(tmp / WEIGHTS)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
            _fsync(tmp / name)
        manifest = {
            "format": "rnnkit-checkpoint",
            "format_version": FORMAT_VERSION,
            "rnnkit_version": __version__,
            "files": {
                p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
                for p in sorted(tmp.iterdir())
            },
        }
        (tmp / MANIFEST).write_bytes(json_bytes(manifest, "manifest"))
        _fsync(tmp / MANIFEST)
        digest = _sha256(tmp / MANIFEST)
        (tmp / PIN).write_text(f"{digest}  {MANIFEST}\n")  # `sha256sum -c manifest.sha256`
        _fsync(tmp / PIN)
        _fsync(tmp)
        _pause_for_tests()
        if target.exists():
            target.rename(old)
        _pause_for_tests()
        tmp.rename(target)  # the crash window is between these two renames
        _fsync(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not target.exists():  # failed between the renames: put it back
            old.rename(target)
        raise
    for stale in target.parent.glob(f".{target.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in abandoned(target.parent, ".*.tmp-*"):  # killed saves', any checkpoint's
        shutil.rmtree(stale, ignore_errors=True)
    logger.info("saved %s: manifest sha256 %s", target, digest)
    return target


def manifest_sha256(directory: str | Path) -> str:
    """The SHA-256 (hex) of a checkpoint's ``manifest.json``: pin it to detect tampering.

    The manifest's hashes detect corruption of the other files; this one hash, kept apart
    from the checkpoint (printed at save, ``manifest.sha256``), covers the manifest too.
    """
    path = resolve_checkpoint(Path(directory)) / MANIFEST
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; {_EXPECTED}")
    return _sha256(path)


def check_sha256(name: str, value: str | None) -> str | None:
    """``value`` lower-cased if it is 64 hex digits (None passes); else InvalidArgumentError."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value.strip()):
        raise invalid(name, value, "64 hexadecimal digits (a SHA-256)")
    return value.strip().lower()


def load_checkpoint(
    directory: str | Path,
    map_location: str | torch.device = "cpu",
    verify: bool = True,
    expect_sha256: str | None = None,
) -> Checkpoint:
    """Read a checkpoint; with ``verify`` check every file's size and SHA-256 first.

    ``expect_sha256`` pins the checkpoint: its ``manifest.json`` must have this SHA-256 (see
    :func:`manifest_sha256`), which also detects a manifest rewritten to match altered files.

    Raises:
        InvalidArgumentError: ``expect_sha256`` is not 64 hex digits.
        CheckpointError: missing directory or file, size/hash mismatch, unparsable JSON,
            a newer format, a manifest other than the pinned one, a weight tensor holding
            NaN or ±inf, or a trainer_state that holds anything but plain data.
    """
    expected = check_sha256("expect_sha256", expect_sha256)
    path = resolve_checkpoint(Path(directory))
    if expected is not None and (found := manifest_sha256(path)) != expected:
        raise CheckpointError(
            f"{path / MANIFEST}: SHA-256 {found}; expected the pinned expect_sha256={expected} "
            "(another or an altered checkpoint)"
        )
    listed = _read_manifest(path / MANIFEST)
    for name, entry in listed.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{file}: missing (listed in manifest.json); {_EXPECTED}")
        size = file.stat().st_size
        if verify and size != entry.get("bytes"):
            problem = f"{size} bytes, manifest says {entry.get('bytes')} (truncated or altered)"
        elif verify and _sha256(file) != entry.get("sha256"):
            problem = "SHA-256 mismatch (file altered or truncated)"
        else:
            continue
        raise CheckpointError(f"{file}: {problem}; {_EXPECTED}")
    device = str(map_location)
    try:
        state_dict = safetensors.torch.load_file(path / WEIGHTS, device=device)
        with safetensors.safe_open(path / WEIGHTS, framework="pt") as f:
            aliases = parse_json((f.metadata() or {}).get("rnnkit_aliases", "{}"))
        if not isinstance(aliases, dict):
            raise TypeError(f"rnnkit_aliases {aliases!r} is not a dict")
        for alias, source in aliases.items():
            state_dict[alias] = state_dict[source]
    except (safetensors.SafetensorError, OSError, ValueError, LookupError, TypeError) as exc:
        raise CheckpointError(f"{path / WEIGHTS}: unreadable ({exc!r}); {_EXPECTED}") from exc
    bad = nonfinite_tensor(state_dict)
    if bad is not None:
        raise CheckpointError(
            f"{path / WEIGHTS}: tensor {bad!r} holds NaN or infinite values; expected finite "
            "weights (the checkpoint of a run whose training diverged, or an altered one)"
        )
    trainer_state = None
    if TRAINER in listed:
        try:
            trainer_state = torch.load(path / TRAINER, map_location=device, weights_only=True)
        except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, ... all mean corrupt
            raise CheckpointError(
                f"{path / TRAINER}: not loadable with weights_only=True ({type(exc).__name__}); "
                f"{_EXPECTED}"
            ) from exc
    return Checkpoint(
        state_dict=state_dict,
        config=read_json(path / CONFIG),
        vocab=read_json(path / VOCAB) if VOCAB in listed else None,
        trainer_state=trainer_state,
        path=path,
        extra_files=sorted(set(listed) - {WEIGHTS, CONFIG, VOCAB, TRAINER}),
    )


class _NoRandomInit(TorchFunctionMode):
    """``normal_`` does nothing (a model laid out on the meta device has no values to draw).

    On the meta device ``normal_`` runs a Python decomposition whose first call imports
    ``torch._dynamo``: about 1 s of every ``rnnkit predict``, for an embedding's initialiser.
    """

    def __torch_function__(
        self, func: Callable[..., Any], types: tuple[type, ...], args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:  # fmt: skip
        kwargs = kwargs or {}
        if func is torch.nn.init.normal_ or func is Tensor.normal_:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def build_model(ckpt: Checkpoint, config_cls: type, model_cls: type, **extra: Any) -> nn.Module:
    """``model_cls(config_cls(**config["model"], **extra))`` holding the checkpoint's weights.

    A field the saved settings lack takes ``config_cls.OLDER_RUNS``' value when it has one
    (what runs saved before the field existed meant), else its default.

    The config is checked against the tensors before anything is allocated: the model is
    first laid out on the ``meta`` device, and every name, shape and dtype must match. A
    config edited to another size, a missing or unknown key, or a tensor of the wrong shape
    is a CheckpointError naming it, never a KeyError or a RuntimeError.
    """
    where = ckpt.path / CONFIG
    settings = ckpt.config.get("model")
    if not isinstance(settings, dict):
        raise CheckpointError(f"{where}: no \"model\" settings; {_EXPECTED}")
    settings = getattr(config_cls, "OLDER_RUNS", {}) | settings  # fields added since
    try:
        config = config_cls(**settings, **extra)
    except TypeError as exc:  # a missing or unknown key
        raise CheckpointError(f"{where}: model settings: {exc}; {_EXPECTED}") from None
    except RnnkitError as exc:
        raise CheckpointError(f"{where}: model settings: {exc}; {_EXPECTED}") from None
    with torch.device("meta"), _NoRandomInit():
        try:
            check_state_shapes(ckpt, model_cls(config).state_dict())
        except CheckpointError as exc:
            absent = [f.name for f in fields(config) if f.name not in settings | extra]
            note = f" ({where} lacks {absent}: their defaults were used)" if absent else ""
            raise CheckpointError(f"{exc}{note}") from None
    model = model_cls(config)
    model.load_state_dict(ckpt.state_dict)
    return model


def check_state_shapes(ckpt: Checkpoint, expected: dict[str, Tensor]) -> None:
    """CheckpointError unless the checkpoint's tensors have ``expected``'s names, shapes, dtypes."""
    got, where = ckpt.state_dict, ckpt.path / CONFIG
    missing, unknown = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or unknown:
        raise CheckpointError(
            f"{ckpt.path / WEIGHTS}: tensors missing {missing[:5]}, unexpected {unknown[:5]} for "
            f"the model of {where}; {_EXPECTED}"
        )
    for name, tensor in expected.items():
        if got[name].shape != tensor.shape or got[name].dtype != tensor.dtype:
            raise CheckpointError(
                f"{ckpt.path / WEIGHTS}: {name} has shape {tuple(got[name].shape)} "
                f"{got[name].dtype}; {where} implies shape {tuple(tensor.shape)} {tensor.dtype}; "
                f"{_EXPECTED}"
            )


@contextmanager
def checkpoint_content(path: Path) -> Iterator[None]:
    """Report a KeyError, TypeError, ValueError, ... raised while reading a loaded checkpoint's
    config or vocabulary (files that agree with the manifest, but not with each other) as a
    CheckpointError naming the checkpoint."""
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
        shown = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(f"{path}: inconsistent config or vocab ({shown}); {_EXPECTED}") from None


def read_config(directory: str | Path) -> dict[str, Any]:
    """The config.json of a checkpoint, without loading (or verifying) its weights."""
    return read_json(resolve_checkpoint(Path(directory)) / CONFIG)


def is_checkpoint(directory: str | Path) -> bool:
    """True when ``directory`` holds a ``manifest.json`` (a checkpoint, not yet verified)."""
    return (Path(directory) / MANIFEST).is_file()


def check_savable(config: dict[str, Any], vocab: dict[str, Any] | None) -> None:
    """Raise now what :func:`save_checkpoint` would raise about ``config`` or ``vocab``."""
    json_bytes(config, "config")
    if vocab is not None:
        json_bytes(vocab, "vocab")


def capture_rng_state() -> dict[str, Any]:
    """Snapshot torch (CPU, and every CUDA device), numpy's global and python's ``random``.

    Everything is a tensor, int, float, str, list or dict, so it loads with weights_only.
    Generators you create yourself (``np.random.default_rng``) are not covered.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": version,
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore generators from :func:`capture_rng_state`'s dict (CUDA only if present)."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    keys = n["keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"].tolist()), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]][: torch.cuda.device_count()]
        for device, s in enumerate(cuda):
            torch.cuda.set_rng_state(s, device)


def nonfinite_tensor(state_dict: dict[str, Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or ±inf, or None.

    One ``isfinite().all()`` per tensor and a single device synchronisation: a few
    milliseconds for millions of weights.
    """
    floats = [(name, t) for name, t in state_dict.items() if t.is_floating_point()]
    if not floats:
        return None
    finite = torch.stack([torch.isfinite(t).all() for _, t in floats])
    if bool(finite.all()):
        return None
    return floats[int((~finite).nonzero()[0])][0]


def _prepare_tensors(state_dict: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """CPU, contiguous, unshared copies for safetensors; plus ``{alias: stored name}``."""
    tensors: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    seen_views: dict[tuple, str] = {}
    seen_storage: set[int] = set()
    for name, t in state_dict.items():
        if not isinstance(t, Tensor):
            raise invalid(f"state_dict[{name!r}]", type(t).__name__, "a torch.Tensor")
        view = (t.device, t.data_ptr(), t.dtype, t.shape, t.stride())
        if view in seen_views:  # the very same tensor under two names: a tie
            aliases[name] = seen_views[view]
            continue
        seen_views[view] = name
        cpu = t.detach().to("cpu").contiguous()
        if cpu.untyped_storage().data_ptr() in seen_storage:
            cpu = cpu.clone()  # another view into a storage already stored: keep a copy
        seen_storage.add(cpu.untyped_storage().data_ptr())
        tensors[name] = cpu
    bad = nonfinite_tensor(tensors)
    if bad is not None:
        raise invalid(f"state_dict[{bad!r}]", "a tensor holding NaN or inf", "finite values")
    return tensors, aliases


def resolve_checkpoint(path: Path) -> Path:
    """``path``, or its ``.<name>.old-*`` sibling left by a save interrupted mid-swap."""
    problem = path_problem(path)
    if problem is None and path.is_dir():
        return path
    if problem in (None, "does not exist"):
        olds = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
        if olds and is_checkpoint(olds[-1]):
            return olds[-1]
        problem = "no such checkpoint directory"
    raise CheckpointError(f"{show_path(path)}: {problem}; {_EXPECTED}")


def _read_manifest(file: Path) -> dict[str, dict[str, Any]]:
    """The ``files`` table of a manifest, after checking its format and version."""
    manifest = read_json(file)
    listed, version = manifest.get("files"), manifest.get("format_version")
    if manifest.get("format") != "rnnkit-checkpoint" or not isinstance(listed, dict):
        raise CheckpointError(f"{file}: not an rnnkit manifest; {_EXPECTED}")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{file}: format_version={version!r}; expected an int <= {FORMAT_VERSION} "
            f"(written by rnnkit {manifest.get('rnnkit_version')}, this is {__version__})"
        )
    bad = [n for n, e in listed.items() if not isinstance(e, dict) or Path(n).name != n]
    missing = [n for n in (WEIGHTS, CONFIG) if n not in listed]
    if bad or missing:
        raise CheckpointError(f"{file}: bad entries {bad} or missing {missing}; {_EXPECTED}")
    return listed


def read_json(file: Path) -> dict[str, Any]:
    """The JSON object in ``file``; CheckpointError naming it when missing, unreadable, not
    JSON (nesting too deep to parse included) or not an object."""
    try:
        value = parse_json(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(f"{file}: missing; {_EXPECTED}") from exc
    except (ValueError, OSError) as exc:
        raise CheckpointError(f"{file}: not valid JSON ({exc}); {_EXPECTED}") from exc
    if not isinstance(value, dict):
        raise CheckpointError(f"{file}: holds a {type(value).__name__}; expected a JSON object")
    return value


def json_bytes(value: Any, name: str) -> bytes:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise invalid(name, value, f"a JSON-serialisable dict without NaN/inf ({exc})") from exc
    return (text + "\n").encode("utf-8")


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    """Flush a file (or, on POSIX, a directory entry list) to disk."""
    if path.is_dir() and os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY if path.is_dir() else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pause_for_tests() -> None:
    """Sleep ``$RNNKIT_SAVE_PAUSE_FOR_TESTS`` seconds, so a test's kill lands inside a save."""
    pause = os.environ.get(PAUSE_ENV)
    if pause:
        time.sleep(float(pause))


def abandoned(directory: Path, pattern: str) -> list[Path]:
    """The files or directories in ``directory`` matching the glob ``pattern`` whose name's
    ``.tmp-<pid>`` names a process that no longer runs, or this one: leftovers of a killed save
    or export, which the next one may delete."""
    return [path for path in directory.glob(pattern) if not _pid_alive(path.name)]


def _pid_alive(name: str) -> bool:
    """Whether the process that named a ``.tmp-<pid>`` file or directory still runs (not ours)."""
    found = re.match(r".*\.tmp-(\d+)(?:[-.]|$)", name)  # the last .tmp-, as the names end
    if found is None or int(found[1]) == os.getpid():
        return False
    try:
        os.kill(int(found[1]), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but is not ours to signal
        return True
    return True
