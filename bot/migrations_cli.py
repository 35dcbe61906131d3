"""开发者用：模型改动后生成迁移文件（tortoise 自带的 makemigrations）。"""

from __future__ import annotations

import sys

from tortoise.cli.cli import main as tortoise_main

from bot.db import tortoise_config

# tortoise's CLI reads the config from a module attribute.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    argv = ["-c", "bot.migrations_cli.TORTOISE_ORM", "makemigrations"]
    if name:
        argv += ["--name", name]
    sys.argv = ["tortoise", *argv]
    tortoise_main()


if __name__ == "__main__":
    main()
