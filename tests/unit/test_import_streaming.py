"""Imports under load (issue 21, item 13), in the data layer: the streamed parse reads any CSV
exactly as the whole-text parse did, an import's parse adds about its file's size in
memory, the cache of loaded series stays within its bound, and listing reads no series."""

from __future__ import annotations

import csv
import io
import os
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktrdr.data.bars import Bars
from ktrdr.data.csv_series import (
    _PRICE_COLUMNS,
    _RULES,
    _block_violation,
    _column_positions,
    _first_violation,
    _parse_row,
    bad_file,
    parse_chunks,
)
from ktrdr.data.market import MarketData, SeriesInfo
from ktrdr.data.text_pieces import file_chunks, text_chunks
from ktrdr.errors import DataValidationError

# --- the reference: the whole-text parse every import used before streaming ---------------


def _reference_rows(text: str, source: str) -> tuple[dict[str, list[float]], list[int], list[int]]:
    """Every row's numbers by column, its time and its file line, parsed from the whole text
    at once (the csv module reading a StringIO, as before)."""
    reader = csv.reader(io.StringIO(text), strict=True)
    numbers: dict[str, list[float]] = {}
    seconds: list[int] = []
    lines: list[int] = []
    try:
        # One difference from before, on purpose: a malformed header was an uncaught
        # csv.Error (a 500); it is now a bad_csv refusal like any other malformed line.
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise bad_file(source, 1, "the file is empty (expected a header line)", "empty_file")
        positions = _column_positions(header, source)
        names = [name for name in (*_PRICE_COLUMNS, "volume") if name in positions]
        numbers = {name: [] for name in names}
        for row in reader:
            if any(cell.strip() for cell in row):
                stamp, values = _parse_row(row, reader.line_num, source, positions, names)
                for name, value in zip(names, values, strict=True):
                    numbers[name].append(value)
                seconds.append(stamp)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise bad_file(source, reader.line_num, f"malformed CSV ({exc})", "bad_csv") from None
    if not lines:
        raise bad_file(source, 2, "no data rows after the header", "empty_file")
    return numbers, seconds, lines


def _broken_rule(bars: Bars, row: int) -> int | None:
    """The first rule (index into ``_RULES``) row ``row`` breaks, checked one row at a time."""
    o, h, lo, c, v = (
        float(a[row]) for a in (bars.open, bars.high, bars.low, bars.close, bars.volume)
    )
    stamp = bars.timestamps[row]
    previous = bars.timestamps[row - 1] if row else None
    broken = [
        not all(np.isfinite([o, h, lo, c])),
        min(o, h, lo, c) <= 0,
        h < max(o, c),
        lo > min(o, c),
        not np.isfinite(v),
        v < 0,
        bool(np.isnat(stamp)),
        previous is not None and stamp == previous,
        previous is not None and stamp < previous,
    ]
    return broken.index(True) if True in broken else None


def reference_parse(text: str, source: str, symbol: str, timeframe: str) -> Bars:
    numbers, seconds, lines = _reference_rows(text, source)
    count = len(lines)

    def column(name: str) -> np.ndarray:
        return np.asarray(numbers.get(name, [0.0] * count), dtype=np.float64)

    bars = Bars(
        symbol,
        timeframe,
        np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"),
        *(column(name) for name in ("open", "high", "low", "close", "volume")),
    )
    for row in range(count):
        rule = _broken_rule(bars, row)
        if rule is not None:
            name, explanation = _RULES[rule]
            values = ", ".join(
                f"{label}={array[row]!r}"
                for label, array in zip(
                    ("open", "high", "low", "close", "volume"),
                    (bars.open, bars.high, bars.low, bars.close, bars.volume),
                    strict=True,
                )
            )
            stamp = str(bars.timestamps[row])
            error = bad_file(source, lines[row], f"{stamp}: {explanation} [{values}]", name)
            error.details.update(row=row, timestamp=stamp)
            raise error
    return bars


# --- generated CSV files ---------------------------------------------------------------------

DATE_STYLES = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "us")
# Mostly good rows: a file is refused for its first bad row, so faults must stay rare for
# good files to be common.
FAULTS = (None,) * 150 + ("nan", "negative", "word", "empty", "swap", "short", "inf")
STEPS = (timedelta(days=1),) * 80 + (timedelta(hours=1), timedelta(0), timedelta(days=-1))


def _stamp(moment: datetime, style: str) -> str:
    return f"{moment.month}/{moment.day}/{moment.year}" if style == "us" else moment.strftime(style)


@st.composite
def csv_rows(draw: st.DrawFn, columns: list[str], style: str) -> list[str]:
    moment = datetime(2020, 1, 1, 9, 30)
    rows = []
    for _ in range(draw(st.integers(0, 30))):
        moment += draw(st.sampled_from(STEPS))
        o, c = draw(st.floats(1, 1e4)), round(draw(st.floats(1, 1e4)), 2)
        cells = {
            "open": repr(o),
            "close": f"{c:.2f}",
            "high": repr(max(o, c) + draw(st.floats(0, 10))),
            "low": repr(min(o, c) * draw(st.floats(0.5, 1))),
            "volume": str(draw(st.integers(0, 10**9))),
            "note": draw(st.sampled_from(["", "x", '"a,b"', '"two\nlines"', '" "'])),
            "date": _stamp(moment, style),
        }
        fault = draw(st.sampled_from(FAULTS))
        target = draw(st.sampled_from(["open", "high", "low", "close", "volume", "date"]))
        if fault == "swap":
            cells["high"], cells["low"] = cells["low"], cells["high"]
        elif fault is not None and fault != "short":
            bad = {"nan": "nan", "negative": "-3", "word": "abc", "empty": "", "inf": "inf"}
            cells[target] = bad[fault]
        ordered = [cells["date" if c.strip().lower() in ("timestamp", "datetime") else c]
                   for c in (name.strip().lower() for name in columns)]  # fmt: skip
        rows.append(",".join(ordered[: len(ordered) // 2] if fault == "short" else ordered))
        if draw(st.integers(0, 9)) == 0:
            rows.append(draw(st.sampled_from(["", ",,,", "  "])))
    return rows


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    """OHLCV files as people write them: columns in any order and case, several date styles,
    optional volume, an extra quoted column (commas, newlines), blank lines, CRLF, and now and
    then a bad value, a swapped high/low, a repeated or earlier time, a short row or a stray
    quote or carriage return."""
    date_name = draw(st.sampled_from(["date", "Timestamp", " DATETIME "]))
    columns = [date_name, "open", "High", "low", "close"]
    columns += draw(st.sampled_from([[], ["volume"], ["volume", "note"], ["note"]]))
    columns = draw(st.permutations(columns))
    rows = draw(csv_rows(columns, draw(st.sampled_from(DATE_STYLES))))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join([",".join(columns), *rows]) + draw(st.sampled_from([ending, ""]))
    if text and draw(st.integers(0, 30)) == 0:
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(['"', "\r", ",", "\n"])) + text[at:]
    return text


def _outcome(parse: object) -> tuple[object, ...]:
    """What a parse gave, comparable exactly: every column's dtype and bytes, or the error's
    message and details."""
    assert callable(parse)
    try:
        bars = parse()
    except DataValidationError as exc:
        return ("refused", exc.message, exc.details)
    assert isinstance(bars, Bars)
    columns = (bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume)
    return (
        "parsed",
        bars.symbol,
        bars.timeframe,
        *((a.dtype.str, a.tobytes()) for a in columns),
    )


@given(text=csv_files(), chunk=st.integers(1, 80), block=st.integers(1, 9))
def test_a_streamed_parse_gives_exactly_the_whole_text_parse(
    text: str, chunk: int, block: int
) -> None:
    """Item 13 (stream the parse): any CSV, cut into chunks of any size and gathered in
    blocks of any number of rows, parses to the same bars, or is refused with the same
    message and details, as the whole-text parse."""
    expected = _outcome(lambda: reference_parse(text, "f.csv", "SYM", "1h"))
    pieces = text_chunks(text, chunk)
    got = _outcome(lambda: parse_chunks(pieces, "f.csv", "SYM", "1h", block_rows=block))
    assert got == expected


@given(
    rows=st.lists(
        st.tuples(st.integers(-2, 3), st.sampled_from([1.0, 2.0, -1.0, float("nan")])),
        min_size=1,
        max_size=40,
    ),
    block=st.integers(1, 9),
)
def test_checking_a_block_at_a_time_finds_the_same_first_broken_row(
    rows: list[tuple[int, float]], block: int
) -> None:
    """Item 13 (stream the parse): the rules checked a block at a time name the same first
    broken row, rule and values as one check over the whole series."""
    seconds = np.cumsum([step for step, _ in rows]).astype("datetime64[s]")
    price = np.array([value for _, value in rows])
    bars = Bars("S", "1d", seconds, price, price + 1, price - 0.5, price, price)
    assert _first_violation(bars, block_rows=block) == _block_violation(bars)


def test_generated_files_exercise_both_outcomes() -> None:
    """Item 13 (stream the parse): the generator above makes good files and bad ones alike, so
    the comparison covers both."""
    seen: set[str] = set()

    @given(text=csv_files())
    def collect(text: str) -> None:
        seen.add(str(_outcome(lambda: reference_parse(text, "f.csv", "S", "1d"))[0]))

    collect()
    assert seen == {"parsed", "refused"}


# --- memory ----------------------------------------------------------------------------------


def minute_bars(count: int) -> str:
    """A realistic intraday file: long float text, one row a minute."""
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, count)))
    start = np.datetime64("2021-01-04T00:00:00")
    lines = ["timestamp,open,high,low,close,volume"]
    for i, close in enumerate(closes.tolist()):
        stamp = str(start + np.timedelta64(60 * i, "s"))
        lines.append(f"{stamp},{close!r},{close * 1.001!r},{close * 0.999!r},{close!r},{i}")
    return "\n".join(lines) + "\n"


def test_an_import_adds_about_its_file_size_in_memory(tmp_path: Path) -> None:
    """Item 13 (peak memory at most 3x the file): importing a CSV text (already in memory)
    adds at most its size again, the stored bars included: the body and the text are the
    other two of the three."""
    text = minute_bars(40_000)
    market = MarketData(tmp_path)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        info = market.import_text(text, "big.csv", "BIG", "1m")
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert info.bars == 40_000
    assert peak <= len(text), f"peak {peak / len(text):.2f}x the {len(text):,}-byte text"


# --- the cache and the listing ---------------------------------------------------------------


def daily_bars(days: int, first: str = "2010-01-04") -> str:
    start = np.datetime64(first)
    rows = [f"{start + np.timedelta64(i, 'D')},{10 + i % 7},{12 + i % 7},9,{11 + i % 7},{i}"
            for i in range(days)]  # fmt: skip
    return "date,open,high,low,close,volume\n" + "\n".join(rows) + "\n"


def test_the_cache_of_loaded_series_stays_within_its_bound(tmp_path: Path) -> None:
    """Item 13 (a bounded cache): loading more series than fit keeps the most recently used
    within the byte bound and drops the least recently used, which loads again equal."""
    one_series = 1_000 * 6 * 8  # 1000 bars: a timestamp and five float columns, 8 bytes each
    market = MarketData(tmp_path, cache_bytes=int(2.5 * one_series))
    for name in ("AAA", "BBB", "CCC", "DDD"):
        MarketData(tmp_path).import_text(daily_bars(1_000), "s.csv", name, "1d")
    first = market.load("AAA")
    assert market.load("AAA") is first  # cached
    held = {}
    for name in ("BBB", "CCC", "AAA", "DDD"):
        held[name] = market.load(name)
        assert market.cached_bytes <= int(2.5 * one_series)
    assert market.load("DDD") is held["DDD"] and market.load("AAA") is held["AAA"]
    again = market.load("BBB")  # the least recently used: dropped, read again
    assert again is not held["BBB"]
    np.testing.assert_array_equal(again.close, held["BBB"].close)
    assert market.cached_bytes <= int(2.5 * one_series)


def _garble_keeping_stat(path: Path) -> None:
    """Overwrite a stored series with garbage of the same size and times, so that reading it
    would fail: a listing that still answers read no series."""
    before = path.stat()
    path.write_bytes(b"\x00" * before.st_size)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_listing_reads_no_series(tmp_path: Path) -> None:
    """Item 13 (a listing that reads no series): a fresh backend lists imported series from
    what their import recorded, without reading the series themselves."""
    importer = MarketData(tmp_path)
    expected = [
        importer.import_text(daily_bars(days, first), "s.csv", name, "1d")
        for name, days, first in (("AAA", 30, "2011-02-03"), ("BBB", 500, "2001-05-06"))
    ]
    for info in expected:
        _garble_keeping_stat(importer.market_dir / f"{info.symbol}_1d.csv")
    fresh = MarketData(tmp_path)
    listed = [s for s in fresh.list_series() if s.source == "imported"]
    assert listed == expected
    assert fresh.series_info("BBB", "1d") == expected[1]
    assert fresh.cached_bytes == 0


def test_a_series_written_behind_the_listings_back_is_read_once(tmp_path: Path) -> None:
    """Item 13 (the listing's index): a series file with no record (copied in by hand, or
    stored before the index existed) or a stale one is read once, then listed from its record."""
    market_dir = MarketData(tmp_path).market_dir
    market_dir.mkdir(parents=True)
    (market_dir / "HAND_1d.csv").write_text(daily_bars(20), encoding="utf-8")
    first = [s for s in MarketData(tmp_path).list_series() if s.symbol == "HAND"]
    assert first == [SeriesInfo(symbol="HAND", timeframe="1d", bars=20, first="2010-01-04T00:00:00",
                                last="2010-01-23T00:00:00", source="imported")]  # fmt: skip
    _garble_keeping_stat(market_dir / "HAND_1d.csv")
    assert [s for s in MarketData(tmp_path).list_series() if s.symbol == "HAND"] == first
    (market_dir / "HAND_1d.csv").write_text(daily_bars(5), encoding="utf-8")  # a new size
    again = [s for s in MarketData(tmp_path).list_series() if s.symbol == "HAND"]
    assert [s.bars for s in again] == [5]


def test_a_file_import_streams_from_disk_like_a_text_import(tmp_path: Path) -> None:
    """Item 13 (stream the parse): importing a file reads it in pieces and stores what a text
    import of the same content stores, a byte-order mark and all."""
    text = daily_bars(3_000)
    path = tmp_path / "in.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    market = MarketData(tmp_path / "data")
    from_file = market.import_csv(path, "FILE", "1d")
    from_text = market.import_text("\ufeff" + text, "in.csv", "TEXT", "1d")
    assert from_file.model_copy(update={"symbol": "TEXT"}) == from_text
    stored = market.market_dir
    assert (stored / "FILE_1d.csv").read_bytes() == (stored / "TEXT_1d.csv").read_bytes()


@pytest.mark.parametrize("back", [1, 2, 3])
def test_bad_utf8_is_named_by_line_wherever_a_read_ends(tmp_path: Path, back: int) -> None:
    """Item 13 (stream the parse): a byte that is not UTF-8 is reported on its own line even
    when a read ends inside a multi-byte character on an earlier line."""
    head = daily_bars(2).encode() + "2010-01-06,1,1,1,1,\u00e9\n".encode()
    path = tmp_path / "bad.csv"
    path.write_bytes(head + b"2010-01-07,\xff,1,1,1,1\n")
    with path.open("rb") as raw, pytest.raises(DataValidationError) as caught:
        parse_chunks(file_chunks(raw, "bad.csv", len(head) - back), "bad.csv", "B", "1d")
    assert caught.value.message == "bad.csv line 5: not UTF-8 text"
    assert caught.value.details["rule"] == "bad_encoding"
