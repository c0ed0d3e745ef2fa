"""The sample market and the local Serper and LLM stand-ins behave like the real services."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import BaseModel

from standins._cities import distance_km
from standins._text import place_categories
from standins.llm_server import LLMStandin
from standins.market import SampleMarket
from standins.serper_server import SerperStandin

AUSTIN = "Austin, Texas, United States"
TORONTO = "Toronto, Ontario, Canada"
REPO = Path(__file__).resolve().parents[1]
CENTRES = {
    "austin": (30.2672, -97.7431),
    "berlin": (52.533, 13.406),
    "tokyo": (35.659, 139.700),
    "toronto": (43.650, -79.400),
}


@pytest.fixture(scope="module")
def market() -> SampleMarket:
    return SampleMarket.load_bundled()


def maps(market: SampleMarket, **body) -> dict:
    status, answer = market.answer("/maps", body)
    assert status == 200, answer
    return answer


def titles(answer: dict) -> list[str]:
    return [p["title"] for p in answer["places"]]


# --------------------------------------------------------------------- bundled data


def test_bundled_market_carries_the_quirks_of_real_serper_data(market):
    places = market.places
    assert len(places) >= 100
    assert all("position" not in p for p in places), "position is assigned per response"
    assert all(isinstance(p["cid"], str) for p in places)
    assert any(int(p["cid"]) > 2**63 for p in places)
    assert all(p["placeId"].startswith("ChIJ") and len(p["placeId"]) == 27 for p in places)
    assert all(re.fullmatch(r"0x[0-9a-f]{16}:0x[0-9a-f]+", p["fid"]) for p in places)
    assert any("rating" not in p and "ratingCount" not in p and "address" in p for p in places)
    assert any(type(p.get("rating")) is int for p in places)
    assert any(type(p.get("rating")) is float for p in places)
    assert any(
        set(p) == {"title", "latitude", "longitude", "cid", "fid", "placeId"} for p in places
    )
    assert {"Berlin", "Austin, TX"} <= {p.get("address") for p in places}
    assert any("Montag" in p.get("openingHours", {}) for p in places)
    assert any("月曜日" in p.get("openingHours", {}) for p in places)
    hours = [v for p in places for v in p.get("openingHours", {}).values()]
    assert "Open 24 hours" in hours and "Closed" in hours and any("–" in h for h in hours)
    prices = {p.get("priceLevel") for p in places}
    assert {"€10–20", "¥1,000~2,000", "$$"} <= prices
    assert any("description" in p for p in places) and any("description" not in p for p in places)

    chain = [p for p in places if p.get("phoneNumber") == "(512) 555-0142"]
    assert len({p["title"] for p in chain}) == 1
    assert len({p["placeId"] for p in chain}) == len({p["address"] for p in chain}) >= 3
    sites = [p["website"] for p in chain]
    assert any(s.startswith("http://") for s in sites) and any("utm_source" in s for s in sites)


def test_each_city_has_eight_to_twelve_places_per_category(market):
    for city, (lat, lng) in CENTRES.items():
        for query in ("coffee shop", "dentist", "hair salon"):
            answer = maps(market, q=query, ll=f"@{lat},{lng},12z", num=20)
            assert 8 <= len(answer["places"]) <= 12, (city, query, titles(answer))


# --------------------------------------------------------------------- lookups


def test_name_and_location_find_the_business_with_accents_folded(market):
    answer = maps(market, q="Café Müller", location="Berlin, Germany", gl="de", hl="de")
    assert titles(answer)[0] == "Café Müller"
    assert titles(maps(market, q="Cafe Mueller Berlin"))[0] == "Café Müller"
    assert titles(maps(market, q="Friseur Yildiz", location="Berlin"))[0] == "Friseur Yıldız"
    assert titles(maps(market, q="珈琲館 渋谷店", location="Tokyo, Japan"))[0] == "珈琲館 渋谷店"


def test_location_separates_places_sharing_a_title(market):
    austin = maps(market, q="Studio 7 Hair Salon", location=AUSTIN)["places"][0]
    toronto = maps(market, q="Studio 7 Hair Salon", location=TORONTO)["places"][0]
    assert "Austin" in austin["address"] and "Toronto" in toronto["address"]


def test_street_words_pick_the_branch_of_a_chain(market):
    answer = maps(market, q="Bean Theory Coffee E 6th St", location=AUSTIN)
    assert titles(answer).count("Bean Theory Coffee") == 3
    assert answer["places"][0]["address"].startswith("905 E 6th St")


def test_website_domain_finds_every_branch_whatever_the_url_variant(market):
    answer = maps(market, q="beantheory.coffee")
    assert titles(answer) == ["Bean Theory Coffee"] * 3
    assert titles(maps(market, q="https://www.zilkersmiles.com/"))[0] == "Zilker Smiles Dental"


def test_place_id_and_cid_look_up_one_place(market):
    place = next(p for p in market.places if int(p["cid"]) > 2**63)
    assert maps(market, placeId=place["placeId"])["places"][0]["cid"] == place["cid"]
    by_cid = maps(market, cid=int(place["cid"]))
    assert [p["placeId"] for p in by_cid["places"]] == [place["placeId"]]
    assert by_cid["places"][0]["position"] == 1
    assert maps(market, placeId="ChIJ-not-a-real-place-id-xx")["places"] == []


def test_tracked_sample_rows_all_resolve(market):
    rows = market.tracked_rows()
    assert len(rows) >= 10
    assert {(r["gl"], r["hl"]) for r in rows} >= {("de", "de"), ("jp", "ja")}
    assert any(not r["name"] and r["website"] for r in rows)
    for row in rows:
        body = {"q": row["name"] or row["website"], "gl": row["gl"], "hl": row["hl"]}
        if row["location"]:
            body["location"] = row["location"]
        found = maps(market, **body)["places"]
        assert found, row
        if row["name"]:
            assert row["name"] in [p["title"] for p in found], row


# --------------------------------------------------------------------- nearby and paging


def test_nearby_category_search_is_sorted_by_distance_and_billed_by_page_size(market):
    lat, lng = CENTRES["austin"]
    answer = maps(market, q="coffee shop", ll=f"@{lat},{lng},13z")
    assert answer["ll"] == f"@{lat},{lng},13z"
    places = answer["places"]
    assert len(places) > 10 and answer["credits"] == 2
    assert [p["position"] for p in places] == list(range(1, len(places) + 1))
    assert all("coffee" in place_categories(p) for p in places)
    distances = [distance_km(lat, lng, p["latitude"], p["longitude"]) for p in places]
    assert distances == sorted(distances)

    small = maps(market, q="coffee shop", ll=f"@{lat},{lng},13z", num=5)
    assert small["credits"] == 1 and titles(small) == titles(answer)[:5]


def test_category_queries_match_localised_types(market):
    lat, lng = CENTRES["berlin"]
    cafes = maps(market, q="coffee shop", ll=f"@{lat},{lng},14z")["places"]
    assert cafes and all("coffee" in place_categories(p) for p in cafes)
    assert any(p.get("type") == "Café" for p in cafes)
    lat, lng = CENTRES["tokyo"]
    dentists = maps(market, q="dentists", ll=f"@{lat},{lng},14z")["places"]
    assert dentists and any("歯科医院" in p.get("types", []) for p in dentists)


def test_page_two_needs_ll(market):
    status, answer = market.answer("/maps", {"q": "coffee shop Austin", "page": 2})
    assert status == 400 and answer["statusCode"] == 400 and answer["message"]

    lat, lng = CENTRES["austin"]
    first = maps(market, q="coffee shop", ll=f"@{lat},{lng},13z", num=5)
    second = maps(market, q="coffee shop", ll=f"@{lat},{lng},13z", num=5, page=2)
    assert second["places"][0]["position"] == 1
    assert not {p["placeId"] for p in first["places"]} & {p["placeId"] for p in second["places"]}


def test_bad_requests_and_unknown_paths(market):
    assert market.answer("/search", {"q": "x"})[0] == 404
    assert market.answer("/maps", {"q": "coffee", "ll": "30.2,-97.7,zz"})[0] == 400
    assert market.answer("/maps", {"gl": "us"})[0] == 400


def test_places_endpoint_sends_its_smaller_record(market):
    status, answer = market.answer("/places", {"q": "Barton Creek Dental", "location": AUSTIN})
    assert status == 200
    place = answer["places"][0]
    assert place["category"] == "Dentist" and place["ratingCount"] == 6703
    assert not {"placeId", "fid", "openingHours", "types"} & set(place)
    # Serper has been seen to cut counts at a dot thousands separator ("6.703" -> 6).
    german = market.answer("/places", {"q": "Barton Creek Dental", "location": AUSTIN, "hl": "de"})
    assert german[1]["places"][0]["ratingCount"] == 6


# --------------------------------------------------------------------- drift by date


def test_drift_is_deterministic_per_date_and_differs_across_dates(market):
    def snapshot(day):
        answer = SampleMarket.load_bundled(as_of=day).answer("/maps", {"q": "dentist in Austin"})
        return {p["placeId"]: p for p in answer[1]["places"]}

    march, march_again, june = (
        snapshot(date(2026, 3, 1)),
        snapshot(date(2026, 3, 1)),
        snapshot(date(2026, 6, 1)),
    )
    assert march == march_again
    assert march != june
    base = {p["placeId"]: p for p in market.places}
    for pid, place in june.items():
        if "rating" not in base[pid]:
            assert "rating" not in place and "ratingCount" not in place
        else:
            assert abs(place["rating"] - base[pid]["rating"]) <= 0.1 + 1e-9
    grown = [
        pid for pid in june if june[pid].get("ratingCount", 0) > march[pid].get("ratingCount", 0)
    ]
    assert grown
    before_epoch = SampleMarket.load_bundled(as_of=date(2025, 12, 1))
    body = {"q": "dentist in Austin"}
    assert before_epoch.answer("/maps", body) == market.answer("/maps", body)


# --------------------------------------------------------------------- Serper stand-in


def test_serper_server_rejects_a_bad_key_with_403(market):
    with SerperStandin(market, api_key="right") as server:
        bad = httpx.post(f"{server.url}/maps", json={"q": "x"}, headers={"X-API-KEY": "wrong"})
        missing = httpx.post(f"{server.url}/maps", json={"q": "x"})
        good = httpx.post(
            f"{server.url}/maps", json={"q": "Maple Leaf Roasters"}, headers={"X-API-KEY": "right"}
        )
    assert bad.status_code == missing.status_code == 403
    assert bad.json() == {"message": "Unauthorized.", "statusCode": 403}
    assert good.status_code == 200 and good.json()["places"][0]["title"] == "Maple Leaf Roasters"


def test_serper_server_answers_429_over_its_rps_limit(market):
    with SerperStandin(market, rps_limit=3) as server, httpx.Client(base_url=server.url) as c:
        replies = [c.post("/maps", json={"q": "dentist in Toronto"}) for _ in range(6)]
        stats = server.stats
    assert [r.status_code for r in replies] == [200, 200, 200, 429, 429, 429]
    assert all("retry-after" not in r.headers for r in replies)
    assert replies[-1].json()["statusCode"] == 429
    assert stats["rate_limited"] == 3 and stats["max_rps_seen"] == 6
    assert stats["credits_billed"] == 3 and stats["ok"] == 3


def test_serper_server_plays_scripted_faults_in_order(market):
    body = {"q": "Café Müller", "location": "Berlin, Germany"}
    server = SerperStandin(market).start()
    try:
        server.script(["500", "429", "truncated", "502", "timeout"])
        with httpx.Client(base_url=server.url, timeout=0.5) as client:
            replies = [client.post("/maps", json=body) for _ in range(4)]
            with pytest.raises(httpx.ReadTimeout):
                client.post("/maps", json=body)
            after = client.post("/maps", json=body)
        stats = httpx.get(f"{server.url}/_stats").json()
    finally:
        started = time.monotonic()
        server.stop()
        stop_seconds = time.monotonic() - started
    assert [r.status_code for r in replies] == [500, 429, 200, 502]
    assert replies[0].json()["statusCode"] == 500
    with pytest.raises(json.JSONDecodeError):
        json.loads(replies[2].text)
    assert replies[3].headers["content-type"].startswith("text/html")
    assert after.status_code == 200 and after.json()["places"][0]["title"] == "Café Müller"
    assert stats["ok"] == 1 and stats["credits_billed"] == 1 and stats["faults_injected"] == 5
    assert stop_seconds < 2, "a hanging 'timeout' fault must not hold up shutdown"


def test_serper_server_bills_credits_until_they_run_out(market):
    with SerperStandin(market, credits_left=3) as server, httpx.Client(base_url=server.url) as c:
        codes = [c.post("/maps", json={"q": "coffee shop Austin"}).status_code for _ in range(3)]
        stats = server.stats
    # Twelve Austin coffee shops fill one page: two credits a call.
    assert codes == [200, 200, 429]
    assert stats["credits_billed"] == 4 and stats["credits_exhausted"] == 1


def test_serper_server_serves_concurrent_keepalive_clients(market):
    results: list[int] = []

    def client_loop(server_url: str) -> None:
        with httpx.Client(base_url=server_url) as c:
            for _ in range(3):
                results.append(c.post("/maps", json={"q": "hair salon Toronto"}).status_code)

    with SerperStandin(market, latency_s=0.2) as server:
        started = time.monotonic()
        threads = [threading.Thread(target=client_loop, args=(server.url,)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    assert results == [200] * 60
    # Sixty calls of 0.2 s take 12 s one after another; concurrently about 0.6 s.
    assert elapsed < 4


# --------------------------------------------------------------------- LLM stand-in


class Competitor(BaseModel):
    name: str
    rating: float | None
    reviews: int


class Report(BaseModel):
    summary: str
    competitors: list[Competitor]
    actions: list[str]
    confident: bool


REPORT_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "report", "schema": Report.model_json_schema(), "strict": True},
}


def first_json_value(text: str):
    """What a tolerant client does: drop think blocks and fences, decode the first value."""
    text = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL).strip()
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text).strip()
    value, _ = json.JSONDecoder().raw_decode(text)
    return value


@pytest.mark.parametrize("mode", ["plain", "fenced", "think", "citations"])
def test_llm_standin_answers_schema_json_through_the_openai_sdk(mode):
    with LLMStandin(mode=mode) as standin:
        client = openai.OpenAI(base_url=standin.url, api_key="x", max_retries=0, timeout=5)
        reply = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Compare these competitors."}],
            response_format=REPORT_FORMAT,
        )
        request = standin.requests[-1]
        stats = standin.stats
    content = reply.choices[0].message.content
    report = Report.model_validate(first_json_value(content))
    assert len(report.competitors) == 2 and report.confident is True
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert request["response_format"]["json_schema"]["name"] == "report"
    assert stats["requests"] == 1 and stats["completion_tokens"] == reply.usage.completion_tokens
    if mode == "fenced":
        assert content.startswith("```json")
    if mode == "think":
        assert content.startswith("<think>")
    if mode == "citations":
        assert "[1] https://example.com" in content


def test_llm_standin_satisfies_the_sdk_parse_helper():
    with LLMStandin() as standin:
        client = openai.OpenAI(base_url=standin.url, api_key="x", max_retries=0, timeout=5)
        reply = client.chat.completions.parse(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Write the report."}],
            response_format=Report,
        )
    assert isinstance(reply.choices[0].message.parsed, Report)


def test_llm_standin_without_schema_answers_prose():
    with LLMStandin() as standin:
        client = openai.OpenAI(base_url=standin.url, api_key="x", max_retries=0, timeout=5)
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Say hello."}]
        )
    content = reply.choices[0].message.content
    assert content and not content.lstrip().startswith(("{", "["))


def test_llm_standin_streams_the_same_answer_when_asked():
    with LLMStandin() as standin:
        client = openai.OpenAI(base_url=standin.url, api_key="x", max_retries=0, timeout=5)
        chunks = list(
            client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "x"}],
                response_format=REPORT_FORMAT,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert Report.model_validate_json(text)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_llm_standin_plays_provider_failures():
    with LLMStandin(api_key="secret") as standin:
        bad = openai.OpenAI(base_url=standin.url, api_key="wrong", max_retries=0, timeout=5)
        with pytest.raises(openai.AuthenticationError) as auth:
            bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert auth.value.code == "invalid_api_key"

        client = openai.OpenAI(base_url=standin.url, api_key="secret", max_retries=0, timeout=5)

        def ask():
            return client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "x"}],
                response_format=REPORT_FORMAT,
            )

        standin.script(["context", "quota", "429", "vllm_error", "truncated", "invalid"])
        with pytest.raises(openai.BadRequestError) as context:
            ask()
        assert context.value.code == "context_length_exceeded"
        with pytest.raises(openai.RateLimitError) as quota:
            ask()
        assert quota.value.code == "insufficient_quota"
        with pytest.raises(openai.RateLimitError) as limited:
            ask()
        assert limited.value.code == "rate_limit_exceeded"
        with pytest.raises(openai.BadRequestError) as vllm:
            ask()
        assert vllm.value.body.get("object") == "error"
        truncated = ask().choices[0]
        assert truncated.finish_reason == "length"
        with pytest.raises(json.JSONDecodeError):
            json.loads(truncated.message.content)
        with pytest.raises(ValueError):
            first_json_value(ask().choices[0].message.content)
        assert Report.model_validate(first_json_value(ask().choices[0].message.content))
        stats = standin.stats
    assert stats["by_status"] == {"401": 1, "400": 2, "429": 2, "200": 3}
    with pytest.raises(ValueError):
        LLMStandin().script(["no-such-fault"])


# --------------------------------------------------------------------- synthetic market


def test_synthetic_market_of_1000_businesses_resolves_every_tracked_row():
    started = time.perf_counter()
    market = SampleMarket.synthetic(1000)
    built = time.perf_counter() - started
    print(f"synthetic market: 1,000 businesses, {len(market.places):,} places in {built:.2f} s")
    rows = market.tracked_rows()
    assert len(rows) == 1000
    assert 14 * 1000 <= len(market.places) <= 18 * 1000
    for row in rows:
        status, answer = market.answer(
            "/maps", {"q": row["name"], "location": row["location"], "gl": row["gl"]}
        )
        assert status == 200 and answer["places"][0]["title"] == row["name"], row

    own = next(p for p in market.places if p["title"] == rows[0]["name"])
    nearby = maps(market, q=own["type"], ll=f"@{own['latitude']},{own['longitude']},14z", num=20)[
        "places"
    ]
    assert nearby[0]["placeId"] == own["placeId"] and len(nearby) >= 10


def test_synthetic_market_is_deterministic_per_seed():
    first, again, other = (
        SampleMarket.synthetic(40),
        SampleMarket.synthetic(40),
        SampleMarket.synthetic(40, seed=8),
    )
    assert first.places == again.places and first.tracked_rows() == again.tracked_rows()
    assert first.places != other.places


# --------------------------------------------------------------------- command lines


def _start(module: str, *args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_command_lines_print_their_url_and_stop_on_sigterm():
    serper, line = _start("standins.serper_server", "--synthetic", "30", "--api-key", "K")
    try:
        name, _, url = line.partition("=")
        assert name == "SERPER_BASE_URL" and url.startswith("http://127.0.0.1:")
        reply = httpx.post(f"{url}/maps", json={"q": "dentist"}, headers={"X-API-KEY": "K"})
        assert reply.status_code == 200 and reply.json()["places"]
    finally:
        assert _stop(serper) == 0

    llm, line = _start("standins.llm_server", "--mode", "fenced")
    try:
        name, _, url = line.partition("=")
        assert name == "OPENAI_BASE_URL" and url.endswith("/v1")
        reply = httpx.post(
            f"{url}/chat/completions",
            json={"model": "m", "messages": [], "response_format": REPORT_FORMAT},
        )
        assert reply.json()["choices"][0]["message"]["content"].startswith("```json")
    finally:
        assert _stop(llm) == 0
