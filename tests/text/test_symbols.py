"""Symbol tables: built in code, compared with the official tables the maintainers exported."""

from __future__ import annotations

import json

import pytest

from GPT_SoVITS.text.frontend import FrontendError, phones_to_ids
from GPT_SoVITS.text.symbols import symbol_version, symbols


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tables_equal_the_official_ones(shared_dir, version):
    official = json.loads((shared_dir / "parity" / f"symbols_{version}.json").read_text(encoding="utf-8"))
    assert list(symbols(version)) == official


def test_sizes_and_shared_prefix():
    v1, v2 = symbols("v1"), symbols("v2")
    assert (len(v1), len(v2)) == (322, 732)
    assert v2[: len(v1)] == v1  # v2 only appends: v1 ids keep their meaning
    assert v2[322:324] == ("[", "]")


def test_model_versions_map_to_symbol_versions():
    assert symbol_version("v1") == "v1"
    assert {symbol_version(v) for v in ("v2", "v3", "v4", "v2Pro", "v2ProPlus")} == {"v2"}
    with pytest.raises(ValueError, match="unknown"):
        symbol_version("v9")


def test_phones_to_ids_round_trip_and_errors():
    table = symbols("v2")
    ids = phones_to_ids(["n", "i2", ",", "SP3", "Yng", "空"], "v2")
    assert [table[i] for i in ids] == ["n", "i2", ",", "SP3", "Yng", "空"]
    assert phones_to_ids(["_"], "v1") == [symbols("v1").index("_")]
    with pytest.raises(FrontendError, match="Yng"):
        phones_to_ids(["Yng"], "v1")
