from datetime import date

import pytest

from insights.competitors import Competitor
from insights.metrics import PreviousSnapshot, bayesian_rating, compute_metrics
from insights.places import Place


def rival(pid, rating, count, km=1.0, **fields):
    place = Place(pid, place_id=pid, rating=rating, review_count=count, **fields)
    return Competitor(place, rank=1, score=1.0, distance_km=km, category_overlap=1.0)


def test_bayesian_average_pulls_few_reviews_towards_the_mean():
    assert bayesian_rating(5.0, 2, 4.0, 100) == pytest.approx((100 * 4.0 + 2 * 5.0) / 102)
    assert bayesian_rating(5.0, 10_000, 4.0, 100) > 4.98
    assert bayesian_rating(None, 10, 4.0, 100) is None
    assert bayesian_rating(4.0, None, 4.0, 100) is None


def test_rank_and_percentile_use_adjusted_rating():
    business = Place("Me", place_id="ME", rating=4.8, review_count=400)
    rivals = [rival("A", 5.0, 3), rival("B", 4.2, 800), rival("C", 4.5, 200)]
    m = compute_metrics(business, rivals)
    assert m.set_mean_rating == pytest.approx((5.0 + 4.2 + 4.5) / 3, abs=1e-3)
    assert m.set_median_review_count == 200
    # The 5.0 from three reviews does not outrank 4.8 from four hundred.
    assert m.rank_in_set == 1
    assert m.ranked_count == 4
    assert m.percentile == 100.0
    assert m.nearest_competitor_km == 1.0


def test_unknown_business_rating_gives_unknown_rank_not_last():
    business = Place("Me", place_id="ME")
    m = compute_metrics(business, [rival("A", 4.0, 10)])
    assert m.rating is None and m.adjusted_rating is None
    assert m.rank_in_set is None and m.percentile is None


def test_rivals_with_unknown_ratings_are_left_out_of_means():
    business = Place("Me", place_id="ME", rating=4.0, review_count=50)
    m = compute_metrics(business, [rival("A", None, None), rival("B", 4.4, 50)])
    assert m.set_mean_rating == 4.4
    assert m.ranked_count == 2
    assert m.set_size == 2


def test_completeness_counts_only_fields_serper_shows_in_the_set():
    business = Place("Me", place_id="ME", website="https://me.com", categories=("Cafe",))
    rivals = [
        rival("A", 4.0, 10, phone="+1", website="https://a.com", categories=("Cafe",)),
        rival("B", 4.0, 10, categories=("Cafe",)),
    ]
    m = compute_metrics(business, rivals)
    # Nobody shows hours, price or a description here: unknown, not gaps.
    assert m.completeness_observable == ["website", "phone", "categories"]
    assert m.completeness_present == ["website", "categories"]
    assert m.completeness == pytest.approx(2 / 3, abs=1e-3)
    assert m.rival_field_share == {"website": 0.5, "phone": 0.5, "categories": 1.0}


def test_changes_since_previous_night():
    business = Place("Me", place_id="ME", rating=4.6, review_count=150)
    previous = PreviousSnapshot(date(2026, 12, 3), rating=4.5, review_count=100)
    m = compute_metrics(business, [rival("A", 4.0, 10)], previous)
    assert m.previous_night == date(2026, 12, 3)
    assert m.rating_change == pytest.approx(0.1)
    assert m.new_reviews == 50 and m.reviews_removed == 0
    assert m.implied_new_rating == pytest.approx(4.8, abs=0.01)


def test_a_drop_in_review_count_is_removal_not_negative_velocity():
    business = Place("Me", place_id="ME", rating=4.5, review_count=95)
    previous = PreviousSnapshot(date(2026, 12, 3), rating=4.5, review_count=100)
    m = compute_metrics(business, [], previous)
    assert m.new_reviews == 0 and m.reviews_removed == 5
    assert m.implied_new_rating is None


def test_implied_rating_needs_enough_new_reviews():
    business = Place("Me", place_id="ME", rating=4.6, review_count=103)
    previous = PreviousSnapshot(date(2026, 12, 3), rating=4.5, review_count=100)
    assert compute_metrics(business, [], previous).implied_new_rating is None
