"""sprint_agreement and item_agreement on small sprints stored in the database."""

import krippendorff
import numpy as np
import pytest
from django.utils import timezone

from annotation.models import Criterion, CriterionKind
from reviews.services.agreement import item_agreement, sprint_agreement
from tests.annotation.labeling_fixtures import add_items
from tests.reviews.agreement_fixtures import members, skip_item, store_judgment


def pref(*ranking, strength=None):
    answer = {"ranking": list(ranking)} if ranking else {"tie": True}
    if strength is not None:
        answer["strength"] = strength
    return answer


def test_item_agreement_counts_agreeing_pairs_and_ties():
    assert item_agreement([["a", "b"]]) is None
    assert item_agreement([]) is None
    assert item_agreement([["a", "b"], ["a", "b"]]) == 1.0
    assert item_agreement([["a", "b"], ["a", "b"], ["b", "a"]]) == pytest.approx(1 / 3)
    # A tie is a value of its own: it agrees with another tie, not with a ranking.
    assert item_agreement([[], []]) == 1.0
    assert item_agreement([["a", "b"], []]) == 0.0
    assert item_agreement([["a", "b"], [], []]) == pytest.approx(1 / 3)


def test_item_agreement_compares_rankings_of_three_pairwise():
    # a>b and a>c agree, b vs c disagrees: 2 of 3 response pairs.
    assert item_agreement([["a", "b", "c"], ["a", "c", "b"]]) == pytest.approx(2 / 3)
    assert item_agreement([["a", "b", "c"], ["c", "b", "a"]]) == 0.0


def test_rankings_of_three_are_units_per_response_pair(db, sprint, make_user):
    items = add_items(sprint, 3, responses=3)
    one, two, three = members(sprint, make_user, ["x", "y", "z"])
    rankings = {
        one: [["a", "b", "c"], ["c", "b", "a"], ["b", "a", "c"]],
        two: [["a", "c", "b"], ["c", "b", "a"], ["b", "c", "a"]],
        three: [["a", "b", "c"], ["c", "a", "b"], ["a", "b", "c"]],
    }
    for user, per_item in rankings.items():
        for item, ranking in zip(items, per_item, strict=True):
            store_judgment(item, user, {"preference": pref(*ranking)})
    figures = sprint_agreement(sprint, bootstrap=0)["criteria"]["preference"]
    # The matrix by hand: units (item, pair) for pairs ab, ac, bc; +1 first ranks higher.
    matrix = []
    for per_item in rankings.values():
        row = []
        for ranking in per_item:
            for first, second in (("a", "b"), ("a", "c"), ("b", "c")):
                row.append(1 if ranking.index(first) < ranking.index(second) else -1)
        matrix.append(row)
    expected = krippendorff.alpha(reliability_data=np.array(matrix), level_of_measurement="nominal")
    assert figures["alpha"] == pytest.approx(expected, abs=1e-12)
    assert figures["items"] == 3
    assert figures["judgments"] == 9
    agreeing = sum(
        item_agreement([per_item[i] for per_item in rankings.values()]) for i in range(3)
    )
    assert figures["percent_agreement"] == pytest.approx(agreeing / 3)


def test_superseded_judgments_are_ignored_and_until_sees_the_past(db, sprint, make_user):
    items = add_items(sprint, 4)
    one, two = members(sprint, make_user, ["x", "y"])
    for item in items:
        store_judgment(item, one, {"preference": pref("a", "b")})
        store_judgment(item, two, {"preference": pref("b", "a")})
    before = timezone.now()
    first = sprint_agreement(sprint, bootstrap=0)
    assert first["criteria"]["preference"]["percent_agreement"] == 0.0
    for item in items:
        store_judgment(item, two, {"preference": pref("a", "b")})  # a revision
    now = sprint_agreement(sprint, bootstrap=0)
    assert now["judgments"] == 8
    assert now["criteria"]["preference"]["percent_agreement"] == 1.0
    then = sprint_agreement(sprint, bootstrap=0, until=before)
    assert then["judgments"] == 8
    assert then["criteria"]["preference"]["percent_agreement"] == 0.0
    assert sprint_agreement(sprint, bootstrap=0, until=items[0].created_at)["judgments"] == 0


def test_strength_is_signed_by_winner_and_flags_default_to_false(db, sprint, make_user):
    Criterion.objects.create(
        rubric=sprint.rubric,
        name="unsafe",
        kind=CriterionKind.FLAG,
        question="Unsafe?",
        required=False,
        position=5,
    )
    items = add_items(sprint, 3)
    one, two = members(sprint, make_user, ["x", "y"])
    answers = {
        one: [pref("a", "b", strength=3), pref("b", "a", strength=1), pref()],
        two: [pref("a", "b", strength=3), pref("a", "b", strength=1), pref()],
    }
    for user, per_item in answers.items():
        for index, (item, answer) in enumerate(zip(items, per_item, strict=True)):
            extra = {"unsafe": {"a": True}} if (user, index) in ((one, 0), (two, 0)) else {}
            store_judgment(item, user, {"preference": answer, **extra})
    report = sprint_agreement(sprint, bootstrap=0)
    strength = report["criteria"]["preference.strength"]
    assert strength["level"] == "ordinal"
    # Signed scale: item 1 (+3, +3), item 2 (-1, +1), item 3 (0, 0).
    expected = krippendorff.alpha(
        reliability_data=[[3, -1, 0], [3, 1, 0]],
        level_of_measurement="ordinal",
        value_domain=list(range(-3, 4)),
    )
    assert strength["alpha"] == pytest.approx(expected, abs=1e-12)
    unsafe = report["criteria"]["unsafe"]
    assert unsafe["level"] == "nominal"
    # Every (item, response) unit agrees: a unsafe on item 1 by both, false elsewhere.
    assert unsafe["percent_agreement"] == 1.0
    assert unsafe["items"] == 3
    assert report["criteria"]["helpfulness"]["items"] == 0  # nobody scored helpfulness
    assert report["criteria"]["helpfulness"]["alpha"] is None


def test_annotator_figures_consensus_gold_time_skips_and_outlier(db, sprint, make_user):
    items = add_items(sprint, 6, gold=2)
    regular, gold = items[:6], items[6:]
    users = members(sprint, make_user, ["p", "q", "r", "s"])
    careless = users[3]
    for item in regular:
        for user in users:
            ranking = ("b", "a") if user == careless else ("a", "b")
            store_judgment(
                item, user, {"preference": pref(*ranking)}, seconds=2 if user == careless else 30
            )
    for item in gold:  # gold answer is b > a
        for user in users:
            ranking = ("a", "b") if user == careless else ("b", "a")
            store_judgment(item, user, {"preference": pref(*ranking)}, seconds=20)
    extra = add_items(sprint, 2, prefix="skip")
    skip_item(extra[0], careless)
    skip_item(extra[1], careless)
    report = sprint_agreement(sprint, bootstrap=0)
    by_name = {entry["username"]: entry for entry in report["annotators"]}
    good = by_name[users[0].username]
    bad = by_name[careless.username]
    assert good["consensus_agreement"] == 1.0
    assert good["consensus_units"] == 8
    assert bad["consensus_agreement"] == 0.0
    assert good["gold_accuracy"] == 1.0 and good["gold_items"] == 2
    assert bad["gold_accuracy"] == 0.0
    assert good["median_seconds"] == 30.0
    assert bad["median_seconds"] == 2.0
    assert bad["skip_rate"] == pytest.approx(2 / 10)
    assert good["skip_rate"] == 0.0
    assert good["judgments"] == 8 and good["pseudonym"] == "p-p"
    assert bad["outlier"] and len(bad["outlier_reasons"]) == 3
    assert not any(by_name[u.username]["outlier"] for u in users[:3])


def test_empty_sprint_has_no_alpha(db, sprint):
    report = sprint_agreement(sprint)
    assert report["items"] == 0 and report["judgments"] == 0
    assert report["criteria"]["preference"]["alpha"] is None
    assert report["criteria"]["preference"]["percent_agreement"] is None
    assert report["annotators"] == []


def test_response_keys_with_dots_and_underscores_are_read_as_keys(db, sprint, make_user):
    from annotation.models import Item, Response

    one, two = members(sprint, make_user, ["x", "y"])
    for index in range(3):
        item = Item.objects.create(
            sprint=sprint, external_id=f"odd-{index}", prompt="?", content_sha256=f"{index:064d}"
        )
        for position, key in enumerate(["NA", "second__two.x"]):
            Response.objects.create(item=item, key=key, text=key, position=position)
        store_judgment(item, one, {"preference": pref("NA", "second__two.x")})
        winner = ["NA", "second__two.x"] if index else ["second__two.x", "NA"]
        store_judgment(item, two, {"preference": pref(*winner)})
    figures = sprint_agreement(sprint, bootstrap=0)["criteria"]["preference"]
    assert figures["items"] == 3
    assert figures["percent_agreement"] == pytest.approx(2 / 3)


@pytest.mark.postgres
def test_parallel_read_reads_what_the_serial_plan_reads_and_restores_the_planner(
    db, sprint, make_user
):
    from django.db import connection

    from reviews.services.agreement_rows import read_rows

    items = add_items(sprint, 4)
    one, two = members(sprint, make_user, ["x", "y"])
    for index, item in enumerate(items):
        keys = [r.key for r in item.responses.order_by("position")]
        store_judgment(item, one, {"preference": pref(*keys, strength=index % 3)})
        store_judgment(item, two, {"preference": pref() if index == 2 else pref(*keys[::-1])})
    with connection.cursor() as cursor:
        cursor.execute("SET parallel_tuple_cost = 0.25")
        parallel, _ = read_rows(sprint)
        cursor.execute(
            "SELECT current_setting('parallel_tuple_cost'), current_setting('parallel_setup_cost'),"
            " current_setting('jit')"
        )
        # The test runs inside a transaction, where a transaction-local setting would linger.
        assert cursor.fetchone() == ("0.25", "1000", "on")
        cursor.execute("RESET parallel_tuple_cost")
    serial, _ = read_rows(sprint, parallel=False)

    def entries(rows):
        return sorted(
            (int(rows.item[row]), int(rows.annotator[row]), rows.keys[key], int(place))
            for row, key, place in zip(
                rows.entry_row, rows.entry_key, rows.entry_place, strict=True
            )
        )

    assert len(parallel.item) == 8
    # The tie (item 2, y) is read a row per response: its two entries are unranked.
    assert len(entries(parallel)) == 16
    assert entries(parallel) == entries(serial)
