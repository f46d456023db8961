"""The main job (`make demo`) in miniature: one epoch on the digits, checkpoint reloaded."""
import os

import pytest

from ember.examples import digits

pytestmark = pytest.mark.slow  # trains the demo for an epoch


def test_one_epoch_trains_and_checkpoint_reproduces_accuracy(tmp_path):
    result = digits.train_on("cpu", epochs=1, out_dir=str(tmp_path), quiet=True)
    assert result["accuracy"] > 0.6  # chance is 0.1; one epoch reaches about 0.79
    assert result["reloaded_accuracy"] == result["accuracy"]
    assert os.path.exists(result["checkpoint"])
    assert result["fallbacks"] == []


def test_table_and_plot(tmp_path):
    result = digits.train_on("cpu", epochs=1, out_dir=str(tmp_path), quiet=True)
    table = digits.format_table([result])
    assert "cpu" in table and f"{result['accuracy']:.4f}" in table
    plot = tmp_path / "curves.png"
    digits.write_plot([result], str(plot))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
