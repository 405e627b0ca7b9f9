"""Hostile command-line values for every subcommand: NaN, inf, negatives, huge numbers, empty
strings, folders, missing and unreadable files, unwritable outputs. Never a traceback: the
command works (exit 0) or says in one line what is wrong with which option (exit 2).

In-process (``jamd.cli.main``) for speed. Each command starts from arguments that fail early
after parsing (an empty data folder, a broken config) or finish in a moment (a 2-bar
``generate``), so no example trains a model or starts the daemon; the hostile values replace
one or two of its options or positionals."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import pytest
from _corpus_fixtures import rock_beat, to_track, write_midi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jamd.base.paths import MODELS_DIR
from jamd.cli import build_parser, main

#: command path -> the arguments it starts from ({name}: a file or folder of the fixture)
BASE: dict[tuple[str, ...], list[str]] = {
    ("run",): ["--config", "{bad_config}"],
    ("data",): ["--data", "{empty}"],
    ("check",): ["--config", "{good_config}"],
    ("train", "drums"): ["--data", "{empty}", "--out", "{out}/drums"],
    ("train", "bass"): ["--data", "{empty}", "--out", "{out}/bass"],
    ("train", "style"): ["--data", "{empty}"],
    ("train", "distill"): [
        "--teacher",
        str(MODELS_DIR / "drums-v7"),
        "--data",
        "{empty}",
        "--out",
        "{out}/d",
    ],
    ("encode",): ["{good}"],
    ("generate",): ["-o", "{out}/g.mid"],
    ("interpolate",): ["{good}", "{good}", "--bars", "2", "-o", "{out}/i.mid"],
    ("similar",): ["{good}", "--library", "{library}"],
    ("classify",): ["{good}"],
    ("map",): ["--no-scatter", "--cells", "1", "-o", "{out}/m.png"],
    ("learn",): ["--port", "no-such-controller", "--api", "jack", "-o", "{out}/l.yaml"],
    ("eval", "drums"): ["--data", "{empty}"],
    ("eval", "bass"): [str(MODELS_DIR / "bass"), "--data", "{empty}"],
    ("render",): ["{good}", "-o", "{out}/r.wav"],
    ("eval", "tempo"): ["--data", "{empty}"],
    ("ports",): [],
    ("doctor",): ["--config", "{good_config}"],
    # bench: flags only, nothing to feed a value to (and its shortest run takes 5 s)
}
#: exit codes that are a command's answer, not a failure (doctor: a check failed on this box)
ANSWERS = {("doctor",): {1}}
HOSTILE = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "-1e9",
    "1e9",
    "99999999999999999999",
    "1e400",
    "",
    " ",
    "x",
    "{folder}",
    "{missing}",
    "{unreadable}",
    "{not_midi}",
    "/proc/jamd-cannot-write.mid",
]


def command_parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[path] = parser
        for sub in subs:
            for name, p in sub.choices.items():
                walk(p, (*path, name))

    walk(build_parser(), ())
    return found


PARSERS = command_parsers()


def value_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options and positionals that take a value (not flags, not --help)."""
    return [a for a in parser._actions if a.nargs != 0 and not isinstance(a, argparse._SubParsersAction)]


def test_every_command_has_a_start():
    assert set(PARSERS) - set(BASE) == {("bench",)}
    assert not [a for a in PARSERS[("bench",)]._actions if a.nargs != 0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("values")
    good = write_midi(d / "good.mid", [to_track(rock_beat(4, 480), bpm=100)])
    (d / "library").mkdir()
    write_midi(d / "library" / "loop.mid", [to_track(rock_beat(2, 480), bpm=100)])
    (d / "empty").mkdir()
    (d / "folder").mkdir()
    (d / "folder" / "notes.txt").write_text("not MIDI")
    (d / "out").mkdir()
    (d / "not_midi.mid").write_bytes(bytes(range(256)))
    unreadable = d / "unreadable.mid"
    unreadable.write_bytes(good.read_bytes()[:30])
    unreadable.chmod(0)
    (d / "bad.yaml").write_text("clock: [\n")
    (d / "good.yaml").write_text("osc: {enabled: false}\n")
    return {
        "good": str(good),
        "library": str(d / "library"),
        "empty": str(d / "empty"),
        "folder": str(d / "folder"),
        "out": str(d / "out"),
        "missing": str(d / "missing" / "file.mid"),
        "unreadable": str(unreadable),
        "not_midi": str(d / "not_midi.mid"),
        "bad_config": str(d / "bad.yaml"),
        "good_config": str(d / "good.yaml"),
    }


@pytest.fixture(scope="module")
def cwd(tmp_path_factory):
    """An empty working folder: "" and "x" name things here, never in the checkout."""
    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(old)


@pytest.fixture
def quiet_env(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"jamd-no-server-{os.getpid()}")  # learn finds no port
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def argv_for(command: tuple[str, ...], hostile: dict[argparse.Action, list[str]]) -> list[str]:
    """The command's start with the hostile values in place of the chosen options/positionals."""
    base = BASE[command]
    parser = PARSERS[command]
    positionals = [a for a in value_actions(parser) if not a.option_strings]
    options: dict[str, list[str]] = {}
    given: list[list[str]] = []
    i = 0
    while i < len(base):  # split the start into positionals and option -> values
        word = base[i]
        action = next((a for a in parser._actions if word in a.option_strings), None)
        if action is None:
            given.append([word])
            i += 1
        elif action.nargs == 0:
            options[word] = []
            i += 1
        else:
            options[word] = [base[i + 1]]
            i += 2
    for action, values in hostile.items():
        if action.option_strings:
            for opt in action.option_strings:
                options.pop(opt, None)
            options[action.option_strings[-1]] = values
        else:
            k = positionals.index(action)
            while len(given) <= k:
                given.append([])
            given[k] = values
    argv = [*command, *(w for g in given for w in g)]
    for opt, values in options.items():
        argv += [opt, *values] if values else [opt]
    return argv


def values_for(action: argparse.Action, draw) -> list[str]:
    if isinstance(action.nargs, int):
        n = action.nargs
    elif action.nargs in ("+", "*"):
        n = draw(st.integers(1, 2))
    else:
        n = 1
    return [draw(st.sampled_from(HOSTILE)) for _ in range(n)]


def run_main(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse: usage errors
        code = e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # the traceback a user would see
        raise AssertionError(f"jamd {' '.join(map(repr, argv))} raised {type(e).__name__}: {e}") from e
    return code, capsys.readouterr().err


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_values_never_end_in_a_traceback(files, cwd, quiet_env, capsys, data):
    command = data.draw(st.sampled_from(sorted(BASE)), label="command")
    actions = value_actions(PARSERS[command])
    chosen = data.draw(
        st.lists(st.sampled_from(actions), min_size=1, max_size=2, unique=True), label="options"
    )
    argv = [w.format(**files) for w in argv_for(command, {a: values_for(a, data.draw) for a in chosen})]
    code, err = run_main(argv, capsys)
    assert "Traceback" not in err, (argv, err)
    assert code in {0, 2} | ANSWERS.get(command, set()), (argv, code, err)
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, (argv, err)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["generate", "--xy", "1e9", "nan", "-o", "x.mid"], ["argument --xy", "-1..1", "'1e9'"]),
        (["generate", "-o", "{folder}"], ["argument -o/--out", "is a folder"]),
        (["generate", "-o", "/proc/jamd.mid"], ["argument -o/--out", "cannot write /proc/jamd.mid"]),
        (["generate", "--bpm", "inf", "-o", "x.mid"], ["argument --bpm", "20..400"]),
        (["interpolate", "{good}", "{good}", "--bars", "1e9", "-o", "x.mid"], ["argument --bars"]),
        (["similar", "{good}", "--library", "{missing}"], ["argument --library", "no such folder"]),
        (["train", "drums", "--out", "{folder}", "--data", "{empty}"], ["argument --out", "is a folder"]),
        (["train", "bass", "--lr", "nan", "--out", "m"], ["argument --lr"]),
        (
            ["train", "drums", "--augment", "swap,pitch", "--out", "m"],
            ["argument --augment", "unknown augmentation"],
        ),
        (["run", "--bars", "-1", "--config", "{bad_config}"], ["argument --bars", "at least 0"]),
        (["encode", "{missing}"], ["argument file", "no such MIDI file"]),
    ],
)
def test_the_newcomers_bad_values_are_one_line_naming_the_option(files, cwd, quiet_env, capsys, argv, words):
    code, err = run_main([w.format(**files) for w in argv], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)
    assert not Path("x.mid").exists()
