"""Generate a district of scale S into a database (see bot/district): `python -m bench.district`."""

from bot.district.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
