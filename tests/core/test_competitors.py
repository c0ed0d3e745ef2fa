from insights.competitors import choose_competitors
from insights.places import Place

HOME = Place("Home Cafe", place_id="HOME", latitude=30.0, longitude=-97.0,
             categories=("Coffee shop",), category="Coffee shop")  # fmt: skip


def place(pid, title="X", km_north=0.5, categories=("Coffee shop",), reviews=100, **kw):
    return Place(title, place_id=pid, latitude=30.0 + km_north / 111.2, longitude=-97.0,
                 categories=categories, category=categories[0] if categories else None,
                 review_count=reviews, **kw)  # fmt: skip


def test_excludes_the_business_itself_and_duplicates():
    same = place("HOME", title="Home Cafe")
    a = place("A")
    chosen = choose_competitors(HOME, [same, a, a, place("B")], top_k=5)
    assert sorted(c.place.place_id for c in chosen) == ["A", "B"]


def test_chain_branches_sharing_a_name_are_different_places():
    branches = [place(f"CHAIN{i}", title="Starbucks", km_north=i) for i in range(1, 4)]
    chosen = choose_competitors(HOME, branches, top_k=5)
    assert len(chosen) == 3


def test_same_category_and_nearer_ranks_higher_and_reasons_explain():
    near_same = place("NEAR", km_north=0.3)
    far_same = place("FAR", km_north=4.0)
    near_other = place("OTHER", km_north=0.3, categories=("Bakery",))
    chosen = choose_competitors(HOME, [far_same, near_other, near_same], top_k=3)
    assert [c.place.place_id for c in chosen][0] == "NEAR"
    assert chosen[0].rank == 1
    assert chosen[0].distance_km is not None and 0.25 < chosen[0].distance_km < 0.35
    assert any("same category" in r for r in chosen[0].reasons)
    assert any("km away" in r for r in chosen[0].reasons)
    assert [c.rank for c in chosen] == [1, 2, 3]


def test_top_k_limits_and_places_without_identity_are_left_out():
    nameless = Place("No id", latitude=30.0, longitude=-97.0)
    chosen = choose_competitors(HOME, [nameless] + [place(f"P{i}") for i in range(8)], top_k=4)
    assert len(chosen) == 4
    assert all(c.place.place_id for c in chosen)


def test_unknown_distance_and_reviews_are_said_so():
    vague = Place("Vague", place_id="V", categories=("Coffee shop",), category="Coffee shop")
    [chosen] = choose_competitors(HOME, [vague], top_k=1)
    assert chosen.distance_km is None
    assert "distance unknown" in chosen.reasons
    assert "review count unknown" in chosen.reasons
