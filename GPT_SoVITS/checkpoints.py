"""Official GPT ``.ckpt`` and SoVITS ``.pth`` files: safe reading, writing, version detection, inspection.

Both are ``torch.save`` zip archives holding ``{"weight", "config", "info"}`` (+ ``lora_rank`` for v3/v4
LoRA SoVITS files); SoVITS files of some versions replace the leading ``PK`` with a 2-byte version marker.
Loading never executes code from the file: the unpickler resolves only the globals official files contain,
and maps ``utils.HParams`` (the SoVITS config class) to :class:`AttrDict`.

    python -m GPT_SoVITS.checkpoints inspect FILE...
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import os
import pickle
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from GPT_SoVITS.detection import (  # noqa: F401 (re-exported: the checkpoint API)
    SOVITS_EMBEDDING_KEY,
    CheckpointError,
    Detection,
    md5_prefix,
    sniff_sovits_version,
    sovits_version,
)
from GPT_SoVITS.fileio import atomic_write_bytes
from GPT_SoVITS.versions import (
    HEADER_TO_VERSION,
    MD5_PREFIX_BYTES,
    V2_SYMBOL_COUNT,
    ModelVersion,
    spec,
    symbol_version_for_rows,
)

Kind = Literal["gpt", "sovits"]

GPT_PREFIX = "model."  # official GPT files prefix every key with it (the Lightning module's attribute)
GPT_EMBEDDING_KEY = "model.ar_text_embedding.word_embeddings.weight"


class AttrDict(dict):
    """A plain dict that also allows attribute access; stands in for the official ``utils.HParams``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __setstate__(self, state: dict) -> None:  # BUILD of an unpickled HParams: its __dict__
        self.update(state)


class _OfficialHParams:
    """Pickles as the global ``utils.HParams`` with its attribute dict as state, as official files do."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, key, _OfficialHParams(value) if isinstance(value, Mapping) else value)


# (module, name) -> object the unpickler may return. Storage classes are resolved by torch itself.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("utils", "HParams"): AttrDict,
}


def _restricted_pickle_module(path: Path) -> Any:
    """A pickle module whose Unpickler refuses every global outside the allow-list, naming file and global."""

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            try:
                return _ALLOWED_GLOBALS[(module, name)]
            except KeyError:
                raise CheckpointError(path, f"refused to load: the file references {module}.{name}") from None

    class Module:
        Unpickler = RestrictedUnpickler
        load = pickle.load

    return Module


@dataclass
class Checkpoint:
    kind: Kind
    path: Path
    weight: dict[str, torch.Tensor]  # as stored (fp16); GPT keys keep the "model." prefix
    config: dict[str, Any]
    info: str
    version: ModelVersion
    symbol_version: str
    is_lora: bool = False
    lora_rank: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_parameters(self) -> int:
        return sum(t.numel() for t in self.weight.values() if t.is_floating_point())


def _read_bytes(path: Path) -> tuple[bytes, bytes]:
    """File content with ``PK`` restored, and the original 2-byte header."""
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    data = path.read_bytes()
    if len(data) < 4:
        raise CheckpointError(path, f"too short to be a checkpoint ({len(data)} bytes)")
    header = data[:2]
    if header == b"PK":
        return data, header
    if header in HEADER_TO_VERSION:
        return b"PK" + data[2:], header
    raise CheckpointError(path, f"unknown version header {header!r} (expected 'PK' or one of 00..06)")


def _unpickle(path: Path, data: bytes) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as e:
        raise CheckpointError(path, f"not a torch zip archive (truncated or corrupt: {e})") from e
    if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        raise CheckpointError(path, "zip archive without data.pkl: not a torch checkpoint")
    try:
        return torch.load(
            io.BytesIO(data), map_location="cpu", weights_only=False,
            pickle_module=_restricted_pickle_module(path),
        )  # fmt: skip
    except CheckpointError:
        raise
    except (RuntimeError, pickle.UnpicklingError, EOFError, KeyError, ValueError) as e:
        raise CheckpointError(path, f"cannot read the archive ({type(e).__name__}: {e})") from e


def _kind_of(path: Path, weight: Mapping[str, Any]) -> Kind:
    keys = list(weight)
    if any(k.startswith(GPT_PREFIX + "ar_") or k.startswith(GPT_PREFIX + "h.layers.") for k in keys):
        return "gpt"
    if any(k.startswith(("enc_p.", "dec.", "flow.", "ref_enc.", "cfm.", "quantizer.")) for k in keys):
        return "sovits"
    raise CheckpointError(
        path, "weights are neither a GPT (model.ar_*) nor a SoVITS (enc_p./dec.) state dict"
    )


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read an official GPT or SoVITS weight file safely; the kind and version are detected."""
    path = Path(path)
    data, header = _read_bytes(path)
    obj = _unpickle(path, data)
    if not isinstance(obj, Mapping):
        raise CheckpointError(path, f"top level is {type(obj).__name__}, expected a dict with 'weight'")
    weight = obj.get("weight", obj.get("state_dict"))
    if not isinstance(weight, Mapping) or not weight:
        raise CheckpointError(path, "no 'weight' state dict in the file")
    bad = [k for k, v in weight.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(path, f"weight entry {bad[0]!r} is not a tensor")
    kind = _kind_of(path, weight)
    config = obj.get("config") or {}
    if kind == "gpt":
        rows = weight[GPT_EMBEDDING_KEY].shape[0] if GPT_EMBEDDING_KEY in weight else V2_SYMBOL_COUNT
        symbol_version = "v2" if rows >= V2_SYMBOL_COUNT else "v1"
        version = ModelVersion(symbol_version)
        is_lora = False
    else:
        md5 = hashlib.md5(header + data[2:MD5_PREFIX_BYTES]).hexdigest()  # of the bytes as on disk
        version = sovits_version(header, md5, weight, config, str(obj.get("info", "")), len(data))
        emb = weight.get(SOVITS_EMBEDDING_KEY)
        symbol_version = (
            symbol_version_for_rows(emb.shape[0]) if emb is not None else spec(version).symbol_version
        )
        is_lora = HEADER_TO_VERSION.get(header, (None, False))[1] or "lora_rank" in obj
    lora_rank = obj.get("lora_rank")
    extra = {k: v for k, v in obj.items() if k not in ("weight", "state_dict", "config", "info", "lora_rank")}
    return Checkpoint(
        kind, path, dict(weight), config, str(obj.get("info", "")), version, symbol_version, is_lora,
        int(lora_rank) if lora_rank is not None else None, extra,
    )  # fmt: skip


def _expect(ckpt: Checkpoint, kind: Kind) -> Checkpoint:
    if ckpt.kind != kind:
        names = {"gpt": "GPT (.ckpt)", "sovits": "SoVITS (.pth)"}
        raise CheckpointError(
            ckpt.path, f"is a {names[ckpt.kind]} checkpoint, expected {names[kind]} weights"
        )
    return ckpt


def load_gpt(path: str | os.PathLike) -> Checkpoint:
    """Load a GPT weight file; a SoVITS file is refused with a clear error."""
    return _expect(load_checkpoint(path), "gpt")


def load_sovits(path: str | os.PathLike) -> Checkpoint:
    """Load a SoVITS weight file; a GPT file is refused with a clear error."""
    return _expect(load_checkpoint(path), "sovits")


# ---------------------------------------------------------------------------------------------------------
# Writing


class _OfficialPickler(pickle._Pickler):  # the pure-Python pickler lets us write the global by name
    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is _OfficialHParams:
            self.write(pickle.GLOBAL + b"utils\nHParams\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch = pickle._Pickler.dispatch.copy()
    dispatch[type] = save_global


class _OfficialPickleModule:
    Pickler = _OfficialPickler


def _to_plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    return value


def _serialise(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, pickle_module=_OfficialPickleModule, pickle_protocol=2)
    return buf.getvalue()


def _half(state_dict: Mapping[str, torch.Tensor]) -> collections.OrderedDict:
    return collections.OrderedDict((k, v.detach().to("cpu").half()) for k, v in state_dict.items())


def strip_gpt_prefix(weight: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's state dict of an official GPT file's ``weight``: the keys without ``model.``."""
    return {k.removeprefix(GPT_PREFIX): v for k, v in weight.items()}


def save_gpt(
    path: str | os.PathLike, state_dict: Mapping[str, torch.Tensor], config: Mapping, info: str
) -> None:
    """Write a GPT weight file as the official exporter does: fp16, ``model.`` prefix, plain dict config."""
    weight = {(k if k.startswith(GPT_PREFIX) else GPT_PREFIX + k): v for k, v in state_dict.items()}
    obj = collections.OrderedDict(weight=_half(weight), config=_to_plain(config), info=info)
    atomic_write_bytes(Path(path), _serialise(obj))


def save_sovits(
    path: str | os.PathLike,
    state_dict: Mapping[str, torch.Tensor],
    config: Mapping,
    info: str,
    version: ModelVersion | str = ModelVersion.V2,
    lora_rank: int | None = None,
) -> None:
    """Write a SoVITS weight file as ``process_ckpt.savee``: enc_q dropped, fp16, ``utils.HParams`` config.

    v1/v2 files are plain zips; v2Pro/v2ProPlus (and v3/v4 LoRA, ``lora_rank`` given) get their 2-byte header.
    """
    version = ModelVersion(version)
    weight = _half({k: v for k, v in state_dict.items() if "enc_q" not in k})
    obj = collections.OrderedDict(weight=weight, config=_OfficialHParams(_to_plain(config)), info=info)
    header = spec(version).sovits_header
    if lora_rank is not None:
        obj["lora_rank"] = lora_rank
        header = b"03" if version == ModelVersion.V3 else b"04"
    elif version in (ModelVersion.V1, ModelVersion.V2):
        header = None  # official v1/v2 exports are plain torch zips
    payload = _serialise(obj)
    if header is not None:
        payload = header + payload[2:]
    atomic_write_bytes(Path(path), payload)


# ---------------------------------------------------------------------------------------------------------
# CLI


def describe(ckpt: Checkpoint) -> list[str]:
    """Human-readable summary lines of a checkpoint."""
    model = ckpt.config.get("model", {}) if isinstance(ckpt.config, Mapping) else {}
    if ckpt.kind == "gpt":
        keys = ("embedding_dim", "hidden_dim", "head", "n_layer", "phoneme_vocab_size", "vocab_size")
    else:
        keys = ("hidden_channels", "filter_channels", "n_heads", "n_layers", "upsample_initial_channel",
                "upsample_rates", "gin_channels", "semantic_frame_rate")  # fmt: skip
    brief = ", ".join(f"{k}={model[k]}" for k in keys if k in model)
    lora = f" (LoRA, rank {ckpt.lora_rank})" if ckpt.is_lora else ""
    lines = [
        f"file: {ckpt.path}",
        f"  kind: {ckpt.kind}",
        f"  version: {ckpt.version.value}{lora}",
        f"  symbol set: {ckpt.symbol_version}",
        f"  parameters: {ckpt.n_parameters:,}",
        f"  info: {ckpt.info}",
        f"  config: {brief or '(no model section)'}",
    ]
    if ckpt.kind == "sovits":
        sr = ckpt.config.get("data", {}).get("sampling_rate") if isinstance(ckpt.config, Mapping) else None
        lines.append(f"  sample rate: {sr}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.checkpoints", description="Checkpoint utilities.")
    sub = p.add_subparsers(dest="command", required=True)
    ins = sub.add_parser("inspect", help="describe GPT .ckpt / SoVITS .pth files without running their code")
    ins.add_argument("files", nargs="+", type=Path, help="checkpoint files")
    args = p.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            print("\n".join(describe(load_checkpoint(path))))
        except CheckpointError as e:
            print(f"error: {e}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    raise SystemExit(main())
