"""How many real Paris address lines does the geocoder place? (``geo.geocode``)

Run: ``.venv/bin/python bench/geocode_real_addresses.py [--shared /work/shared/data/paris]
[--before OLD_GEOCODE_PY]``

Reads every address line of the city's own datasets (``data/cities/paris``: the RNA
associations of the 12th, green spaces, shared gardens, "du vert près de chez moi",
fountains, toilets, markets, cool places, libraries, Wi-Fi sites; with ``--shared``, the
full "Que faire à Paris" 18th export too) as each dataset writes it, with its postcode,
and geocodes it against the BAN file of ``data/cities/paris/adresses-75.csv.gz``.
Prints, per dataset, the match qualities (``exact``, ``street``, ``none``) and, for
datasets that carry their own point, how many exact matches land over 250 m from it.
``--before FILE``: a copy of an older ``geo/geocode.py`` (``git show REV:geo/geocode.py
> FILE``) run on the same lines, with the lines whose result changed.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import math
import sys
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.city import load_city  # noqa: E402
from ingestion.mapping import rna_street_line  # noqa: E402

Line = tuple[str, str, str, tuple[float, float] | None]


def _features(path: Path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(doc, dict) and "features" in doc:
        for f in doc["features"]:
            g = f.get("geometry") or {}
            c = g.get("coordinates") if g.get("type") == "Point" else None
            yield f.get("properties") or {}, ((c[0], c[1]) if c else None)
    else:
        for r in doc:
            r = r.get("fields", r)
            gp = r.get("geo_point_2d")
            pt = ((gp[1], gp[0]) if isinstance(gp, list) else
                  (gp["lon"], gp["lat"]) if isinstance(gp, dict) else None)
            yield r, pt


def _postcode(value: Any) -> str:
    v = str(value or "").strip().removesuffix(".0")
    return v if len(v) == 5 and v.isdigit() else ""


def _csv(text: str) -> csv.DictReader:
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    return csv.DictReader(io.StringIO(text),
                          delimiter=";" if first.count(";") > first.count(",") else ",")


def _point(value: Any) -> tuple[float, float] | None:
    try:
        lat, lon = (float(x) for x in str(value or "").split(","))
    except ValueError:
        return None
    return lon, lat


def _street(r: dict[str, Any]) -> str:
    keys = ("Adresse - Numéro", "Adresse - Complément", "Adresse - type voie",
            "Adresse - Libellé voie")
    return " ".join(" ".join(str(r.get(k) or "") for k in keys).split())


def lines(city: Path, shared: Path | None) -> list[Line]:
    """(dataset, line, postcode, its own point) of every row that writes an address."""
    csv.field_size_limit(1 << 28)
    out: list[Line] = []
    for r in _csv((city / "associations_paris12.csv").read_text(encoding="utf-8")):
        out.append(("associations (RNA, 12e)",
                    rna_street_line(r["adr2"].strip() or r["adr1"].strip()),
                    r.get("adrs_codepostal", "").strip(), None))
    for name, file, address, code in (
            ("îlots de fraîcheur", "services/ilots-de-fraicheur-equipements-activites.json",
             "adresse", "arrondissement"),
            ("sanisettes", "sanisettesparis.geojson", "adresse", "arrondissement"),
            ("du vert près de chez moi", "du-vert-pres-de-chez-moi.geojson", "adresse",
             "arrondisse"),
            ("bibliothèques", "services/bibliotheques_ccfr_paris.geojson", "nomrue",
             "codepostal")):
        for r, pt in _features(city / file):
            out.append((name, r.get(address) or "", _postcode(r.get(code)), pt))
    for r, pt in _features(city / "fontaines-a-boire.json"):
        number = r.get("no_voirie_pair") or r.get("no_voirie_impair") or ""
        out.append(("fontaines", f"{number} {r.get('voie') or ''}".strip(), "", pt))
    for r, pt in _features(city / "jardins_partages_from_espaces_verts.geojson"):
        out.append(("jardins partagés", _street(r), _postcode(r.get("Code postal")), pt))
    with zipfile.ZipFile(city / "espaces_verts.csv.zip") as z:
        text = z.read(z.namelist()[0]).decode("utf-8")
    for r in _csv(text):
        out.append(("espaces verts", _street(r), _postcode(r.get("Code postal")),
                    _point(r.get("Geo point"))))
    for r in _csv((city / "marches-decouverts.csv").read_text(encoding="utf-8")):
        out.append(("marchés", r.get("Localisation") or "", _postcode(r.get("Arrondissement")),
                    _point(r.get("geo_point_2d"))))
    wifi = city / "services/sites-disposant-du-service-paris-wi-fi.csv"
    for r in _csv(wifi.read_text(encoding="utf-8")):
        out.append(("sites wi-fi", r.get("Adresse") or "", _postcode(r.get("Code postal")),
                    _point(r.get("geo_point_2d"))))
    if shared is not None:
        for r, pt in _features(shared / "services/que-faire-a-paris_75018_events.geojson"):
            out.append(("que faire (18e)", r.get("address_street") or "",
                        _postcode(r.get("address_zipcode")), pt))
    return [row for row in out if row[1].strip()]


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * math.cos(math.radians(48.86)) * 111_320,
                      (a[1] - b[1]) * 110_540)


def _module(path: Path | None) -> Any:
    if path is None:
        import geo.geocode as module
        return module
    spec = importlib.util.spec_from_file_location("geocode_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(module: Any, rows: list[Line], label: str) -> list[Any]:
    city = load_city("paris", check_files=False)
    index = module.load_index(module.address_file(city))
    by: dict[str, Counter[str]] = defaultdict(Counter)
    results = []
    for name, line, postcode, point in rows:
        m = index.geocode(line, postcode, locality="Paris")
        results.append(m)
        by[name][m.quality] += 1
        if point is not None and m.quality == "exact":
            by[name]["exact_with_point"] += 1
            by[name]["far"] += _metres((m.lon, m.lat), point) > 250
    total: Counter[str] = Counter()
    for name, c in sorted(by.items()):
        total.update(c)
        print(json.dumps({"geocoder": label, "dataset": name, **c}, ensure_ascii=False))
    print(json.dumps({"geocoder": label, "dataset": "ALL", "lines": len(rows), **total},
                     ensure_ascii=False))
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--before", type=Path, default=None)
    args = ap.parse_args()
    rows = lines(load_city("paris", check_files=False).folder, args.shared)
    after = measure(_module(None), rows, "now")
    if args.before is not None:
        before = measure(_module(args.before), rows, "before")
        moved = Counter((b.quality, a.quality) for b, a in zip(before, after, strict=True)
                        if (b.quality, b.lon, b.lat) != (a.quality, a.lon, a.lat))
        print(json.dumps({"changed (before -> now)": {f"{k[0]}->{k[1]}": v
                                                     for k, v in moved.items()}}))


if __name__ == "__main__":
    main()
