"""Market data: bundled series, date ranges, the OHLCV rules and atomic CSV imports."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData, SeriesInfo, validate_bars
from ktrdr.errors import DataValidationError, InvalidRequestError, NotFoundError

HEADER = "Date,Open,High,Low,Close,Volume\n"
GOOD_ROWS = (
    "2024-01-02,10,11,9,10.5,1000\n"
    "2024-01-03,10.5,12,10,11.5,1200\n"
    "2024-01-04,11.5,11.75,10.25,11,900\n"
)


@pytest.fixture
def market(tmp_path: Path) -> MarketData:
    return MarketData(tmp_path / "data")


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stored_files(market: MarketData) -> list[str]:
    if not market.market_dir.exists():
        return []
    return sorted(p.name for p in market.market_dir.iterdir())


# --- bundled series -------------------------------------------------------------------------


def test_list_series_has_the_bundled_series(market: MarketData) -> None:
    assert market.list_series() == [
        SeriesInfo(
            symbol=symbol,
            timeframe="1d",
            bars=5031,
            first="1999-01-04T00:00:00",
            last="2018-12-31T00:00:00",
            source="bundled",
        )
        for symbol in ("NASDAQ", "SP500")
    ]


def test_bundled_series_loads_real_prices(market: MarketData) -> None:
    bars = market.load("SP500")
    assert (bars.symbol, bars.timeframe, len(bars)) == ("SP500", "1d", 5031)
    assert bars.timestamps.dtype == np.dtype("datetime64[s]")
    assert bars.close[0] == pytest.approx(1228.099976)
    assert bars.volume[0] == 877_000_000
    validate_bars(bars)


def test_symbols_are_case_insensitive(market: MarketData) -> None:
    assert market.load("sp500") is market.load("Sp500")  # one parsed copy, cached
    assert market.load("nasdaq").symbol == "NASDAQ"


def test_loaded_arrays_are_read_only_because_they_are_shared(market: MarketData) -> None:
    bars = market.load("SP500")
    with pytest.raises(ValueError, match="read-only"):
        bars.close[0] = 1.0


def test_date_range_is_inclusive(market: MarketData) -> None:
    bars = market.load("SP500", start=date(2010, 1, 4), end=date(2010, 1, 8))
    assert len(bars) == 5
    assert (bars.first_timestamp, bars.last_timestamp) == (
        "2010-01-04T00:00:00",
        "2010-01-08T00:00:00",
    )


def test_open_ended_ranges(market: MarketData) -> None:
    tail = market.load("SP500", start=date(2018, 12, 24))
    assert tail.first_timestamp == "2018-12-24T00:00:00"
    assert tail.last_timestamp == "2018-12-31T00:00:00"
    head = market.load("SP500", end=date(1999, 1, 6))
    assert len(head) == 3
    # A range wider than the data is clipped to what exists.
    assert len(market.load("SP500", start=date(1990, 1, 1), end=date(2030, 1, 1))) == 5031


def test_empty_range_names_the_range_and_the_available_span(market: MarketData) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        market.load("SP500", start=date(2010, 1, 9), end=date(2010, 1, 10))  # a weekend
    message = caught.value.message
    assert "2010-01-09 to 2010-01-10" in message
    assert "1999-01-04T00:00:00 to 2018-12-31T00:00:00" in message
    with pytest.raises(InvalidRequestError, match="no SP500 1d bars from 2020-01-01 to …"):
        market.load("SP500", start=date(2020, 1, 1))


def test_start_after_end_is_refused(market: MarketData) -> None:
    with pytest.raises(InvalidRequestError, match="start 2011-01-01 is after end 2010-01-01"):
        market.load("SP500", start=date(2011, 1, 1), end=date(2010, 1, 1))


def test_unknown_symbol_or_timeframe_lists_what_exists(market: MarketData) -> None:
    with pytest.raises(NotFoundError, match="available: NASDAQ 1d, SP500 1d") as caught:
        market.load("DAX")
    assert caught.value.details["available"] == ["NASDAQ 1d", "SP500 1d"]
    with pytest.raises(NotFoundError, match="no market data for SP500 1h"):
        market.load("SP500", "1h")


# --- validate_bars --------------------------------------------------------------------------


def make_bars(**overrides: list[float]) -> Bars:
    columns: dict[str, list[float]] = {
        "open": [10, 10, 10],
        "high": [11, 11, 11],
        "low": [9, 9, 9],
        "close": [10, 10, 10],
        "volume": [5, 5, 5],
    }
    columns.update(overrides)
    return Bars(
        symbol="TEST",
        timeframe="1d",
        timestamps=np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="datetime64[s]"),
        **{name: np.array(values, dtype=np.float64) for name, values in columns.items()},
    )


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"close": [10, 10, np.nan]}, "finite_prices"),
        ({"high": [11, 11, np.inf]}, "finite_prices"),
        ({"low": [9, 9, -1]}, "positive_prices"),
        ({"low": [9, 9, 0]}, "positive_prices"),
        ({"high": [11, 11, 10.5], "close": [10, 10, 10.75]}, "high_covers_open_close"),
        ({"low": [9, 9, 10.5]}, "low_covers_open_close"),
        ({"volume": [5, 5, np.nan]}, "finite_volume"),
        ({"volume": [5, 5, -1]}, "non_negative_volume"),
    ],
)
def test_validate_bars_names_the_row_timestamp_and_rule(
    overrides: dict[str, list[float]], rule: str
) -> None:
    with pytest.raises(DataValidationError) as caught:
        validate_bars(make_bars(**overrides))
    assert caught.value.details == {"row": 2, "timestamp": "2024-01-03T00:00:00", "rule": rule}
    assert "row 2 (2024-01-03T00:00:00)" in caught.value.message


@pytest.mark.parametrize(
    ("stamps", "rule"),
    [
        (["2024-01-01", "2024-01-02", "2024-01-02"], "unique_timestamps"),
        (["2024-01-01", "2024-01-03", "2024-01-02"], "sorted_timestamps"),
        (["2024-01-01", "2024-01-02", "NaT"], "timestamp_present"),
    ],
)
def test_validate_bars_checks_timestamps(stamps: list[str], rule: str) -> None:
    bars = make_bars()
    bad = Bars(**{**bars.__dict__, "timestamps": np.array(stamps, dtype="datetime64[s]")})
    with pytest.raises(DataValidationError) as caught:
        validate_bars(bad)
    assert (caught.value.details["row"], caught.value.details["rule"]) == (2, rule)


def test_validate_bars_reports_the_first_bad_row() -> None:
    bars = make_bars(low=[9, -1, 12])  # row 1 and row 2 are both bad
    with pytest.raises(DataValidationError) as caught:
        validate_bars(bars)
    assert caught.value.details["row"] == 1
    validate_bars(make_bars())  # and good bars pass


# --- CSV import -----------------------------------------------------------------------------


def test_import_then_load_round_trips_exactly(market: MarketData, tmp_path: Path) -> None:
    info = market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "abc", "1d")
    assert info == SeriesInfo(
        symbol="ABC",
        timeframe="1d",
        bars=3,
        first="2024-01-02T00:00:00",
        last="2024-01-04T00:00:00",
        source="imported",
    )
    assert stored_files(market) == ["ABC_1d.csv"]
    bars = market.load("abc")
    np.testing.assert_array_equal(bars.close, [10.5, 11.5, 11])
    np.testing.assert_array_equal(bars.volume, [1000, 1200, 900])
    # A fresh service over the same folder sees the same series.
    again = MarketData(market.data_dir).load("ABC", "1d")
    for name in ("timestamps", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(again, name), getattr(bars, name))


def test_imports_are_listed_with_the_bundled_series(market: MarketData, tmp_path: Path) -> None:
    market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "ZZZ", "1h")
    market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "AAA", "1d")
    listed = [(s.symbol, s.timeframe, s.source) for s in market.list_series()]
    assert listed == [
        ("AAA", "1d", "imported"),
        ("NASDAQ", "1d", "bundled"),
        ("SP500", "1d", "bundled"),
        ("ZZZ", "1h", "imported"),
    ]


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        (["2024-01-02", "2024-01-03"], ["2024-01-02T00:00", "2024-01-03T00:00"]),
        (["1/2/2024", "12/31/2024"], ["2024-01-02T00:00", "2024-12-31T00:00"]),
        (["2024-01-02 09:30", "2024-01-02 09:45:30"], ["2024-01-02T09:30", "2024-01-02T09:45:30"]),
        (["2024-01-02T09:30:00", "2024-01-02T10:30Z"], ["2024-01-02T09:30", "2024-01-02T10:30"]),
        (["2024-01-02T09:30+02:00", "2024-01-02T09:30"], ["2024-01-02T07:30", "2024-01-02T09:30"]),
    ],
)  # fmt: skip
def test_accepted_date_formats(
    market: MarketData, tmp_path: Path, stamps: list[str], expected: list[str]
) -> None:
    rows = "".join(f"{stamp},10,11,9,10,1\n" for stamp in stamps)
    market.import_csv(write(tmp_path, HEADER + rows), "FMT", "15m")
    got = market.load("FMT", "15m").timestamps
    np.testing.assert_array_equal(got, np.array(expected, dtype="datetime64[s]"))


def test_flexible_headers_optional_volume_and_extra_columns(
    market: MarketData, tmp_path: Path
) -> None:
    text = (
        "\ufeffSymbol, TIMESTAMP ,Close,Low,High,Open,Adj Close\n"  # BOM, any order, any case
        "X,2024-01-02,10.5,9,11,10,10.4\n"
        "X,2024-01-03,11,10,12,10.5,10.9\n"
        "\n"
    )
    market.import_csv(write(tmp_path, text), "FLEX", "1d")
    bars = market.load("FLEX")
    np.testing.assert_array_equal(bars.open, [10, 10.5])
    np.testing.assert_array_equal(bars.close, [10.5, 11])  # not the "Adj Close" column
    np.testing.assert_array_equal(bars.volume, [0, 0])


def test_date_range_on_intraday_imports_covers_whole_days(
    market: MarketData, tmp_path: Path
) -> None:
    rows = "".join(f"2024-01-0{d} {h}:00,10,11,9,10,1\n" for d in (2, 3, 4) for h in (10, 15))
    market.import_csv(write(tmp_path, HEADER + rows), "INTRA", "5h")
    day = market.load("intra", "5h", start=date(2024, 1, 3), end=date(2024, 1, 3))
    assert (day.first_timestamp, day.last_timestamp) == (
        "2024-01-03T10:00:00",
        "2024-01-03T15:00:00",
    )
    upto = market.load("intra", "5h", end=datetime(2024, 1, 3, 10, 0))
    assert upto.last_timestamp == "2024-01-03T10:00:00"


BAD_FILES = [
    pytest.param("", 1, "empty_file", "file is empty", id="empty file"),
    pytest.param(HEADER, 2, "empty_file", "no data rows", id="header only"),
    pytest.param(
        "Date,Open,High,Close\n2024-01-02,1,2,1\n", 1, "missing_column", "'low'", id="no low"
    ),
    pytest.param("Open,High,Low,Close\n1,2,1,1\n", 1, "missing_column", "date", id="no date"),
    pytest.param(
        HEADER + GOOD_ROWS + "2024-01-05,11,12,abc,11,5\n", 5, "bad_number", "low 'abc'",
        id="unparseable number",
    ),
    pytest.param(
        HEADER + "2024-01-02,10,11,9,10,\n", 2, "bad_number", "volume ''", id="empty volume"
    ),
    pytest.param(
        HEADER + "2024-01-02,10,11,9,10,1\n2024-01-03,10,11,9\n", 3, "missing_value",
        "expected at least 6 columns, found 4", id="short row",
    ),
    pytest.param(
        HEADER + GOOD_ROWS + "05.01.2024,11,12,10,11,5\n", 5, "bad_date", "'05.01.2024'",
        id="unknown date format",
    ),
    pytest.param(
        HEADER + "2024-02-30,11,12,10,11,5\n", 2, "bad_date", "2024-02-30", id="impossible date"
    ),
    pytest.param(
        HEADER + GOOD_ROWS + "2024-01-05,11,12,10,nan,5\n", 5, "finite_prices", "finite",
        id="nan price",
    ),
    pytest.param(
        HEADER + "2024-01-02,10,11,9,10,1\n2024-01-03,-1,11,-2,10,1\n", 3, "positive_prices",
        "positive", id="negative price",
    ),
    pytest.param(
        HEADER + GOOD_ROWS + "2024-01-05,11,11.5,10,12,5\n", 5, "high_covers_open_close",
        "high must be >= max(open, close)", id="high below close",
    ),
    pytest.param(
        HEADER + "2024-01-02,10,11,10.5,10.75,1\n", 2, "low_covers_open_close",
        "low must be <= min(open, close)", id="low above open",
    ),
    pytest.param(
        HEADER + GOOD_ROWS + "2024-01-05,11,12,10,11,-5\n", 5, "non_negative_volume",
        "volume must be >= 0", id="negative volume",
    ),
    pytest.param(
        HEADER + GOOD_ROWS + "2024-01-04,11,12,10,11,5\n", 5, "unique_timestamps",
        "repeats the previous", id="duplicate timestamp",
    ),
    pytest.param(
        HEADER + GOOD_ROWS + "2024-01-01,11,12,10,11,5\n", 5, "sorted_timestamps",
        "ascending", id="out of order",
    ),
    pytest.param(
        HEADER + '2024-01-02,10,11,9,10,1\n"2024-01-03,10,11,9,10,1\n', 3, "bad_csv",
        "malformed CSV", id="unclosed quote",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "rule", "reason"), BAD_FILES)
def test_bad_files_are_rejected_with_line_number_and_reason(
    market: MarketData, tmp_path: Path, text: str, line: int, rule: str, reason: str
) -> None:
    path = write(tmp_path, text, "bad.csv")
    with pytest.raises(DataValidationError) as caught:
        market.import_csv(path, "BAD", "1d")
    error = caught.value
    assert error.message.startswith(f"bad.csv line {line}: ")
    assert reason in error.message
    assert (error.details["line"], error.details["rule"]) == (line, rule)
    assert stored_files(market) == []  # nothing half-imported


def test_non_utf8_file_names_the_line(market: MarketData, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "2024-01-02,10,11,9,10,1\n").encode() + b"\xff\xfe,1\n")
    with pytest.raises(DataValidationError, match="latin.csv line 3: not UTF-8"):
        market.import_csv(path, "LAT", "1d")


def test_bad_reimport_keeps_the_previous_good_import(market: MarketData, tmp_path: Path) -> None:
    market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "KEEP", "1d")
    before = (market.market_dir / "KEEP_1d.csv").read_bytes()
    bad = write(tmp_path, HEADER + GOOD_ROWS + "2024-01-05,11,12,10,oops,5\n", "bad.csv")
    with pytest.raises(DataValidationError, match="line 5"):
        market.import_csv(bad, "keep", "1d")
    assert stored_files(market) == ["KEEP_1d.csv"]  # no temp file left behind
    assert (market.market_dir / "KEEP_1d.csv").read_bytes() == before
    np.testing.assert_array_equal(MarketData(market.data_dir).load("KEEP").close, [10.5, 11.5, 11])


def test_reimport_replaces_the_series(market: MarketData, tmp_path: Path) -> None:
    market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "REP", "1d")
    assert len(market.load("REP")) == 3
    market.import_csv(write(tmp_path, HEADER + "2025-06-02,20,21,19,20.5,7\n"), "rep", "1d")
    bars = market.load("REP")
    assert (len(bars), bars.first_timestamp, float(bars.close[0])) == (
        1,
        "2025-06-02T00:00:00",
        20.5,
    )
    assert stored_files(market) == ["REP_1d.csv"]


def test_failed_write_leaves_no_temp_file(market: MarketData, tmp_path: Path) -> None:
    # A directory where the series file should go makes the final rename fail for real.
    blocker = market.market_dir / "BLOCK_1d.csv"
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("x")
    with pytest.raises(OSError):
        market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "BLOCK", "1d")
    assert stored_files(market) == ["BLOCK_1d.csv"]


@pytest.mark.parametrize("timeframe", ["1D", "day", "1", "1y", "m5", "1d "])
def test_timeframe_must_be_count_and_unit(
    market: MarketData, tmp_path: Path, timeframe: str
) -> None:
    with pytest.raises(InvalidRequestError, match="invalid timeframe"):
        market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "OK", timeframe)


@pytest.mark.parametrize("symbol", ["", "A" * 21, "has space", "a/b", "ü"])
def test_symbol_pattern(market: MarketData, tmp_path: Path, symbol: str) -> None:
    with pytest.raises(InvalidRequestError, match="invalid symbol"):
        market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), symbol, "1d")


def test_symbols_with_dots_dashes_and_underscores(market: MarketData, tmp_path: Path) -> None:
    market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "brk.b_x-1", "4h")
    assert market.load("BRK.B_X-1", "4h").symbol == "BRK.B_X-1"


def test_bundled_symbols_cannot_be_overwritten(market: MarketData, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="SP500 is a bundled series"):
        market.import_csv(write(tmp_path, HEADER + GOOD_ROWS), "sp500", "1d")
    assert stored_files(market) == []


def test_missing_file_is_not_found(market: MarketData, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        market.import_csv(tmp_path / "nope.csv", "NOPE", "1d")
