import pytest

from insights.places import ResponseShapeError, parse_place, parse_places


def test_a_result_without_title_is_not_a_place():
    assert parse_place({"placeId": "ChIJx", "rating": 4.5}) is None
    assert parse_place("not a dict") is None


def test_missing_rating_and_count_stay_unknown_not_zero():
    place = parse_place({"title": "Bare", "placeId": "ChIJbare"})
    assert place.rating is None
    assert place.review_count is None
    assert place.categories == ()


def test_integer_and_float_ratings_and_locale_counts():
    assert parse_place({"title": "A", "rating": 5}).rating == 5.0
    assert parse_place({"title": "A", "rating": "4,6"}).rating == 4.6
    assert parse_place({"title": "A", "ratingCount": "6,703"}).review_count == 6703
    assert parse_place({"title": "A", "ratingCount": "6.703"}).review_count == 6703
    assert parse_place({"title": "A", "ratingCount": 12.0}).review_count == 12


def test_impossible_values_become_unknown():
    place = parse_place({"title": "A", "rating": 7, "latitude": 123, "ratingCount": -4})
    assert (place.rating, place.latitude, place.review_count) == (None, None, None)


def test_cid_beyond_64_bits_is_kept_exactly_as_text():
    big = "17323923923411234567"
    assert parse_place({"title": "A", "cid": big}).cid == big
    assert parse_place({"title": "A", "cid": int(big)}).cid == big
    # A float has already lost digits upstream: refusing it beats a wrong identity.
    assert parse_place({"title": "A", "cid": 1.7323923923411235e19}).cid is None


def test_identity_prefers_place_id_then_cid():
    assert parse_place({"title": "A", "placeId": "P", "cid": "1"}).identity == "P"
    assert parse_place({"title": "A", "cid": "1"}).identity == "cid:1"
    assert parse_place({"title": "A"}).identity is None


def test_categories_merge_type_and_types_without_duplicates():
    place = parse_place({"title": "A", "type": "Café", "types": ["café", "Bakery"]})
    assert place.category == "Café"
    assert place.categories == ("Café", "Bakery")


def test_localised_hours_and_free_text_price_are_kept_as_they_come():
    hours = {"Montag": "08:00–18:00", "Dienstag": "Geschlossen"}
    place = parse_place({"title": "A", "openingHours": hours, "priceLevel": "1-100.000 ₫"})
    assert place.opening_hours == hours
    assert place.price_level == "1-100.000 ₫"


def test_answer_without_places_key_has_no_places_and_non_object_is_an_error():
    assert parse_places({"searchParameters": {}}) == []
    assert [p.title for p in parse_places({"places": [{"title": "A"}, {}, None]})] == ["A"]
    with pytest.raises(ResponseShapeError):
        parse_places(["not", "an", "object"])
