"""Open-data files: every published feature as GeoJSON, CSV, GeoPackage and FlatGeobuf.

Placeholder while the writers are built; holds the licence shared by every output.
"""

from __future__ import annotations

__all__ = ["ATTRIBUTION", "LICENCE_NAME", "LICENCE_URL"]

LICENCE_NAME = "ODbL-1.0"
LICENCE_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
ATTRIBUTION = ("© les contributeurs de Carte citoyenne, sous licence ODbL 1.0 ; les objets "
               "importés de partenaires gardent l'attribution de leur source (champ "
               "« attribution »).")
