"""Song collections: every reader returns all the pieces a file holds, named ``file#index title``.

Real data: the first tunes of James Aird's "Selection of Scotch, English, Irish and Foreign Airs",
book 1 (music21's corpus, ``airdsAirs/book1.abc``, 200 tunes), and a Bach chorale.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tunesmith.errors import NotesError
from tunesmith.notes import load_notes, load_pieces, split_abc_book

N_TUNES = 6


def _aird_text(first: int, n: int) -> str:
    """Tunes ``first`` .. ``first + n - 1`` (from 1) of Aird's book 1, with the book's header."""
    import music21

    path = Path(str(music21.corpus.getWork("airdsAirs/book1.abc")))
    text = path.read_text(encoding="latin-1")
    tunes = text.split("\nX:")
    return tunes[0] + "".join("\nX:" + t for t in tunes[first:first + n])


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """A real ABC book of six tunes plus one tune without notes."""
    path = tmp_path_factory.mktemp("books") / "aird.abc"
    path.write_text(_aird_text(1, N_TUNES) + "\nX:99\nT:Nothing here\nM:4/4\nK:G\n", encoding="utf-8")
    return path


def test_split_abc_book_keeps_titles_and_the_file_header():
    text = "% comment\nL:1/8\nT:Book title\n\nX:1\nT:First\nK:G\nGABc|\n\nX:2\nK:D\ndefg|\n"
    tunes = split_abc_book(text)
    assert [t for t, _ in tunes] == ["First", ""]
    assert all(body.startswith("L:1/8\n") and "Book title" not in body for _, body in tunes)
    assert tunes[1][1].endswith("X:2\nK:D\ndefg|\n")
    assert split_abc_book("K:C\nCDEF|") == [("", "K:C\nCDEF|")]


def test_an_abc_book_gives_every_tune_named_and_the_empty_one_skipped(book):
    pieces = load_pieces(book, workers=1)
    assert len(pieces) == N_TUNES
    assert pieces.sequences[0].name == "aird#1 The Ranting Highlandman."
    assert pieces.sequences[1].name == "aird#2 Quick Step. 25th Regt."
    assert all(len(s) >= 16 for s in pieces.sequences)
    assert len({tuple(n.pitch for n in s) for s in pieces.sequences}) == N_TUNES   # six different tunes
    assert pieces.skipped == {"aird#7 Nothing here": "no notes"}
    line = pieces.report()
    assert "6 pieces, 1 skipped" in line and "aird#7 Nothing here: no notes" in line


def test_the_process_pool_gives_the_same_pieces(book, monkeypatch):
    import tunesmith.notes as notes

    monkeypatch.setattr(notes, "ABC_POOL_MIN_TUNES", 2)
    pooled = load_pieces(book, workers=2)
    serial = load_pieces(book, workers=1)
    assert [s.name for s in pooled.sequences] == [s.name for s in serial.sequences]
    assert [s.notes for s in pooled.sequences] == [s.notes for s in serial.sequences]


def test_load_notes_reads_one_piece_and_says_the_file_holds_more(book, caplog):
    with caplog.at_level(logging.INFO, logger="tunesmith.notes"):
        first = load_notes(book)
    assert first.name == "aird#1 The Ranting Highlandman." and "holds 7 tunes" in caplog.text
    third = load_notes(book, piece=3)
    assert third.name.startswith("aird#3 ") and third.notes == load_pieces(book, workers=1).sequences[2].notes
    with pytest.raises(NotesError, match="piece 9 does not exist"):
        load_notes(book, piece=9)


def test_single_piece_files_keep_their_plain_name(tmp_path, melody):
    from tunesmith.notes import note_sequence_to_midi

    note_sequence_to_midi(melody, tmp_path / "tune.mid")
    pieces = load_pieces(tmp_path / "tune.mid")
    assert len(pieces) == 1 and pieces.sequences[0].name == "tune" and not pieces.skipped


def test_a_book_with_no_readable_tune_is_one_error(tmp_path):
    bad = tmp_path / "empty_book.abc"
    bad.write_text("X:1\nT:a\nK:G\n\nX:2\nT:b\nK:D\n", encoding="utf-8")
    with pytest.raises(NotesError, match="empty_book.abc: none of its 2 pieces could be read"):
        load_pieces(bad)


def test_a_folder_of_abc_books_trains_the_composer_on_every_tune(tmp_path):
    from tunesmith.compose.data import ComposerDataModule

    songs = tmp_path / "books"
    songs.mkdir()
    (songs / "aird_a.abc").write_text(_aird_text(1, 5), encoding="utf-8")
    (songs / "aird_b.abc").write_text(_aird_text(6, 4), encoding="utf-8")
    dm = ComposerDataModule(songs, valid_fraction=0.5, cache_dir=str(tmp_path / "cache"), workers=1, seq_len=64,
                            batch_size=4)
    dm.setup("fit")
    names = sorted(m.name for m in dm.train_melodies + dm.valid_melodies)
    assert len(names) == 9, names                          # 5 + 4 tunes, not 2 songs
    assert names[0] == "aird_a#1 The Ranting Highlandman."
    assert {Path(f).name: r["pieces"] for f, r in dm.report.items()} == {"aird_a.abc": 5, "aird_b.abc": 4}
    batch = next(iter(dm.train_dataloader()))
    assert batch["pitch"].shape[0] == min(4, len(dm.train_melodies))


def test_train_composer_on_a_folder_of_books_reports_the_pieces_of_each_file(tmp_path):
    import csv

    from tunesmith.compose.train import load_config, train_composer

    songs = tmp_path / "books"
    songs.mkdir()
    (songs / "aird_a.abc").write_text(_aird_text(1, 3) + "\nX:9\nT:Nothing here\nK:G\n", encoding="utf-8")
    (songs / "aird_b.abc").write_text(_aird_text(4, 2), encoding="utf-8")
    (songs / "broken.abc").write_text("X:1\nT:x\nK:G\n", encoding="utf-8")
    cfg = load_config(None, ["trainer.fast_dev_run=true", "trainer.accelerator=cpu", "data.workers=1",
                             f"data.cache_dir={tmp_path / 'cache'}", "trainer.enable_progress_bar=false",
                             "data.valid_fraction=0.4"])
    train_composer(songs, out_dir=tmp_path / "run", cfg=cfg)
    rows = {Path(r["file"]).name: r for r in csv.DictReader(open(tmp_path / "run" / "songs.csv"))}
    assert rows["aird_a.abc"]["pieces"] == "3" and rows["aird_a.abc"]["reasons"] == "aird_a#4 Nothing here: no notes"
    assert rows["aird_b.abc"]["pieces"] == "2" and rows["aird_b.abc"]["skipped"] == "0"
    assert rows["broken.abc"]["pieces"] == "0" and rows["broken.abc"]["reasons"] == "no notes"


def test_a_tie_across_a_barline_is_one_note_as_music21_striptiess_gives():
    """Essen altdeu10 #28 ("Zwei Koenigskinder"): ``=F6- | F2`` is one F natural of four beats."""
    import music21

    seq = load_notes(Path(str(music21.corpus.getWork("essenFolksong/altdeu10.abc"))), piece=28)
    assert seq.name == "altdeu10#28 Zwei Koenigskinder"
    long_f = [n for n in seq.notes if n.onset_beats == 19.0]
    assert len(long_f) == 1 and long_f[0].pitch == 65 and long_f[0].duration_beats == 4.0
    assert not [n for n in seq.notes if n.onset_beats == 22.0]   # no separate tied-over F#


def test_score_gives_one_row_per_tune_of_a_book(book):
    from tunesmith import models
    from tunesmith.compose.model import load_composer
    from tunesmith.compose.score import score_files

    composer = load_composer(models.shipped_path("composer"))
    rows, overall, failed = score_files(composer, [book], quiet=True)
    assert [Path(r["name"]).name for r in rows][:2] == ["aird#1 The Ranting Highlandman.", "aird#2 Quick Step. 25th Regt."]
    assert len(rows) == N_TUNES and overall["melodies"] == N_TUNES
    assert failed == {str(book.parent / "aird#7 Nothing here"): "no notes"}
    assert all(0 < r["bits_per_note"] < 8 for r in rows)


def test_a_humdrum_opus_gives_both_pieces_named_file_index_title(tmp_path):
    """A kern file holding two pieces (music21 reads it as an Opus) gives both, in order, each named."""
    path = tmp_path / "two.krn"
    path.write_text("!!!OTL: First tune\n**kern\n*M4/4\n=1\n4c\n4d\n4e\n4f\n=\n*-\n"
                    "!!!OTL: Second tune\n**kern\n*M4/4\n=1\n4g\n4a\n4b\n4cc\n=\n*-\n")
    pieces = load_pieces(path)
    assert [s.name for s in pieces.sequences] == ["two#1 First tune", "two#2 Second tune"]
    assert [[n.pitch for n in s.notes] for s in pieces.sequences] == [[60, 62, 64, 65], [67, 69, 71, 72]]
    assert not pieces.skipped


def test_a_music21_opus_written_as_musicxml_reads_back_as_both_scores(tmp_path):
    """MusicXML has no opus container: music21 writes a two-score Opus as one file per score, and each reads
    back as its piece with its title."""
    from music21 import metadata, note, stream

    opus = stream.Opus()
    for title, names in (("First tune", "C4 D4 E4"), ("Second tune", "G4 A4 B4")):
        score, part = stream.Score(), stream.Part()
        score.metadata = metadata.Metadata(title=title)
        for name in names.split():
            part.append(note.Note(name, quarterLength=1))
        score.insert(0, part)
        opus.append(score)
    opus.write("musicxml", fp=str(tmp_path / "opus.musicxml"))
    files = sorted(tmp_path.glob("opus-*.musicxml"))
    assert [f.name for f in files] == ["opus-1.musicxml", "opus-2.musicxml"]
    pieces = [load_pieces(f) for f in files]
    assert [[n.pitch for n in p.sequences[0].notes] for p in pieces] == [[60, 62, 64], [67, 69, 71]]
    assert [len(p.sequences) for p in pieces] == [1, 1]


def test_score_on_only_bad_files_prints_one_line_and_no_empty_table(tmp_path, capsys):
    from tunesmith.cli import main

    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd junk")
    assert main(["score", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == ""                                       # no table header without rows
    assert "broken.mid" in err
