"""Beside the conftest's ``source`` (support-bot) and its ``source_lead``: the lead as a staff
user (``fb_lead``, for the admin), ``bot`` as another name for ``source``, and a second source
``wiki`` (wiki-rag) led by ``other_lead``. Import the fixtures by name into a test module."""

import pytest

from tests.support.builders import feedback_source

__all__ = ["bot", "fb_lead", "other_lead", "wiki"]


@pytest.fixture
def fb_lead(source_lead):
    source_lead.is_staff = True
    source_lead.save(update_fields=["is_staff"])
    return source_lead


@pytest.fixture
def bot(source, fb_lead):
    return source


@pytest.fixture
def other_lead(make_user):
    return make_user("fb-lead-2", is_staff=True)


@pytest.fixture
def wiki(other_lead):
    return feedback_source("wiki-rag", leads=[other_lead])
