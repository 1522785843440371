"""`nb2prod --help` lists serve and bundle without importing the serving stack."""

from __future__ import annotations

import os
import subprocess
import sys


def test_help_imports_nothing_of_the_serving_stack() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom nb2prod.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert 'serve' in r.output and 'bundle' in r.output, r.output\n"
        "heavy = {'fastapi', 'starlette', 'uvicorn', 'pydantic', 'prometheus_client', 'httpx', 'orjson',"
        " 'nb2prod.serve', 'nb2prod.serve.app', 'nb2prod.train.store'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
