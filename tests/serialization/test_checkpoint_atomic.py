"""Saving to a path is atomic: a failure mid-save leaves the earlier file whole and no temp files."""
import os
import pickle
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember.serialization import zipformat


class Boom(Exception):
    pass


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "model.pt"
    ember.save({"version": "old", "w": ember.arange(4)}, path)
    return path, path.read_bytes()


def assert_untouched(path, content):
    assert path.read_bytes() == content
    assert ember.load(path)["version"] == "old"
    assert sorted(os.listdir(path.parent)) == [path.name]  # no temporary files left behind


def fail_on_record(monkeypatch, record, exc=Boom):
    original = zipformat.ArchiveWriter.write_record

    def write_record(self, name, data):
        if name == record:
            raise exc(f"simulated failure while writing {name}")
        return original(self, name, data)

    monkeypatch.setattr(zipformat.ArchiveWriter, "write_record", write_record)


@pytest.mark.parametrize("record", ["data.pkl", "data/0", ".data/serialization_id"])
def test_failure_while_writing_records_keeps_the_old_file(old_file, monkeypatch, record):
    path, content = old_file
    fail_on_record(monkeypatch, record)
    with pytest.raises(Boom):
        ember.save({"version": "new", "w": ember.ones(1000)}, path)
    assert_untouched(path, content)


def test_interrupt_mid_write_keeps_the_old_file(old_file, monkeypatch):
    path, content = old_file
    fail_on_record(monkeypatch, "data/0", KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        ember.save({"version": "new", "w": ember.ones(3)}, path)
    assert_untouched(path, content)


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failure_in_fsync_or_rename_keeps_the_old_file(old_file, monkeypatch, step):
    path, content = old_file

    def broken(*args, **kwargs):
        raise OSError(f"simulated {step} failure")

    monkeypatch.setattr(os, step, broken)
    with pytest.raises(OSError, match=step):
        ember.save({"version": "new"}, path)
    monkeypatch.undo()
    assert_untouched(path, content)


def test_unpicklable_object_leaves_no_trace(old_file):
    path, content = old_file
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        ember.save({"version": "new", "f": lambda x: x}, path)
    assert_untouched(path, content)


def test_hard_crash_mid_write_keeps_the_old_file(old_file):
    """A process killed mid-save (no cleanup can run) still leaves the old file whole."""
    path, content = old_file
    script = textwrap.dedent(f"""
        import os, ember
        from ember.serialization import zipformat
        original = zipformat.ArchiveWriter.write_record
        def write_record(self, name, data):
            if name == "data/0":
                os._exit(3)
            return original(self, name, data)
        zipformat.ArchiveWriter.write_record = write_record
        ember.save({{"version": "new", "w": ember.ones(100)}}, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == 3, result.stderr.decode()
    assert path.read_bytes() == content
    assert ember.load(path)["version"] == "old"


def test_success_replaces_and_keeps_mode(old_file):
    path, _ = old_file
    os.chmod(path, 0o640)
    ember.save({"version": "new", "w": ember.ones(2)}, path)
    assert ember.load(path)["version"] == "new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert sorted(os.listdir(path.parent)) == [path.name]


def test_new_file_gets_the_usual_mode(tmp_path):
    path = tmp_path / "fresh.pt"
    ember.save(ember.ones(1), path)
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask


def test_saving_through_a_symlink_updates_its_target(tmp_path):
    target = tmp_path / "real.pt"
    ember.save({"version": "old"}, target)
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    ember.save({"version": "new", "w": ember.arange(3)}, link)
    assert link.is_symlink()
    assert ember.load(target)["version"] == "new"
    np.testing.assert_array_equal(ember.load(link)["w"].numpy(), [0, 1, 2])


def test_missing_parent_directory(tmp_path):
    with pytest.raises(RuntimeError, match="parent directory"):
        ember.save(ember.ones(1), tmp_path / "missing" / "x.pt")
    with pytest.raises(IsADirectoryError):
        ember.save(ember.ones(1), tmp_path)
