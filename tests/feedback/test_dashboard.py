"""The feedback dashboard (feedback.services.dashboard, its API and its pages) on a dataset built
by hand, with a frozen ``now``: every figure is checked against a computation done outside the
code under test (the Wilson intervals agree with scipy's ``binomtest(k, n).proportion_ci(
method="wilson")`` to 6 places; the mean-stars interval is worked out in the comment)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from annotation.services.errors import ConcordError
from feedback.services.dashboard import feedback_dashboard, mean_interval, wilson_interval
from tests.support.builders import feedback_event, feedback_source

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
THUMBS = {1: "up", -1: "down"}


def add(source, prefix, count, moment, *, version="v1", thumb=None, stratum="", **fields):
    """``count`` events of bot ``version`` at ``moment`` with one thumb (or none)."""
    for number in range(count):
        signals = {"thumb": THUMBS[thumb]} if thumb else {}
        feedback_event(
            source, f"{prefix}-{number}", occurred_at=moment, model_version=version,
            thumb=thumb, stratum=stratum, signals=signals, **fields,
        )  # fmt: skip


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def boss(make_user):
    return make_user("boss")


@pytest.fixture
def built(boss):
    """v1 falls from 30/40 thumbs up last week to 5/20 this week (drift down); v2 holds 7/10
    against 8/10 (steady); v3 has thumbs this week only (no mark). Five v1 ratings without a
    thumb on 3 Nov carry one correction, one re-ask and one escalation. Events on 20 Oct and
    after ``NOW`` lie outside the window."""
    source = feedback_source("support-bot", leads=[boss])
    add(source, "a-up", 30, at(17), thumb=1, stratum="billing")
    add(source, "a-down", 10, at(17), thumb=-1, stratum="login")
    add(source, "b-up", 5, at(25), thumb=1, stratum="billing")
    add(source, "b-down", 15, at(25), thumb=-1, stratum="login")
    add(source, "c-up", 8, at(18, 9), version="v2", thumb=1, stratum="shipping")
    add(source, "c-down", 2, at(18, 9), version="v2", thumb=-1, stratum="shipping")
    add(source, "d-up", 7, at(26, 9), version="v2", thumb=1, stratum="shipping")
    add(source, "d-down", 3, at(26, 9), version="v2", thumb=-1, stratum="shipping")
    add(source, "e-up", 5, at(27, 8), version="v3", thumb=1, stratum="tiny")
    extra = [{"outcome": "corrected"}, {"reasked": True}, {"escalated": True}, {}, {}]
    for number, (stars, more) in enumerate(zip([5, 4, 4, 3, 1], extra, strict=True)):
        feedback_event(
            source, f"f-{number}", occurred_at=at(3, 12), stars=stars, thumb=None,
            signals={"stars": stars, **more}, **more,
        )  # fmt: skip
    add(source, "old", 10, datetime(2026, 10, 20, tzinfo=UTC), thumb=-1, stratum="login")
    add(source, "future", 1, NOW + timedelta(hours=1), thumb=-1, stratum="login")
    return source


def by_version(report):
    return {entry["model"]["version"]: entry for entry in report["model_versions"]}


def test_rates_and_intervals_per_model_version(built, boss):
    report = feedback_dashboard(boss, built, now=NOW)
    assert report["events"] == 65 + 20 + 5
    assert report["since"] == "2026-11-01T00:00:00+00:00"
    v1, v2, v3 = (by_version(report)[name] for name in ("v1", "v2", "v3"))
    assert v1["model"] == {"name": "bot", "version": "v1"}
    assert (v1["events"], v1["thumbs"], v1["thumbs_up"], v1["thumbs_down"]) == (65, 60, 35, 25)
    assert v1["thumbs_up_rate"] == pytest.approx(35 / 60, abs=1e-6)
    assert v1["thumbs_up_ci"] == pytest.approx([0.457281, 0.699357], abs=1e-6)
    assert v2["thumbs_up_rate"] == 0.75
    assert v2["thumbs_up_ci"] == pytest.approx([0.531299, 0.888138], abs=1e-6)
    assert v3["thumbs_up_rate"] == 1.0
    assert v3["thumbs_up_ci"] == pytest.approx([0.565518, 1.0], abs=1e-6)
    # Stars 5, 4, 4, 3, 1: mean 3.4; squared deviations 2.56 + 0.36 + 0.36 + 0.16 + 5.76 = 9.2,
    # s = sqrt(9.2 / 4) = 1.516575; half-width 1.959964 * 1.516575 / sqrt(5) = 1.329312.
    assert v1["rated"] == 5
    assert v1["mean_stars"] == 3.4
    assert v1["mean_stars_ci"] == pytest.approx([2.070688, 4.729312], abs=1e-6)
    assert v2["rated"] == 0 and v2["mean_stars"] is None and v2["mean_stars_ci"] is None
    assert "Wilson" in report["intervals"]["thumbs_up_rate"]
    assert "normal" in report["intervals"]["mean_stars"]


def test_the_interval_helpers_at_their_edges():
    assert wilson_interval(0, 0) is None
    assert wilson_interval(0, 25) == pytest.approx((0.0, 0.133192), abs=1e-6)
    assert mean_interval(1, 4, 16) is None
    assert mean_interval(3, 12, 48) == (4.0, 4.0)  # no spread, no width


def test_events_per_day_by_signal_and_model_version(built, boss):
    daily = feedback_dashboard(boss, built, now=NOW)["daily"]
    assert len(daily["days"]) == 28
    assert (daily["days"][0], daily["days"][-1]) == ("2026-11-01", "2026-11-28")
    day = {name: daily["days"].index(f"2026-11-{name:02d}") for name in (3, 17, 25, 26, 27)}
    assert daily["events"][day[17]] == 40 and daily["events"][day[25]] == 20
    assert sum(daily["events"]) == 90
    signals = daily["by_signal"]
    assert (signals["thumb_up"][day[17]], signals["thumb_down"][day[17]]) == (30, 10)
    assert (signals["thumb_up"][day[25]], signals["thumb_down"][day[25]]) == (5, 15)
    assert [signals[name][day[3]] for name in ("stars", "corrected", "reasked", "escalated")] == [
        5, 1, 1, 1,
    ]  # fmt: skip
    assert sum(signals["thumb_down"]) == 30  # the 20 Oct and future events are left out
    versions = {entry["model"]["version"]: entry for entry in daily["by_model_version"]}
    assert versions["v1"]["events"][day[3]] == 5
    assert versions["v2"]["thumb_up"][day[26]] == 7
    assert versions["v3"]["events"][day[27]] == 5 and sum(versions["v3"]["events"]) == 5


def test_a_shorter_window(built, boss):
    report = feedback_dashboard(boss, built, now=NOW, days=7)
    assert report["since"] == "2026-11-22T00:00:00+00:00"
    assert {name: e["events"] for name, e in by_version(report).items()} == {
        "v1": 20, "v2": 10, "v3": 5,
    }  # fmt: skip


def test_worst_strata_with_minimum_support(built, boss):
    worst = feedback_dashboard(boss, built, now=NOW)["worst_strata"]
    assert [(s["stratum"], s["thumbs_up"], s["thumbs"]) for s in worst] == [
        ("login", 0, 25), ("shipping", 15, 20), ("billing", 35, 35),
    ]  # fmt: skip
    assert worst[0]["thumbs_up_ci"] == pytest.approx([0.0, 0.133192], abs=1e-6)
    assert worst[1]["thumbs_up_rate"] == 0.75
    # A lower bar lets 'tiny' (5 of 5) in; it ties billing at 1.0 and has fewer thumbs.
    lower = feedback_dashboard(boss, built, now=NOW, min_support=5)["worst_strata"]
    assert [s["stratum"] for s in lower] == ["login", "shipping", "billing", "tiny"]
    assert [s["stratum"] for s in feedback_dashboard(boss, built, now=NOW, worst=1)[
        "worst_strata"
    ]] == ["login"]  # fmt: skip


def test_drift_mark_by_this_week_against_last(built, boss):
    versions = by_version(feedback_dashboard(boss, built, now=NOW))
    v1 = versions["v1"]["drift"]
    # Last week (14 to 21 Nov): 30 of 40, Wilson [0.598060, 0.858129]; this week 5 of 20.
    assert v1["last_week"]["thumbs_up_ci"] == pytest.approx([0.59806, 0.858129], abs=1e-6)
    assert v1["this_week"]["thumbs_up_rate"] == 0.25
    assert (v1["drifted"], v1["direction"]) == (True, "down")
    # v2: 7 of 10 lies inside last week's 8 of 10, Wilson [0.490162, 0.943318].
    v2 = versions["v2"]["drift"]
    assert v2["last_week"]["thumbs_up_ci"] == pytest.approx([0.490162, 0.943318], abs=1e-6)
    assert (v2["this_week"]["thumbs_up_rate"], v2["drifted"], v2["direction"]) == (0.7, False, None)
    assert versions["v3"]["drift"]["drifted"] is None  # no thumbs last week


def test_drift_follows_the_frozen_clock(built, boss):
    # A week earlier, v1's week of 30/40 is 'this week' and the week before it is empty.
    earlier = by_version(feedback_dashboard(boss, built, now=NOW - timedelta(days=7)))
    assert earlier["v1"]["drift"]["this_week"]["thumbs_up_rate"] == 0.75
    assert earlier["v1"]["drift"]["drifted"] is None
    # A week later, the one future thumb down (0 of 1) falls below 5 of 20 [0.111862, 0.468701].
    later = by_version(feedback_dashboard(boss, built, now=NOW + timedelta(days=7)))
    drift = later["v1"]["drift"]
    assert drift["last_week"]["thumbs_up_ci"] == pytest.approx([0.111862, 0.468701], abs=1e-6)
    assert (drift["this_week"]["thumbs"], drift["drifted"], drift["direction"]) == (1, True, "down")


def test_only_the_sources_leads_get_it(built, boss, make_user):
    stranger_lead = make_user("other-lead")
    feedback_source("other-bot", leads=[stranger_lead])
    with pytest.raises(ConcordError) as refused:
        feedback_dashboard(stranger_lead, built, now=NOW)
    assert (refused.value.status, refused.value.problems[0]["field"]) == (404, "source")
    with pytest.raises(ConcordError) as refused:
        feedback_dashboard(make_user("ann"), built, now=NOW)
    assert refused.value.status == 403
    root = make_user("root", is_superuser=True)
    assert feedback_dashboard(root, built, now=NOW)["events"] == 90


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"days": 0}, "days"), ({"days": 400}, "days"), ({"min_support": 0}, "min_support")],
)
def test_bad_arguments_name_the_field(built, boss, arguments, field):
    with pytest.raises(ConcordError) as refused:
        feedback_dashboard(boss, built, now=NOW, **arguments)
    assert (refused.value.status, refused.value.problems[0]["field"]) == (400, field)


def test_the_api(built, boss, make_user, annotator, api_client_for):
    client = api_client_for(boss)
    answer = client.get("/api/v1/feedback/dashboard", {"source": "support-bot", "days": 28})
    assert answer.status_code == 200
    body = answer.json()
    assert body["source"] == "support-bot" and len(body["daily"]["days"]) == 28
    assert {entry["model"]["version"] for entry in body["model_versions"]} <= {"v1", "v2", "v3"}
    for query, field in [
        ({"days": 28}, "source"),
        ({"source": "support-bot", "days": "many"}, "days"),
        ({"source": "support-bot", "days": 0}, "days"),
        ({"source": "support-bot", "min_support": -1}, "min_support"),
    ]:
        refused = client.get("/api/v1/feedback/dashboard", query)
        assert refused.status_code == 400, query
        assert refused.json()["errors"][0]["field"] == field
    assert client.get("/api/v1/feedback/dashboard", {"source": "nope"}).status_code == 404
    other = make_user("other-lead")
    feedback_source("other-bot", leads=[other])
    query = {"source": "support-bot"}
    assert api_client_for(other).get("/api/v1/feedback/dashboard", query).status_code == 404
    refused = api_client_for(annotator).get("/api/v1/feedback/dashboard", query)
    assert refused.status_code == 403 and refused.json()["detail"]
    assert api_client_for(None).get("/api/v1/feedback/dashboard", query).status_code == 401


def test_the_pages(built, boss, make_user, annotator, monkeypatch):
    # The page reads the clock: pinned to the fixture's NOW, or the drift mark depends on the
    # day (and hour) the suite runs.
    from feedback.services import dashboard

    monkeypatch.setattr(dashboard.timezone, "now", lambda: NOW)
    lead = Client()
    lead.force_login(boss)
    picker = lead.get("/feedback/")
    assert picker.status_code == 200
    assert b'href="/feedback/support-bot/"' in picker.content
    page = lead.get("/feedback/support-bot/")
    assert page.status_code == 200
    html = page.content.decode()
    for chart in ("events-chart", "thumbs-chart", "signals-chart"):
        assert f'id="{chart}"' in html
    assert "drift down" in html and "<script" not in html
    assert lead.get("/feedback/support-bot/?days=7").context["dashboard"]["days"] == 7
    assert lead.get("/feedback/support-bot/?days=5").context["dashboard"]["days"] == 28
    assert lead.get("/feedback/nope/").status_code == 404
    home = lead.get("/")
    assert b'href="/feedback/"' in home.content  # the leads' navigation

    other = make_user("other-lead")
    feedback_source("other-bot", leads=[other])
    stranger = Client()
    stranger.force_login(other)
    assert stranger.get("/feedback/support-bot/").status_code == 404
    assert b"support-bot" not in stranger.get("/feedback/").content

    member = Client()  # an annotator of a sprint, who leads no feedback source
    member.force_login(annotator)
    refused = member.get("/feedback/")
    assert refused.status_code == 403
    assert "You may not open this page" in refused.content.decode()
    assert member.get("/feedback/support-bot/").status_code == 403
    assert b'href="/feedback/"' not in member.get("/").content
    assert Client().get("/feedback/support-bot/").status_code == 302


def test_the_figures_are_sql_aggregates_whatever_the_number_of_events(
    built, boss, django_assert_num_queries
):
    with django_assert_num_queries(5):  # the lead check, then daily, versions, strata, drift
        feedback_dashboard(boss, built, now=NOW)
    add(built, "more", 200, at(20), version="v4", thumb=1, stratum="billing")
    with django_assert_num_queries(5):
        report = feedback_dashboard(boss, built, now=NOW)
    assert by_version(report)["v4"]["events"] == 200
