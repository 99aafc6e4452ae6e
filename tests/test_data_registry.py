"""The registry as a whole: every registered file has a recorded checksum and builds to it, and the
command line builds, verifies and reports."""
from __future__ import annotations

from mlbd_course.cli import main
from mlbd_utils.data import registry


def test_every_file_is_built_to_its_recorded_checksum(built_data):
    expected = registry.expected_checksums()
    files = [f for ds in registry.datasets().values() for f in ds.files]
    assert sorted(expected) == sorted(files), "checksums.json and the registry disagree"
    for f in files:
        assert registry.sha256(built_data / f) == expected[f], f"{f}: output changed (mlbd data --update-checksums?)"
        assert (built_data / "ground_truth").is_dir()


def test_mlbd_data_builds_one_dataset_and_rejects_unknown_names(tmp_path, capsys):
    assert main(["data", "hours", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "hours_biweek_students.csv" in out and "ok" in out
    assert (tmp_path / "ground_truth" / "hours.json").exists()
    assert main(["data", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().out


def test_mlbd_data_from_needs_one_dataset(tmp_path, capsys):
    assert main(["data", "--from", str(tmp_path / "x.csv"), "--out", str(tmp_path)]) == 2
    assert "--from converts one dataset" in capsys.readouterr().out


def test_a_real_conversion_has_no_ground_truth_and_says_so(tmp_path):
    """Converting a real file into a folder drops the synthetic ground truth and marks the dataset as real;
    load_truth then explains why there is none; building the synthetic data again undoes both."""
    import pytest

    from mlbd_utils.data import DataError, is_real, load_truth

    ds = registry.get("student_performance")
    registry.build_one(ds, tmp_path)
    assert not is_real("student_performance", tmp_path) and load_truth("student_performance", tmp_path)
    src = tmp_path / "src"  # the synthetic file is written in the UCI layout the real loader reads
    src.mkdir()
    (src / "student-por.csv").write_bytes((tmp_path / "student-por.csv").read_bytes())
    registry.convert_real(ds, src / "student-por.csv", tmp_path)
    assert is_real("student_performance", tmp_path)
    with pytest.raises(DataError, match="converted from a real file .*student-por.csv.* no ground truth"):
        load_truth("student_performance", tmp_path)
    registry.build_one(ds, tmp_path)
    assert not is_real("student_performance", tmp_path) and load_truth("student_performance", tmp_path)
