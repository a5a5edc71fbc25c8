"""Fixtures shared by the tests."""

from __future__ import annotations

import pytest
from article import save_article


@pytest.fixture
def article_checkpoint(tmp_path):
    """§保存模型 with raw ``tf.compat.v1.train.Saver``: the prefix ``model/model.ckpt``."""
    return save_article(tmp_path)
