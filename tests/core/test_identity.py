from insights.identity import business_key, name_similarity, normalize_domain, pick_business
from insights.places import Place


def test_domains_normalise_across_scheme_www_path_and_tracking():
    variants = [
        "https://www.Example.com/menu?utm_source=gmb",
        "http://example.com",
        "example.com/",
        "m.example.com",
    ]
    assert {normalize_domain(v) for v in variants} == {"example.com"}
    assert normalize_domain("not a site") is None
    assert normalize_domain("") is None


def test_names_match_despite_case_accents_and_suffixes():
    assert name_similarity("Café Müller", "CAFE MULLER") == 1.0
    assert name_similarity("Joe's Coffee", "Joes Coffee Austin") >= 0.72
    assert name_similarity("Joe's Coffee", "Joe's Pizza") < 0.72


def test_business_key_is_stable_and_website_wins():
    a = business_key("Joe's Coffee", "https://joes.com", "Austin")
    b = business_key("Joes Coffee Shop", "http://www.joes.com/?x=1", "Austin, TX")
    assert a == b
    assert business_key("A", None, "Berlin") != business_key("A", None, "Munich")
    assert business_key("A", None, "Berlin") == business_key("a", None, " berlin ")


def test_pick_prefers_known_identity_then_website_then_name():
    p1 = Place("Joe's Coffee", place_id="P1", website="https://other.com")
    p2 = Place("Joe's Coffee", place_id="P2", website="https://joes.com/?utm=1")
    p3 = Place("Joe's Coffee Bar", place_id="P3")
    assert pick_business([p1, p2, p3], name="x", website=None, known_identity="P3").place is p3
    assert pick_business([p1, p2, p3], name="Joe's Coffee", website="joes.com").place is p2
    assert pick_business([p1, p3], name="Joe's Coffee", website=None).place is p1


def test_pick_refuses_an_unconvincing_match():
    candidates = [Place("Pizza Palace", place_id="P")]
    assert pick_business(candidates, name="Joe's Coffee", website=None) is None
    assert pick_business(candidates, name=None, website="joes.com") is None
