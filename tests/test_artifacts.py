"""The content-hashed build directory: stages re-run only when their inputs change."""

import pytest

from toolchain.artifacts import BuildDir


def test_stage_reruns_only_on_change(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a")
    calls = []

    def write(out):
        calls.append(1)
        (out / "out.txt").write_text(src.read_text() * 2)

    bd = BuildDir(tmp_path / "build")
    r1 = bd.run_stage("double", {"src": src}, {"n": 2}, ["out.txt"], write)
    assert not r1.reused and (tmp_path / "build" / "out.txt").read_text() == "aa"
    again = BuildDir(tmp_path / "build")
    r2 = again.run_stage("double", {"src": src}, {"n": 2}, ["out.txt"], write)
    assert r2.reused and len(calls) == 1
    src.write_text("b")
    r3 = bd.run_stage("double", {"src": src}, {"n": 2}, ["out.txt"], write)
    assert not r3.reused and (tmp_path / "build" / "out.txt").read_text() == "bb"
    # A changed output is detected too.
    (tmp_path / "build" / "out.txt").write_text("tampered")
    assert not bd.run_stage("double", {"src": src}, {"n": 2}, ["out.txt"], write).reused


def test_failed_stage_leaves_no_partial_artifact(tmp_path):
    bd = BuildDir(tmp_path / "build")

    def fail(out):
        (out / "half.txt").write_text("partial")
        raise ValueError("boom")

    with pytest.raises(ValueError):
        bd.run_stage("bad", {}, {}, ["half.txt"], fail)
    assert not (tmp_path / "build" / "half.txt").exists()
    assert "bad" not in bd.manifest


def test_two_processes_sharing_a_build_dir_keep_each_others_stages(tmp_path):
    first = BuildDir(tmp_path / "build")
    second = BuildDir(tmp_path / "build")  # read the manifest before `first` wrote anything
    first.run_stage("a", {}, {"x": 1}, ["a.txt"], lambda out: (out / "a.txt").write_text("a"))
    second.run_stage("b", {}, {"x": 2}, ["b.txt"], lambda out: (out / "b.txt").write_text("b"))
    again = BuildDir(tmp_path / "build")
    assert set(again.manifest) == {"a", "b"}
    assert again.run_stage("a", {}, {"x": 1}, ["a.txt"], lambda out: None).reused
