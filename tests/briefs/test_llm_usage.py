"""What an LLM run spent, as ``status`` and ``/metrics`` show it, from a real brief run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from aggregator.app import App
from aggregator.cli.main import main
from aggregator.config import load
from aggregator.metrics import render_metrics
from aggregator.service import Pipeline
from aggregator.store.llm_usage import last_llm_run
from tests.briefs.test_llm_queue import REPLY, _store
from tests.support.llmserver import LLMServer, completion


def test_a_brief_run_reports_its_calls_and_tokens_in_status_and_metrics(tmp_path: Path) -> None:
    with LLMServer() as server:
        body = json.loads(completion(REPLY))
        body["usage"] = {"total_tokens": 900}
        for _ in range(5):
            server.reply(200, json.dumps(body).encode())
        path = tmp_path / "config.toml"
        path.write_text(
            "[briefs.llm]\nenabled = true\n"
            f'base_url = "{server.base_url}"\nmodel = "tiny"\n'
            "max_tokens_per_run = 4000\n"
        )
        app = App(load(path))
        try:
            _store(app.db, 5, [1, 2, 3], "alpha")
            Pipeline(app).brief()
            usage = last_llm_run(app.db)
            metrics = render_metrics(app.db)[0].decode()
        finally:
            app.close()
        assert (
            len(server.requests) == 2
        )  # a third would not fit: 1,800 spent, a call reserves its prompt and 1,500 for the reply
    assert usage is not None
    assert (usage["calls"], usage["tokens"], usage["by_source"]) == (2, 1800, {"alpha": 1800})
    assert "aggregator_llm_last_run_tokens 1800.0" in metrics
    assert 'aggregator_llm_last_run_source_tokens{source="alpha"} 1800.0' in metrics
    assert "aggregator_llm_token_budget 4000.0" in metrics
    result = CliRunner().invoke(main, ["--config", str(path), "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["llm_last_run"]["tokens"] == 1800
    text = CliRunner().invoke(main, ["--config", str(path), "status"]).output
    assert "2 of 50 calls, 1800 tokens (4000 run budget, no source budget)" in text
    assert "alpha: 1800 tokens" in text
