"""Output directories: never over an existing one, and whole or not at all."""
import pytest

from gpt.output_dir import atomic_directory, check_new_directory


def test_a_new_or_empty_directory_is_accepted_and_anything_else_refused(tmp_path):
    check_new_directory(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    check_new_directory(tmp_path / "empty")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "file").write_text("a file")
    for taken in ("full", "file"):
        with pytest.raises(FileExistsError, match="already exists and is not empty; choose"):
            check_new_directory(tmp_path / taken)
    with pytest.raises(FileExistsError, match="pass --resume"):
        check_new_directory(tmp_path / "full", "pass --resume")


def test_the_directory_appears_whole_or_not_at_all(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(tmp_path / "out") as temporary:
            (temporary / "model.safetensors").write_text("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []                   # no output, no temporary

    with atomic_directory(tmp_path / "nested" / "out") as temporary:
        assert temporary.parent == tmp_path / "nested" and not (temporary.parent / "out").exists()
        (temporary / "a.txt").write_text("a")
        (temporary / "b.txt").write_text("b")
    assert sorted(p.name for p in (tmp_path / "nested" / "out").iterdir()) == ["a.txt", "b.txt"]
    assert [p.name for p in (tmp_path / "nested").iterdir()] == ["out"]

    (tmp_path / "empty").mkdir()
    with atomic_directory(tmp_path / "empty") as temporary:
        (temporary / "a.txt").write_text("a")
    assert [p.name for p in (tmp_path / "empty").iterdir()] == ["a.txt"]
    with pytest.raises(FileExistsError):
        with atomic_directory(tmp_path / "empty"):
            pass
