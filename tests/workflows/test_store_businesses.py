"""Importing tracked businesses into the warehouse, again and again."""

from insights.tracking import make_business
from resources.warehouse import Warehouse
from workflows.tracking import import_csv_text, store_businesses

HEADER = "name,website,location,gl,hl\n"


def open_warehouse(tmp_path):
    warehouse = Warehouse.from_url(f"duckdb:///{tmp_path}/w.duckdb")
    warehouse.migrate()
    return warehouse


def test_a_second_import_with_more_detail_updates_instead_of_adding(tmp_path):
    warehouse = open_warehouse(tmp_path)
    first = import_csv_text(warehouse, HEADER + 'XCafe,,"Austin, TX",,\n', "live")
    warehouse.execute("UPDATE tracked_businesses SET place_id = 'ChIJknown'")
    second = import_csv_text(warehouse, HEADER + "XCafe,https://x.example/,Austin,us,en\n", "live")
    assert (first.added, second.added, second.updated) == (1, 0, 1)
    [row] = warehouse.query("SELECT * FROM tracked_businesses")
    # The identity found on earlier nights survives the richer description.
    assert row["place_id"] == "ChIJknown"
    assert row["website"] == "https://x.example/" and row["location"] == "Austin"


def test_a_comparison_of_a_tracked_business_does_not_shadow_it(tmp_path):
    warehouse = open_warehouse(tmp_path)
    import_csv_text(
        warehouse, HEADER + 'Bean Theory,https://bean.example/,"Austin, TX",,\n', "live"
    )
    compared = make_business("Bean Theory", None, "Austin")
    store_businesses(warehouse, [compared], "live", active=False)
    rows = warehouse.query("SELECT business_id, active FROM tracked_businesses")
    assert len(rows) == 1 and rows[0]["active"] is True
    assert compared.business_id == rows[0]["business_id"]


def test_a_queued_request_keeps_its_own_id(tmp_path):
    warehouse = open_warehouse(tmp_path)
    import_csv_text(warehouse, HEADER + 'Bean Theory,,"Austin, TX",,\n', "live")
    requested = make_business("Bean Theory", None, "Austin")
    own_id = requested.business_id
    store_businesses(warehouse, [requested], "live", active=False, merge_known=False)
    ids = {r["business_id"] for r in warehouse.query("SELECT business_id FROM tracked_businesses")}
    assert own_id in ids and len(ids) == 2
