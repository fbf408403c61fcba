"""What the labeling page's panel tells the annotator besides the item: progress ("n left for
me · n done today", two queries), preference buttons worded from the question, and the words
at the ends of a Likert scale."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.services import progress as progress_module
from annotation.services.progress import queue_progress
from annotation.services.rendering import preference_choice
from tests.annotation.labeling_fixtures import add_items, word_the_rubric
from tests.annotation.test_pages import client_for, submitted


@pytest.mark.parametrize(
    ("question", "choice"),
    [
        ("Which response is better?", "is better"),
        ("Which response is less harmful?", "is less harmful"),
        (
            "Which answer follows the guidelines more closely?",
            "follows the guidelines more closely",
        ),
        ("Which of the two responses has fewer errors?", "has fewer errors"),
        ("Which one is more accurate", "is more accurate"),
        ("Which is safer?", "is safer"),
        ("Which response do you prefer?", "is better"),
        ("Which do you prefer?", "is better"),
        ("Pick the better one.", "is better"),
        ("", "is better"),
    ],
)
def test_preference_buttons_take_their_words_from_the_question(question, choice):
    assert preference_choice(question) == choice


@pytest.mark.django_db
def test_progress_counts_what_is_left_and_first_judgments_of_today(
    sprint, annotator, django_assert_num_queries, monkeypatch
):
    add_items(sprint, 4)
    with django_assert_num_queries(3):  # the first call counts the items left in full
        progress = queue_progress(annotator, sprint)
    assert (progress.left, progress.done_today) == (4, 0)
    first = submitted(sprint, annotator, key="k1")
    revision = submitted(sprint, annotator, key="k2")  # the same item again: not one more done
    assert revision.supersedes_id == first.pk
    with django_assert_num_queries(2):  # then only what I finished since, and today's
        progress = queue_progress(annotator, sprint)
    assert (progress.left, progress.done_today) == (3, 1)
    assert queue_progress(annotator, sprint, queue_empty=True).left == 0
    with django_assert_num_queries(3):  # counted afresh after an empty queue
        assert queue_progress(annotator, sprint).left == 3
    two_days_on = timezone.localtime() + timedelta(days=2)
    monkeypatch.setattr(progress_module.timezone, "localtime", lambda: two_days_on)
    assert queue_progress(annotator, sprint).done_today == 0, "judged two days ago"


@pytest.mark.django_db
def test_the_panel_carries_progress_choice_words_and_scale_ends(sprint, annotator, rubric):
    word_the_rubric(rubric)
    add_items(sprint, 3)
    client = client_for(annotator)
    html = client.get(f"/sprints/{sprint.pk}/label").content.decode()
    assert "3 left for me · 0 done today" in html
    assert 'data-left="3" data-done-today="0"' in html
    assert "Response 1 is less harmful</button>" in html
    assert "<span>1 = useless</span><span>5 = perfect</span>" in html
    submitted(sprint, annotator)
    panel = client.get(f"/sprints/{sprint.pk}/label/panel").content.decode()
    assert 'data-left="2" data-done-today="1"' in panel
