"""Generate a district of scale S (models/district) into a database: `python -m bench.district`."""

from models.district.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
