import pytest

from pointwm.atomic import atomic_path, write_bytes, write_json


def test_atomic_path_renames_on_success_and_cleans_up_on_error(tmp_path):
    target = tmp_path / "sub" / "x.bin"
    write_bytes(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"  # the earlier file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.bin"]  # no temporary left
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".bin" and tmp.parent == target.parent
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    write_json(tmp_path / "a.json", {"k": 1})
    assert (tmp_path / "a.json").read_text() == '{\n  "k": 1\n}\n'
