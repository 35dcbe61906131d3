"""网格化管理：网格（Organization kind="grid"）里的住户、网格员的走访、失联党员排查。

- `rules`: pure rules (addresses, modes, quotas, progress, the ladder's months);
- `households`: `Household`, `Visit` and the queries behind /走访, /我的网格, /网格统计;
- `ladder`: `ContactLadder`, `LadderEvent`: the lost-contact ladder.
"""
