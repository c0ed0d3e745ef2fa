"""Alert detection on crafted histories of one business."""

from datetime import date

from insights.alerts import BusinessNight, Rival, detect

MON, TUE = date(2026, 12, 7), date(2026, 12, 8)


def night(day, status="ok", rank=2, rivals=None, error=None):
    rivals = rivals if rivals is not None else {"a": 4.5, "b": 4.0, "c": 3.9}
    return BusinessNight(
        night=day,
        business_id="biz",
        name="Bean Theory",
        status=status,
        error=error,
        rank=rank,
        ranked_count=len(rivals) + 1,
        rivals={p: Rival(p, f"Rival {p.upper()}", r) for p, r in rivals.items()},
    )


def kinds(alerts):
    return sorted((a.kind, a.subject) for a in alerts)


def test_an_unchanged_night_raises_nothing():
    assert detect(night(TUE), night(MON), rating_step=0.2) == []


def test_the_first_night_of_a_found_business_raises_nothing():
    assert detect(night(TUE), None, rating_step=0.2) == []


def test_a_competitor_rating_move_of_at_least_the_step_is_an_alert():
    before = night(MON, rivals={"a": 4.1, "b": 4.0, "c": 3.9})
    tonight = night(TUE, rivals={"a": 4.3, "b": 4.1, "c": 3.5})
    alerts = detect(tonight, before, rating_step=0.2)
    # 4.1 -> 4.3 is exactly the step despite float arithmetic; 4.0 -> 4.1 is below it.
    assert kinds(alerts) == [("competitor_rating_change", "a"), ("competitor_rating_change", "c")]
    drop = next(a for a in alerts if a.subject == "c")
    assert drop.details["change"] == -0.4
    assert "Rival C" in drop.message and "3.9 to 3.5" in drop.message


def test_an_unrated_competitor_is_not_a_rating_move():
    before = night(MON, rivals={"a": None, "b": 4.0})
    tonight = night(TUE, rivals={"a": 4.8, "b": 4.0})
    assert detect(tonight, before, rating_step=0.2) == []


def test_competitors_entering_and_leaving_the_set():
    before = night(MON, rivals={"a": 4.5, "b": 4.0})
    tonight = night(TUE, rivals={"a": 4.5, "d": 4.7})
    alerts = detect(tonight, before, rating_step=0.2)
    assert kinds(alerts) == [("competitor_entered", "d"), ("competitor_left", "b")]


def test_an_empty_set_tonight_is_a_failed_search_not_every_competitor_leaving():
    assert detect(night(TUE, rivals={}), night(MON), rating_step=0.2) == []


def test_a_rank_drop_is_an_alert_and_a_rise_is_not():
    [drop] = detect(night(TUE, rank=4), night(MON, rank=2), rating_step=0.2)
    assert drop.kind == "rank_dropped"
    assert drop.details == {
        "previous_rank": 2,
        "rank": 4,
        "ranked_count": 4,
        "previous_night": MON.isoformat(),
    }
    assert detect(night(TUE, rank=1), night(MON, rank=2), rating_step=0.2) == []


def test_a_business_no_longer_found_is_said_once():
    gone = night(TUE, status="not_found", error="no Google Maps result matches")
    [alert] = detect(gone, night(MON), rating_step=0.2)
    assert alert.kind == "business_not_found"
    assert alert.details["last_found"] == MON.isoformat()
    assert "no Google Maps result" in alert.message
    # Still missing the next night: no repeat.
    later = night(date(2026, 12, 9), status="not_found")
    assert detect(later, gone, rating_step=0.2) == []


def test_a_failed_search_says_nothing_about_the_business():
    failed = night(TUE, status="error", rivals={}, rank=None, error="HTTP 500")
    assert detect(failed, night(MON), rating_step=0.2) == []


def test_alert_ids_are_stable_per_change_and_differ_between_changes():
    before = night(MON, rivals={"a": 4.5, "b": 4.0})
    tonight = night(TUE, rivals={"a": 4.5, "d": 4.7})
    first = detect(tonight, before, rating_step=0.2)
    again = detect(tonight, before, rating_step=0.2)
    assert [a.alert_id for a in first] == [a.alert_id for a in again]
    assert len({a.alert_id for a in first}) == len(first)
    payload = first[0].payload()
    assert payload["id"] == first[0].alert_id and payload["night"] == TUE.isoformat()
