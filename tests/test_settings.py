"""Settings: defaults, then the TOML file, then TETHER_* environment variables."""

from pathlib import Path

from tether.settings import Settings


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
