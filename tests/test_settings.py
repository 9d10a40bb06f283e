"""Settings: defaults, then the TOML file, then TETHER_* environment variables; every section on
the one ``Settings``; unknown keys reported at start-up (a warning each, an error when strict)."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tether.errors import ConfigError
from tether.settings import ApiSettings, GroundConfig, GuardSettings, Settings, load_settings

TETHER = str(Path(sys.executable).with_name("tether"))


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write the config file (TETHER_CONFIG); no other TETHER_* variable is set."""
    for name in list(os.environ):
        if name.upper().startswith("TETHER_"):
            monkeypatch.delenv(name)
    path = tmp_path / "tether.toml"
    monkeypatch.setenv("TETHER_CONFIG", str(path))

    def write(text: str) -> Path:
        path.write_text(text, encoding="utf-8")
        return path

    return write


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tether.settings" and r.levelno == logging.WARNING]


def test_toml_then_env_precedence(tmp_path: Path, monkeypatch):
    toml = tmp_path / "tether.toml"
    toml.write_text('data_dir = "/srv/tether"\n[retrieve]\nk1 = 1.5\ntop_k = 7\n[chunk]\nmax_tokens = 150\n')
    monkeypatch.setenv("TETHER_CONFIG", str(toml))
    monkeypatch.setenv("TETHER_RETRIEVE__TOP_K", "12")
    s = Settings()
    assert s.data_dir == Path("/srv/tether")
    assert s.retrieve.k1 == 1.5          # from the file
    assert s.retrieve.top_k == 12        # env beats the file
    assert s.chunk.max_tokens == 150
    assert s.retrieve.b == 0.75          # default


def test_defaults_without_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TETHER_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    s = Settings()
    assert s.database_url == "" and s.embed.kind == "onnx" and s.generate.default_model == "extractive"
    assert s.guard.context_action == "quarantine"


def test_every_section_is_on_the_one_settings(config):
    config("")
    s = load_settings()
    assert isinstance(s.ground, GroundConfig) and isinstance(s.guard, GuardSettings) and isinstance(s.api, ApiSettings)
    assert s.api.rate_limit_per_minute == 600 and s.api.run_worker is True and not s.strict


def test_api_limits_from_toml_and_env(config, monkeypatch):
    config("[api]\nmax_question_chars = 100\nrate_limit_per_minute = 5\nrun_worker = false\n")
    monkeypatch.setenv("TETHER_API__RATE_LIMIT_PER_MINUTE", "7")
    s = load_settings()
    assert s.api.max_question_chars == 100          # the file
    assert s.api.rate_limit_per_minute == 7         # env beats the file
    assert s.api.run_worker is False
    assert s.api.max_search_k == 100                # default


def test_unknown_toml_keys_at_every_level(config, caplog):
    path = config(
        "strictt = false\n"                          # top level, a misspelling
        "top_k = 3\n"                                # top level, belongs to a section
        "[retrieve]\ntop_kk = 3\nk1 = 1.1\n"          # a section
        "[api]\nrate_limit_per_minut = 5\n"
        "[generate.models.slow]\nkind = \"openai\"\nmodle = \"m\"\n"   # a dict of sections
        "[[generate.router.rules]]\nmodel = \"cheap\"\n"              # an array of tables
        "[generate.router.rules.when]\nmax_confidnce = 0.3\n"
        "[guard.policies.public]\nblok = true\n"
        "[observe.otlp_headers]\nx-anything = \"free-form\"\n"        # free-form: never unknown
    )
    with caplog.at_level(logging.WARNING, logger="tether.settings"):
        s = load_settings()
    assert s.retrieve.k1 == 1.1 and s.retrieve.top_k == 10   # the valid keys apply, the unknown do not
    got = warnings_of(caplog)
    expected = [
        "strictt; did you mean strict?",
        "top_k; did you mean retrieve.top_k?",
        "retrieve.top_kk; did you mean retrieve.top_k?",
        "api.rate_limit_per_minut; did you mean api.rate_limit_per_minute?",
        "generate.models.slow.modle; did you mean generate.models.slow.model?",
        "generate.router.rules[0].when.max_confidnce; did you mean generate.router.rules[0].when.max_confidence?",
        "guard.policies.public.blok; did you mean guard.policies.public.block?",
    ]
    assert len(got) == len(expected), got
    for message, tail in zip(got, expected):
        key, hint = tail.split(";", 1)
        assert message == f"ignored unknown setting {key} in {path};{hint}"


def test_unknown_env_vars_nested_and_top_level(config, monkeypatch, caplog):
    config('[embed]\napi_key_env = "MY_EMBED_KEY"\n[generate.models.llm]\napi_key_env = "TETHER_LLM_KEY"\n')
    bad = {
        "TETHER_RETRIEVE__TOP_KK": "3",              # nested field
        "TETHER_RETREIVE__TOP_K": "3",               # misspelt section
        "TETHER_DATABSE_URL": "x",                   # top level
        "TETHER_API_RATE_LIMIT_PER_MINUTE": "5",     # one underscore where two are needed
        "TETHER_GENERATE__MODELS__LLM__BASEURL": "x",  # inside a dict of sections
        "TETHER_DATA_DIR__X": "1",                   # a value has no parts
    }
    good = {
        "TETHER_RETRIEVE__TOP_K": "4",
        "TETHER_STRICT": "0",
        "TETHER_GENERATE__MODELS__LLM__BASE_URL": "http://127.0.0.1:1/v1",
        "TETHER_GUARD__POLICIES__PUBLIC__BLOCK": "true",
        "TETHER_TEST_DATABASE_URL": "x", "TETHER_UPDATE_GOLDEN": "1",   # used by the test suite
        "TETHER_LLM_KEY": "secret", "TETHER_EMBED_API_KEY": "s",        # named by *_env settings
    }
    for name, value in {**bad, **good}.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="tether.settings"):
        s = load_settings()
    assert s.retrieve.top_k == 4 and s.generate.models["llm"].base_url == "http://127.0.0.1:1/v1"
    assert s.guard.policies["public"].block is True
    got = {m.split()[4].rstrip(";"): m for m in warnings_of(caplog)}
    assert set(got) == set(bad), got
    assert got["TETHER_RETRIEVE__TOP_KK"].endswith("did you mean TETHER_RETRIEVE__TOP_K?")
    assert got["TETHER_RETREIVE__TOP_K"].endswith("did you mean TETHER_RETRIEVE__TOP_K?")
    assert got["TETHER_DATABSE_URL"].endswith("did you mean TETHER_DATABASE_URL?")
    assert got["TETHER_API_RATE_LIMIT_PER_MINUTE"].endswith("did you mean TETHER_API__RATE_LIMIT_PER_MINUTE?")
    assert got["TETHER_GENERATE__MODELS__LLM__BASEURL"].endswith("did you mean TETHER_GENERATE__MODELS__LLM__BASE_URL?")
    assert got["TETHER_DATA_DIR__X"] == "ignored unknown environment variable TETHER_DATA_DIR__X"


def test_strict_mode_makes_unknown_keys_an_error(config, monkeypatch):
    config("[retrieve]\ntop_kk = 3\n")
    monkeypatch.setenv("TETHER_STRICT", "1")
    with pytest.raises(ConfigError, match=r"retrieve\.top_kk .*did you mean retrieve\.top_k\?") as exc:
        load_settings()
    assert exc.value.details["unknown"] == ["retrieve.top_kk"]
    monkeypatch.delenv("TETHER_STRICT")
    config("strict = true\n[retrieve]\ntop_k = 3\n")
    monkeypatch.setenv("TETHER_RETRIEVE__TOPK", "3")
    with pytest.raises(ConfigError, match="TETHER_RETRIEVE__TOPK; did you mean TETHER_RETRIEVE__TOP_K"):
        load_settings()
    monkeypatch.delenv("TETHER_RETRIEVE__TOPK")
    assert load_settings().retrieve.top_k == 3      # strict and clean: fine


def test_bad_files_and_values_are_config_errors(config, monkeypatch):
    config("[retrieve\ntop_k = 3\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings()
    config("[retrieve]\ntop_k = \"many\"\n")
    with pytest.raises(ConfigError, match="invalid settings"):
        load_settings()


def test_cli_commands_report_unknown_keys(tmp_path):
    """A real `tether` process: the warning on stderr, stdout still one JSON document; strict: exit 2."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TETHER_")}
    env.update(TETHER_CONFIG=str(tmp_path / "tether.toml"), TETHER_DATA_DIR=str(tmp_path / "data"),
               TETHER_RETRIEVE__TOP_KK="3", HF_HUB_OFFLINE="1")
    (tmp_path / "tether.toml").write_text("[ground]\nsupport_treshold = 0.5\n", encoding="utf-8")
    r = subprocess.run([TETHER, "db", "status", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["running"] is False
    assert "TETHER_RETRIEVE__TOP_KK; did you mean TETHER_RETRIEVE__TOP_K?" in r.stderr, r.stderr
    assert "ground.support_treshold" in r.stderr and "did you mean ground.support_threshold?" in r.stderr
    r = subprocess.run([TETHER, "db", "status", "--json"], env={**env, "TETHER_STRICT": "1"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    error = json.loads(r.stdout)["error"]
    assert error["code"] == "config" and "did you mean TETHER_RETRIEVE__TOP_K?" in error["message"]
