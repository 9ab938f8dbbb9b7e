import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "engine"))
import toy_method  # noqa: E402,F401

from kpdet.config import apply_override, dump_config, load_config  # noqa: E402
from kpdet.errors import ConfigError  # noqa: E402


def write(tmp_path, text):
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_minimal_config_gets_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "method: {name: toy}\n"))
    assert cfg.method.name == "toy" and cfg.method.width == 8
    assert cfg.train.epochs == 20 and cfg.train.optimizer.name == "adamw"


def test_unknown_key_lists_valid_keys_at_that_level(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "method: {name: toy}\ntrain:\n  optimiser: {name: sgd}\n"))
    msg = str(e.value)
    assert "unknown key 'train.optimiser'" in msg and "did you mean 'optimizer'" in msg
    assert "valid keys at train:" in msg and "batch_size" in msg and "max_bad_fraction" in msg


def test_unknown_key_in_method_section_lists_method_fields(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "method: {name: toy, widht: 4}\n"))
    assert "unknown key 'method.widht'" in str(e.value) and "input_size" in str(e.value)


def test_wrong_type_names_path_and_expected_type(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "method: {name: toy}\ntrain: {ema: {decay: fast}}\n"))
    assert "'train.ema.decay' expected a number, got 'fast'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "method: {name: toy}\ntrain: {amp: fp8}\n"))
    assert "'train.amp' expected one of 'no', 'bf16', 'fp16'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "method: {name: toy}\ntrain: {schedule: {milestones: [1, x]}}\n"))
    assert "train.schedule.milestones[1]" in str(e.value)


def test_unknown_method_and_missing_method(tmp_path):
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        load_config(write(tmp_path, "method: {name: nope}\n"))
    with pytest.raises(ConfigError, match="'method' must be a section"):
        load_config(write(tmp_path, "train: {epochs: 1}\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_overrides_parse_yaml_scalars_and_lists(tmp_path):
    cfg = load_config(write(tmp_path, "method: {name: toy}\n"), [
        "train.epochs=3", "train.optimizer.lr=1e-3", "train.schedule.milestones=[2, 4.5]",
        "train.clip_grad=null", "train.ema.enabled=true", "method.width=4", "train.amp=no"])
    assert cfg.train.epochs == 3 and cfg.train.optimizer.lr == pytest.approx(1e-3)
    assert cfg.train.schedule.milestones == [2, 4.5] and cfg.train.clip_grad is None
    assert cfg.train.ema.enabled is True and cfg.method.width == 4 and cfg.train.amp == "no"


def test_override_errors(tmp_path):
    base = write(tmp_path, "method: {name: toy}\ntrain: {epochs: 2}\n")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(base, ["train.epochs"])
    with pytest.raises(ConfigError, match="'train.epochs' is a value"):
        load_config(base, ["train.epochs.x=1"])
    with pytest.raises(ConfigError, match="unknown key 'train.nope'"):
        load_config(base, ["train.nope=1"])
    raw = {}
    apply_override(raw, "a.b.c=[1, 2]")
    assert raw == {"a": {"b": {"c": [1, 2]}}}


def test_relative_data_paths_resolve_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(tmp_path, "method: {name: toy}\ndata: {train: d/train.json}\n"))
    assert cfg.data.train == str(tmp_path.resolve() / "d" / "train.json")


def test_dump_round_trips_including_method_fields(tmp_path):
    cfg = load_config(write(tmp_path, "method: {name: toy, width: 5}\ntrain: {epochs: 7}\n"))
    text = dump_config(cfg)
    assert "width: 5" in text and "epochs: 7" in text
    again = load_config(write(tmp_path, text))
    assert again.model_dump() == cfg.model_dump()
