"""tunesmith.config: the YAML reader every trainable model uses, and deep merging."""
from __future__ import annotations

import pytest

from tunesmith.config import deep_merge, read_yaml_mapping
from tunesmith.errors import TunesmithError


@pytest.mark.parametrize("text,needle", [("a: [1, 2", "not valid YAML"), ("- 1\n- 2\n", "mapping")])
def test_bad_config_files_are_one_line_errors(tmp_path, text, needle):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(TunesmithError, match=needle) as exc:
        read_yaml_mapping(p)
    assert str(p) in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(TunesmithError, match="no such config file"):
        read_yaml_mapping(tmp_path / "missing.yaml")


def test_read_and_deep_merge(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("trainer:\n  max_epochs: 3\nseed: 7\n")
    base = {"seed": 0, "trainer": {"max_epochs": 60, "devices": 1}}
    merged = deep_merge(base, read_yaml_mapping(p))
    assert merged == {"seed": 7, "trainer": {"max_epochs": 3, "devices": 1}}
    assert base["trainer"]["max_epochs"] == 60  # inputs are not changed
    (tmp_path / "empty.yaml").write_text("")
    assert read_yaml_mapping(tmp_path / "empty.yaml") == {}
