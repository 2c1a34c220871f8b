"""The task registry reaches every data loader by name, with options as the command line passes them."""

from __future__ import annotations

import pytest

from samovar.tasks import get_task
from samovar.tasks.base import ClassificationData


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("SAMOVAR_DATA_DIR", raising=False)
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))


def test_generated_tasks_load_through_the_registry():
    listops = get_task("listops").load(None, source="generate", n_train=16, n_val=4, n_test=4, max_length=120)
    assert isinstance(listops, ClassificationData) and listops.seq_len == 120 and listops.synthetic
    pathfinder = get_task("pathfinder").load(None, source="generate", n_train=16, n_val=4, n_test=4)
    assert pathfinder.seq_len == 1024 and pathfinder.synthetic


def test_file_tasks_name_their_missing_files_through_the_registry(tmp_path):
    from samovar.data.errors import DataError

    for task, missing in (("text", "aclImdb"), ("retrieval", "new_aan_pairs.train.tsv"), ("image", "data_batch_1"),
                          ("speech-commands", "validation_list.txt")):
        with pytest.raises(DataError, match=missing):
            get_task(task).load(tmp_path)
