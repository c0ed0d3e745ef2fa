import pytest

from insights.tracking import HeaderError, parse_tracked_csv

HEADER = "name,website,location,gl,hl\n"


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_kept():
    text = HEADER + (
        "Joe's Coffee,,Austin TX,us,en\n"  # line 2: good
        ",,Austin,us,en\n"  # line 3: neither name nor website
        "Cafe X,not a site,Berlin,de,de\n"  # line 4: bad website
        "Cafe Y,,Berlin,germany,de\n"  # line 5: bad gl
        "only,two\n"  # line 6: wrong field count
        ",https://example.com,,,\n"  # line 7: website only is fine
    )
    result = parse_tracked_csv(text)
    assert len(result.businesses) == 2
    assert [p.line for p in result.problems] == [3, 4, 5, 6]
    assert "name or a website" in result.problems[0].reason
    assert "gl 'germany'" in result.problems[2].reason


def test_duplicates_merge_and_fill_gaps():
    text = HEADER + (
        "Joe's Coffee,https://joes.com,Austin,,\nJoes Coffee,http://www.joes.com/?utm=1,,us,en\n"
    )
    result = parse_tracked_csv(text)
    assert result.merged == 1
    [business] = result.businesses
    assert (business.gl, business.hl, business.location) == ("us", "en", "Austin")


def test_quoted_fields_unicode_and_bom():
    text = "\ufeff" + HEADER + '"Café Müller, Mitte",,"Berlin, Germany",DE,de\n'
    [business] = parse_tracked_csv(text).businesses
    assert business.name == "Café Müller, Mitte"
    assert business.gl == "de"


@pytest.mark.parametrize("text", ["", "name,url\nx,y\n", "name,website,location\n"])
def test_wrong_header_is_refused_whole(text):
    with pytest.raises(HeaderError):
        parse_tracked_csv(text)


def test_a_website_added_later_or_a_shorter_location_is_the_same_business():
    text = HEADER + (
        'XCafe,,"Austin, TX",,\n'
        'XCafe,https://xcafe.example/,"Austin, TX",us,en\n'
        "XCafe,,Austin,,\n"
    )
    result = parse_tracked_csv(text)
    assert result.merged == 2
    [business] = result.businesses
    assert business.website == "https://xcafe.example/" and business.gl == "us"


def test_branches_given_with_their_addresses_stay_apart():
    text = HEADER + (
        'Starbucks,,"12 Main St, Austin",,\n'
        'Starbucks,,"9 Oak Ave, Austin",,\n'
    )
    assert len(parse_tracked_csv(text).businesses) == 2
