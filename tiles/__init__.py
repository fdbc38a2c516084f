"""The tile pipeline: vector (MVT) and raster tiles of the published map.

Modules, from pure to I/O: :mod:`tiles.options` (build options), :mod:`tiles.points`
(columnar point set in Morton order), :mod:`tiles.thinning` (per-point zoom decisions),
:mod:`tiles.mvt` (encoder), :mod:`tiles.pyramid` (tiles of a plan, on every core),
:mod:`tiles.archive` (MBTiles, PMTiles, TileJSON), :mod:`tiles.raster` (density and
base layer), :mod:`tiles.source` (reading PostGIS), :mod:`tiles.build` (full and
incremental builds), :mod:`tiles.filtered` (tiles of a filtered subset, on request).
The offline basemap: :mod:`tiles.basemap_rules` (cartographic
rules), :mod:`tiles.basemap_sources` (the city's open-data files), :mod:`tiles.basemap`
(tiles and archives). Imports only :mod:`geo`.
"""
